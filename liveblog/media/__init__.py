"""Uploaded photos, below HTTP: their sizes made (``images``) within the host's slots
(``slots``, ``upload``), stored on disk or in a bucket (``storage``), and an entry's own
uploads' sizes filled in (``known``). Their endpoints are the API's (``liveblog.api.media``)
and the pages' (``liveblog.pages.media_files``, ``/media/``).

May import: models, config.
"""
