"""Rich entries: uploaded photos (``images``, ``storage``, ``upload``, ``serve``; ``known``
fills in an entry's own uploads' sizes) and posts or videos of other sites behind a reader's
click (``embeds``).

May import: ``models``, ``problems``, ``config``, ``engine``, ``api`` (auth and responses for the
upload endpoint). Never streams or the hub.
"""
