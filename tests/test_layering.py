"""The house rules of docs/design.md, checked over every import: each package's docstring says
what it may import (one line, ``May import: engine, editorial, models.``), the top-level modules
say it in ``MODULES`` below, and an import of liveblog outside them fails here. No two parts
import each other, however indirectly. A test, so a change that breaks a rule fails."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import liveblog

ROOT = Path(liveblog.__file__).parent
EVERYTHING = "*"
# The top-level modules, by what they may import: the assembly on top may import anything.
MODULES: dict[str, set[str]] = {
    "config": set(),
    "models": set(),
    "supervisor": set(),
    "events": {"models"},
    "problems": {"engine"},  # what an engine error means to a client
    "routes": {"api", "streams", "pages", "ops", "models"},
    "app": {EVERYTHING},
    "cli": {EVERYTHING},
    "cli_record": {EVERYTHING},
    "__main__": {"cli"},
}
HTTP = {"starlette", "uvicorn", "httptools", "websockets"}
# Parts that know no HTTP at all (third-party packages: the docstrings name liveblog's only).
NO_HTTP = ("engine", "editorial", "media")
_MAY_IMPORT = re.compile(r"^May import: ([^.]*)\.", re.MULTILINE)


def parts() -> list[str]:
    """Every package and top-level module of liveblog (``liveblog/__init__.py`` aside)."""
    packages = [p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()]
    modules = [p.stem for p in ROOT.glob("*.py") if p.name != "__init__.py"]
    return sorted(packages + modules)


def may_import(doc: str) -> set[str]:
    """The parts a docstring's ``May import: a, b, c.`` line names (``nothing``: none)."""
    found = _MAY_IMPORT.search(doc)
    if found is None:
        raise ValueError("no line 'May import: a, b, c.'")
    names = {name.strip() for name in found.group(1).replace("\n", " ").split(",")}
    return set() if names == {"nothing"} else names


def rules() -> dict[str, set[str]]:
    found = dict(MODULES)
    for part in parts():
        init = ROOT / part / "__init__.py"
        if init.exists():
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            found[part] = may_import(doc)
    return found


def files_of(part: str) -> list[Path]:
    package = ROOT / part
    return sorted(package.rglob("*.py")) if package.is_dir() else [ROOT / f"{part}.py"]


def imports_in(source: str) -> Iterator[str]:
    """Every module an absolute import names, ``from liveblog import x`` as ``liveblog.x``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "liveblog":
                yield from (f"liveblog.{alias.name}" for alias in node.names)
            else:
                yield node.module


def part_of(module: str, known: set[str]) -> str | None:
    """``liveblog.engine.redis`` -> ``engine``; None for a third-party module and for the
    ``liveblog`` package itself (its version)."""
    names = module.split(".")
    if names[0] != "liveblog" or len(names) == 1 or names[1] not in known:
        return None
    return names[1]


def broken(part: str, source: str, allowed: set[str], known: set[str]) -> list[str]:
    """The imports of ``source`` (a file of ``part``) outside what ``part`` may import."""
    found = []
    for module in imports_in(source):
        other = part_of(module, known)
        if other not in {None, part} and other not in allowed and EVERYTHING not in allowed:
            found.append(module)
    return found


def graph() -> dict[str, set[str]]:
    """Which parts each part imports."""
    known = set(parts())
    edges: dict[str, set[str]] = {part: set() for part in known}
    for part in known:
        for path in files_of(part):
            for module in imports_in(path.read_text()):
                other = part_of(module, known)
                if other is not None and other != part:
                    edges[part].add(other)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The parts that import each other, directly or not (strongly connected, more than one)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str, graph: dict[str, set[str]], out: list[str]) -> None:
        stack = [(node, iter(sorted(graph[node])))]
        seen.add(node)
        while stack:
            current, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                out.append(current)
            elif child not in seen:
                seen.add(child)
                stack.append((child, iter(sorted(graph[child]))))

    for node in sorted(edges):
        if node not in seen:
            visit(node, edges, order)
    reverse: dict[str, set[str]] = {node: set() for node in edges}
    for node, targets in edges.items():
        for target in targets:
            reverse[target].add(node)
    seen.clear()
    found = []
    for node in reversed(order):
        if node not in seen:
            component: list[str] = []
            visit(node, reverse, component)
            if len(component) > 1:
                found.append(sorted(component))
    return found


def test_every_part_says_what_it_may_import() -> None:
    found = rules()
    known = set(parts())
    assert set(found) == known, "a part with no rule: a 'May import:' line, or MODULES"
    for part, allowed in found.items():
        assert allowed - {EVERYTHING} <= known, f"{part} names a part that does not exist"


def test_each_part_imports_only_what_it_may() -> None:
    found, known = rules(), set(parts())
    outside = [
        f"{path.relative_to(ROOT.parent)} imports {module}"
        for part, allowed in found.items()
        for path in files_of(part)
        for module in broken(part, path.read_text(), allowed, known)
    ]
    assert outside == []


def test_no_parts_import_each_other() -> None:
    assert cycles(graph()) == []


def test_storage_and_the_rules_know_no_http() -> None:
    outside = [
        f"{path.relative_to(ROOT.parent)} imports {module}"
        for part in NO_HTTP
        for path in files_of(part)
        for module in imports_in(path.read_text())
        if module.split(".")[0] in HTTP
    ]
    assert outside == []


def test_the_rules_see_a_violation() -> None:
    """The checker itself: an engine module importing the hub is caught, and so is a package
    cycle; a docstring without its line is refused."""
    source = "from liveblog.delivery.hub import Hub\nfrom liveblog import models, __version__\n"
    engine = may_import('"""Storage.\n\nMay import: models, events, config.\n"""')
    assert engine == {"models", "events", "config"}
    assert broken("engine", source, engine, set(parts())) == ["liveblog.delivery.hub"]
    assert broken("app", source, {EVERYTHING}, set(parts())) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert may_import("Nothing here.\nMay import: nothing.") == set()
    with pytest.raises(ValueError):
        may_import("May import anything below it")


def test_the_hub_needs_no_uvicorn() -> None:
    """The fan-out needs the framing of the wire, not the server that hands it sockets."""
    code = "import sys, liveblog.delivery.hub; print('uvicorn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
