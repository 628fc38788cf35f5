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


SURFACES: tuple[Surface, ...] = (
    # liveblog.delivery.guard: GuardedHttpToolsProtocol subclasses uvicorn's httptools protocol.
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.__init__",
        "timers on its loop",
        ("loop",),
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.connection_made",
        "the head timer starts with the connection; writes 431/408",
        ("transport", "flow"),
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.connection_lost",
        "timers stop with the connection",
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.data_received",
        "head bytes counted before parsing; a callback's error ends in send_400_response",
        ("parser", "send_400_response"),
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.on_message_begin",
        "a request's counts restart",
        ("scope",),
    ),
    Surface(REQUEST_LIMITS, "uvicorn", f"{_HTTP}:HttpToolsProtocol.on_header", "headers counted"),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.on_headers_complete",
        "the head is in: its timer stops",
        ("cycle",),
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.on_body",
        "body bytes counted for its pace",
        ("cycle", "flow"),
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.on_message_complete",
        "the next head is watched",
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.send_400_response",
        "too many headers answer 431, not 400",
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_FLOW}:FlowControl.__init__",
        "a body the server is not reading is not the client's time",
        ("read_paused",),
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:RequestResponseCycle.receive",
        "a slow body ends the app's reads",
        ("message_event", "waiting_for_100_continue"),
    ),
    Surface(
        REQUEST_LIMITS,
        "uvicorn",
        f"{_HTTP}:RequestResponseCycle.send",
        "a slow body ends the app's writes",
        ("disconnected", "response_started", "response_complete"),
    ),
    # liveblog.delivery.fastpath: the protocols that hand the hub their transport.
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.__init__",
        "a list for the pipeline deque",
        ("pipeline",),
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.on_headers_complete",
        "a lighter flag for the cycle's Event",
        ("cycle",),
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.on_response_complete",
        "the pipeline list is used as a deque",
        ("pipeline",),
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_HTTP}:HttpToolsProtocol.pause_writing",
        "a full socket closes its reader",
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_FLOW}:FlowControl.__init__",
        "a lighter flag for its Event",
        ("_is_writable_event",),
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_HTTP}:RequestResponseCycle.receive",
        "the cycle's Event swapped for a flag",
        ("message_event",),
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_WS}:WebSocketsSansIOProtocol.__init__",
        "lighter inbox and flag; keepalive is the hub's",
        ("queue", "writable", "ping_interval", "conn"),
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_WS}:WebSocketsSansIOProtocol.handle_connect",
        "the protocol goes into the scope; handshake kept until accept",
        ("request", "response", "scope"),
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_WS}:WebSocketsSansIOProtocol.data_received",
        "a peer heard from answers the hub's ping",
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_WS}:WebSocketsSansIOProtocol.pause_writing",
        "a full socket closes its reader",
    ),
    Surface(
        FAST_PATH,
        "uvicorn",
        f"{_WS}:WebSocketsSansIOProtocol.send",
        "the handshake's request and response dropped at accept",
    ),
    Surface(
        FAST_PATH,
        "websockets",
        "websockets.server:ServerProtocol.__init__",
        "one shared permessage-deflate offer",
        ("available_extensions",),
    ),
    Surface(
        FAST_PATH,
        "websockets",
        "websockets.protocol:Protocol.__init__",
        "whether a socket negotiated deflate",
        ("extensions",),
    ),
    Surface(
        FAST_PATH,
        "websockets",
        f"{_DEFLATE}:PerMessageDeflate.__init__",
        "an idle socket's agreement kept on its class",
        (
            "remote_no_context_takeover",
            "local_no_context_takeover",
            "remote_max_window_bits",
            "local_max_window_bits",
            "compress_settings",
        ),
    ),
    Surface(
        FAST_PATH,
        "websockets",
        f"{_DEFLATE}:PerMessageDeflate.decode",
        "a client's message inflated alone",
        ("remote_no_context_takeover", "remote_max_window_bits"),
    ),
    # liveblog.engine.cluster: a write and its WAIT in one round trip, on the slot's master.
    Surface(
        CLUSTER,
        "redis",
        f"{_CLUSTER}:PipelineCommand.__init__",
        "EVALSHA, ASKING and WAIT in one pipeline",
        ("result",),
    ),
    Surface(
        CLUSTER,
        "redis",
        f"{_CLUSTER}:ClusterNode.execute_pipeline",
        "the pipeline sent to one node",
    ),
    Surface(
        CLUSTER,
        "redis",
        f"{_CLUSTER}:NodesManager.__init__",
        "a slot's master and replicas",
        ("slots_cache",),
    ),
    Surface(
        CLUSTER, "redis", f"{_CLUSTER}:NodesManager.move_slot", "a MOVED reply updates the slot map"
    ),
    Surface(
        CLUSTER, "redis", f"{_CLUSTER}:RedisCluster.__init__", "its slot map", ("nodes_manager",)
    ),
)


def _lookup(path: str) -> object:
    """The object at ``module:Qualified.name``; LookupError saying what is missing."""
    module_name, _, qualname = path.partition(":")
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as exc:
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
