"""The house rules of docs/design.md, checked over the package's imports: storage knows no
readers, transports or HTTP; fan-out knows no editor API or pages; transports know no editor
API; the editorial rules know no HTTP or sockets. A test, so a change that breaks one fails."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import liveblog

ROOT = Path(liveblog.__file__).parent
HTTP = {"starlette", "uvicorn", "httptools", "websockets"}
# part -> what it must never import (parts of liveblog, or third-party packages)
FORBIDDEN: dict[str, set[str]] = {
    "engine": {"delivery", "streams", "api", "pages", "media", "serving", "ops", "editorial"}
    | HTTP,
    "delivery": {"api", "pages", "streams", "editorial", "media"},
    "editorial": {"api", "pages", "streams", "delivery", "media", "serving"} | HTTP,
    "streams": {"api", "pages", "editorial", "media"},
}


def _part(module: str) -> str:
    """``liveblog.engine.redis`` -> ``engine``; a top-level module is its own part."""
    parts = module.split(".")
    return parts[1] if parts[0] == "liveblog" and len(parts) > 1 else parts[0]


def imports_in(source: str) -> set[str]:
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "liveblog":  # from liveblog import events, routes
                found.update(f"liveblog.{alias.name}" for alias in node.names)
    return found


def test_each_part_imports_only_what_it_may() -> None:
    broken = []
    for part, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / part).rglob("*.py")):
            for module in imports_in(path.read_text()):
                if _part(module) in forbidden:
                    broken.append(f"{path.relative_to(ROOT.parent)} imports {module}")
    assert broken == []


def test_the_rules_see_a_violation() -> None:
    """The checker itself: an engine module importing the hub would be caught."""
    source = "from liveblog.delivery.hub import Hub\nimport starlette.requests\n"
    modules = {_part(m) for m in imports_in(source)}
    assert modules & FORBIDDEN["engine"] == {"delivery", "starlette"}


def test_every_part_says_what_it_owns_and_may_import() -> None:
    for package in sorted(p for p in ROOT.iterdir() if (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert doc, f"{package.name} has no docstring"
        if package.name != "i18n":
            assert "import" in doc, f"{package.name} does not say what it may import"


def test_the_hub_needs_no_uvicorn() -> None:
    """The fan-out needs the framing of the wire, not the server that hands it sockets."""
    code = "import sys, liveblog.delivery.hub; print('uvicorn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
