"""Where the ``web/`` directory (templates, JS, CSS) and the newsroom's guide live.

A wheel ships them inside the package as ``liveblog/web`` and ``liveblog/docs`` (pyproject
force-include); a source checkout or editable install has them at the repository root.
Everything that serves pages reads these paths from here, so the lookup is written once.
"""

from __future__ import annotations

from pathlib import Path

import liveblog


def _find(name: str) -> Path:
    packaged = Path(liveblog.__file__).resolve().parent / name
    if packaged.is_dir():
        return packaged
    # liveblog/pages/assets.py -> parents[2] is the repository root.
    return Path(__file__).resolve().parents[2] / name


WEB_DIR: Path = _find("web")
DOCS_DIR: Path = _find("docs")  # newsroom.md and its pictures (screenshots/guide)
TEMPLATES_DIR: Path = WEB_DIR / "templates"
STATIC_DIR: Path = WEB_DIR / "static"
