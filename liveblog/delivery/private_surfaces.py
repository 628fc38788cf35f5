"""Every surface below another package's public API that liveblog relies on, in one table,
checked at start-up by ``liveblog serve`` (``liveblog.serving``) and by the test suite.

A ``Surface`` names the distribution, the attribute (``module:Class.attribute``), the names its
code must set or read (for a method whose attributes a subclass here reads or replaces), and why.
Its ``feature`` is what liveblog loses without it, and start-up decides what that means:

- ``REQUEST_LIMITS`` (``guard``: 431 for an oversized request head, 408 for a slow one, the pace
  of bodies): ``liveblog serve`` refuses to start; a server without them is open to slowloris.
- ``FAST_PATH`` (``fastpath``): the streams take the plain ASGI path, still with the limits.
- ``CLUSTER`` (``engine.cluster``): ``liveblog serve`` refuses to start on a Redis Cluster.

The versions each package was tested on are its bounds in pyproject.toml, read back from
liveblog's installed metadata: ``untested()`` names the packages installed outside them.

This module imports none of those packages until a check runs: a module that moved is reported
by the check, not raised as ImportError by whoever imports the fast path's constants.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

REQUEST_LIMITS = "request limits"
FAST_PATH = "fast path"
CLUSTER = "Redis Cluster engine"

_HTTP = "uvicorn.protocols.http.httptools_impl"
_WS = "uvicorn.protocols.websockets.websockets_sansio_impl"
_FLOW = "uvicorn.protocols.http.flow_control"
_DEFLATE = "websockets.extensions.permessage_deflate"
_CLUSTER = "redis.asyncio.cluster"


@dataclass(frozen=True, slots=True)
class Surface:
    feature: str
    package: str  # the distribution, as pyproject.toml names it
    path: str  # "module:Qualified.name"
    why: str
    uses: tuple[str, ...] = ()  # names the function's code must set or read


def _rows(
    feature: str, package: str, module: str, rows: list[tuple[str, tuple[str, ...], str]]
) -> tuple[Surface, ...]:
    """Surfaces of one module: (attribute, names its code must set or read, why)."""
    return tuple(Surface(feature, package, f"{module}:{a}", why, uses) for a, uses, why in rows)


SURFACES: tuple[Surface, ...] = (
    # liveblog.delivery.guard: GuardedHttpToolsProtocol subclasses uvicorn's httptools protocol.
    *_rows(REQUEST_LIMITS, "uvicorn", _HTTP, [
        ("HttpToolsProtocol.__init__", ("loop",), "timers on its loop"),
        ("HttpToolsProtocol.connection_made", ("transport", "flow"), "the head's timer starts"),
        ("HttpToolsProtocol.connection_lost", (), "the timers stop"),
        # A parser callback's exception (too many headers) ends in send_400_response.
        ("HttpToolsProtocol.data_received", ("parser", "send_400_response"), "bytes counted"),
        ("HttpToolsProtocol.on_message_begin", ("scope",), "a request's counts restart"),
        ("HttpToolsProtocol.on_header", (), "headers counted"),
        ("HttpToolsProtocol.on_headers_complete", ("cycle",), "the head's timer stops"),
        ("HttpToolsProtocol.on_body", ("cycle", "flow"), "a body's bytes counted"),
        ("HttpToolsProtocol.on_message_complete", (), "the next head is watched"),
        ("HttpToolsProtocol.send_400_response", (), "too many headers answer 431, not 400"),
        ("RequestResponseCycle.receive", ("message_event", "waiting_for_100_continue"),
         "a slow body ends the app's reads; 100 Continue is not the client's time"),
        ("RequestResponseCycle.send", ("disconnected", "response_started", "response_complete"),
         "a slow body ends the app's writes"),
    ]),
    *_rows(REQUEST_LIMITS, "uvicorn", _FLOW, [
        ("FlowControl.__init__", ("read_paused",), "a body the server is not reading is not late"),
    ]),
    # liveblog.delivery.fastpath: the protocols that hand the hub their transport, lighter.
    *_rows(FAST_PATH, "uvicorn", _HTTP, [
        ("HttpToolsProtocol.__init__", ("pipeline",), "a list stands in for the deque"),
        ("HttpToolsProtocol.on_headers_complete", ("cycle",), "a flag for the cycle's Event"),
        ("HttpToolsProtocol.on_response_complete", ("pipeline",), "the list used as a deque"),
        ("HttpToolsProtocol.pause_writing", (), "a full socket closes its reader"),
        ("RequestResponseCycle.receive", ("message_event",), "the flag used as an Event"),
    ]),
    *_rows(FAST_PATH, "uvicorn", _FLOW, [
        ("FlowControl.__init__", ("_is_writable_event",), "a flag stands in for its Event"),
    ]),
    *_rows(FAST_PATH, "uvicorn", _WS, [
        ("WebSocketsSansIOProtocol.__init__", ("queue", "writable", "ping_interval", "conn"),
         "lighter inbox and flag; the keepalive is the hub's"),
        ("WebSocketsSansIOProtocol.handle_connect", ("request", "response", "scope"),
         "the protocol put in the scope; the handshake dropped at accept"),
        ("WebSocketsSansIOProtocol.data_received", (), "a peer heard answers the hub's ping"),
        ("WebSocketsSansIOProtocol.pause_writing", (), "a full socket closes its reader"),
        ("WebSocketsSansIOProtocol.send", (), "the handshake's request and response dropped"),
    ]),
    *_rows(FAST_PATH, "websockets", "websockets.server", [
        ("ServerProtocol.__init__", ("available_extensions",), "one deflate offer for all"),
    ]),
    *_rows(FAST_PATH, "websockets", "websockets.protocol", [
        ("Protocol.__init__", ("extensions",), "whether a socket negotiated deflate"),
    ]),
    *_rows(FAST_PATH, "websockets", _DEFLATE, [
        ("PerMessageDeflate.__init__", ("remote_no_context_takeover", "local_no_context_takeover",
         "remote_max_window_bits", "local_max_window_bits", "compress_settings"),
         "an idle socket's agreement kept on its class"),
        ("PerMessageDeflate.decode", ("remote_no_context_takeover", "remote_max_window_bits"),
         "a client's message inflated alone"),
    ]),
    # liveblog.engine.cluster: a write and its WAIT in one round trip, on the slot's master.
    *_rows(CLUSTER, "redis", _CLUSTER, [
        ("RedisCluster.__init__", ("nodes_manager",), "its slot map"),
        ("NodesManager.__init__", ("slots_cache",), "a slot's master and replicas"),
        ("NodesManager.move_slot", (), "a MOVED reply updates the slot map"),
        ("PipelineCommand.__init__", ("result",), "EVALSHA, ASKING and WAIT in one pipeline"),
        ("ClusterNode.execute_pipeline", (), "the pipeline sent to one node"),
    ]),
)  # fmt: skip


def _lookup(path: str) -> object:
    """The object at ``module:Qualified.name``; LookupError saying what is missing."""
    module_name, _, qualname = path.partition(":")
    try:
        found: object = importlib.import_module(module_name)
    except Exception as exc:  # moved, or broken on import: missing either way
        raise LookupError(f"module {module_name} ({exc})") from None
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise LookupError(path) from None
    return found


def missing(surface: Surface) -> list[str]:
    """What of ``surface`` the installed package lacks (nothing: an empty list)."""
    try:
        found = _lookup(surface.path)
    except LookupError as exc:
        return [str(exc)]
    if not surface.uses:
        return []
    if callable(found):  # a decorated function's own code is under its wrapper's
        found = inspect.unwrap(found)
    code = getattr(found, "__code__", None)
    if code is None:
        return [f"{surface.path} (not a function)"]
    # The attribute names a function sets or reads are in its code's names.
    return [f"{surface.path} {name}" for name in surface.uses if name not in code.co_names]


def check(feature: str) -> str | None:
    """Why ``feature`` cannot run on the installed packages, or None when it can."""
    lacks: dict[str, list[str]] = {}
    for surface in SURFACES:
        if surface.feature == feature:
            lacks.setdefault(surface.package, []).extend(missing(surface))
    problems = [f"{_installed(p)} lacks {', '.join(names)}" for p, names in lacks.items() if names]
    return "; ".join(problems) or None


def _installed(package: str) -> str:
    try:
        return f"{package} {importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{package} (not installed)"


# --- the versions tested: pyproject.toml's bounds ----------------------------------------------


def tested_ranges() -> dict[str, str]:
    """Each listed package's version bounds in liveblog's requirements, e.g. ``<0.55,>=0.52.1``
    (none when liveblog runs uninstalled, from a source tree)."""
    try:
        requirements = importlib.metadata.requires("liveblog") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    packages = {surface.package for surface in SURFACES}
    ranges = {}
    for requirement in requirements:
        if ";" in requirement:  # an extra's, or another platform's
            continue
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[[^\]]*\])?\s*(.*)", requirement)
        if match and match[1].lower() in packages:
            ranges[match[1].lower()] = match[2].replace(" ", "")
    return ranges


def untested(installed: dict[str, str] | None = None) -> list[str]:
    """The listed packages whose installed version (``installed``: package -> version, the
    installed ones by default) lies outside the bounds they were tested on, one line each."""
    outside = []
    for package, specifiers in sorted(tested_ranges().items()):
        if installed is None:
            try:
                version = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                continue
        elif package in installed:
            version = installed[package]
        else:
            continue
        if not within(version, specifiers):
            outside.append(f"{package} {version} (tested: {specifiers})")
    return outside


_OPERATORS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def within(version: str, specifiers: str) -> bool:
    """Whether ``version``'s release numbers meet comparison specifiers like ``>=0.52.1,<0.55``
    (others, such as ``~=``, are not used in pyproject.toml and are taken as met)."""
    for specifier in filter(None, specifiers.split(",")):
        match = re.fullmatch(r"(>=|<=|==|!=|<|>)([0-9.]+)", specifier)
        if match and not _OPERATORS[match[1]](_release(version), _release(match[2])):
            return False
    return True


def _release(text: str) -> tuple[int, ...]:
    """``0.52.1`` -> (0, 52, 1), padded to three numbers; pre-release tags are left out."""
    numbers = []
    for part in text.split(".")[:3]:
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits[0]))
    return tuple(numbers + [0] * (3 - len(numbers)))
