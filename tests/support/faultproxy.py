"""A TCP proxy between the app and Redis, on 127.0.0.1, that breaks the network on demand.

Faults, each as the app would meet it on a real network:
- ``latency(s)``: every byte arrives ``s`` seconds late, both ways.
- ``blackhole()``: nothing passes either way, and nothing is refused: connections (new ones too)
  stay open and silent, as when packets are dropped. What was sent meanwhile is held, and passes
  on ``heal()`` (TCP retransmits it): a command the app gave up on may still run afterwards.
- ``reset()``: every connection is reset (RST), and so is every new one until ``heal()``.
- ``half_open()``: Redis's side of every open connection is gone while the app's side stays open
  and silent (the peer rebooted, a NAT forgot the flow); new connections work.

It runs its own event loop in a thread, so it serves in-process apps and ``liveblog serve``
processes alike, and the switches are plain calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any

from tests.support.redis_server import free_port

_CHUNK = 65536


class _Link:
    """One client connection and its connection to Redis."""

    def __init__(self, proxy: FaultProxy, reader: asyncio.StreamReader, writer: Any) -> None:
        self.proxy = proxy
        self.client_reader, self.client_writer = reader, writer
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.half_open = False
        self.tasks: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        try:
            await self.proxy.passing()
            if self.proxy.mode == "reset":
                self.reset()
                return
            up_reader, self.upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.proxy.target_port
            )
            self.tasks = [
                asyncio.create_task(self._pump(self.client_reader, self.upstream_writer)),
                asyncio.create_task(self._pump(up_reader, self.client_writer)),
            ]
            await asyncio.gather(*self.tasks, return_exceptions=True)
        except OSError:
            pass
        finally:
            # Both ways have ended: on a half-open link, only once the client let go.
            self.close()
            self.proxy.links.discard(self)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await source.read(_CHUNK):
                read_at = loop.time()
                await self.proxy.passing()
                if self.half_open:
                    continue  # swallowed: nobody is there any more
                if self.proxy.delay:
                    await asyncio.sleep(max(0.0, read_at + self.proxy.delay - loop.time()))
                sink.write(data)
                await sink.drain()
            await self.proxy.passing()
            if not self.half_open and sink.can_write_eof():
                sink.write_eof()
        except (OSError, RuntimeError):
            pass

    def reset(self) -> None:
        """RST to the client: SO_LINGER with a zero timeout, then close."""
        sock = self.client_writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client_writer.transport.abort()
        if self.upstream_writer is not None:
            self.upstream_writer.transport.abort()
        for task in self.tasks:
            task.cancel()

    def cut_upstream(self) -> None:
        """Redis's side goes; the client's stays open, and hears nothing more."""
        self.half_open = True
        if self.upstream_writer is not None:
            self.upstream_writer.transport.abort()

    def close(self) -> None:
        self.client_writer.close()
        if self.upstream_writer is not None:
            self.upstream_writer.close()


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.mode = "pass"
        self.delay = 0.0
        self.links: set[_Link] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop = asyncio.new_event_loop()
        self._open: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    # --- the test's side: plain calls -----------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._run(self._start())
        return self

    def stop(self) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def latency(self, seconds: float) -> None:
        self._run(self._set("pass", seconds))

    def blackhole(self) -> None:
        self._run(self._set("blackhole", 0.0))

    def reset(self) -> None:
        self._run(self._set("reset", 0.0))

    def half_open(self) -> None:
        self._run(self._half_open())

    def heal(self) -> None:
        self._run(self._set("pass", 0.0))

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # --- the proxy's loop -----------------------------------------------------------------

    async def passing(self) -> None:
        """Return when bytes may pass (at once, unless the network is a black hole)."""
        assert self._open is not None
        await self._open.wait()

    async def _start(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(self, reader, writer)
        self.links.add(link)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await link.run()
        finally:
            self._tasks.discard(task)

    async def _set(self, mode: str, delay: float) -> None:
        assert self._open is not None
        self.mode, self.delay = mode, delay
        if mode == "blackhole":
            self._open.clear()
            return
        self._open.set()
        if mode == "reset":
            for link in list(self.links):
                link.reset()

    async def _half_open(self) -> None:
        await self._set("pass", 0.0)
        for link in list(self.links):
            link.cut_upstream()

    async def _stop(self) -> None:
        assert self._open is not None
        self._open.set()
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            link.reset()
            link.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0.05)  # the transports' own close callbacks run
