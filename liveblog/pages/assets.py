"""Where the ``web/`` directory (templates, JS, CSS) lives.

A wheel ships it inside the package as ``liveblog/web`` (pyproject force-include); a source
checkout or editable install has it at the repository root. Everything that serves pages reads
these paths from here, so the lookup is written once.
"""

from __future__ import annotations

from pathlib import Path

import liveblog


def _find_web_dir() -> Path:
    packaged = Path(liveblog.__file__).resolve().parent / "web"
    if packaged.is_dir():
        return packaged
    # liveblog/pages/assets.py -> parents[2] is the repository root.
    return Path(__file__).resolve().parents[2] / "web"


WEB_DIR: Path = _find_web_dir()
TEMPLATES_DIR: Path = WEB_DIR / "templates"
STATIC_DIR: Path = WEB_DIR / "static"
