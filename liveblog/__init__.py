"""liveblog: a real-time live-blog push server."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
