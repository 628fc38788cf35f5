"""Server-rendered pages: the reader's (``reader``, ``entry``, ``feed``, ``embed``, ``oembed``)
and the newsroom's.

Their routes are in ``liveblog/routes.py``. Shared helpers other page modules reuse:
``assets`` (where ``web/`` is), ``templating`` (the Jinja environment, module preloads),
``security`` (headers); ``static`` answers ``/static/`` from the table ``static_files`` holds
(each file, its versions from ``versions`` and its forms compressed once, scripts and
stylesheets minified first by ``minify``); ``media_files`` answers ``/media/`` from the disk.

May import: models, config, problems, engine, editorial, media, i18n, serving.
Never streams (pages link to streams; they never hold one), the API or the hub.
"""
