"""Server-rendered pages: the reader's (``reader``, ``entry``, ``feed``, ``embed``, ``oembed``)
and the newsroom's.

Their routes are in ``liveblog/routes.py``. Shared helpers other page modules reuse:
``assets`` (where ``web/`` is), ``templating`` (the Jinja environment, module preloads),
``security`` (headers); ``static`` serves ``/static/`` compressed once per file and coding.
May import anything but ``streams`` (pages link to streams; they never hold one).
"""
