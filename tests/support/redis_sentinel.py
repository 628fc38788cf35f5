"""Redis Sentinel of the suite's own: a master, a replica and three Sentinels (Debian's
``redis-sentinel``), all on free ports of 127.0.0.1.

Like ``redis_server``, never the machine's Redis: tests flush it and kill its nodes. A killed
master is judged down after ``DOWN_AFTER_MS`` (short, so a failover test stays quick) and its
replica promoted; ``restart`` brings the killed node back, and the Sentinels make it a replica
of the new master.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.support.redis_server import free_port

MASTER = "mymaster"
DOWN_AFTER_MS = 1000
QUORUM = 2


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=5)


class RedisSentinel:
    def __init__(self, directory: Path) -> None:
        server, sentinel = shutil.which("redis-server"), shutil.which("redis-sentinel")
        if server is None or sentinel is None:
            raise RuntimeError(
                "redis-server and redis-sentinel are not installed: run the test command from "
                "the README (scripts/test installs Debian's redis-server and redis-sentinel)"
            )
        self.server_binary, self.sentinel_binary = server, sentinel
        self.directory = directory
        self.nodes = [free_port(), free_port()]  # the first starts as master
        self.sentinels = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def addresses(self) -> str:
        """LIVEBLOG_REDIS_SENTINELS for these Sentinels."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinels)

    def start(self) -> None:
        master, replica = self.nodes
        self._start_node(master)
        self._start_node(replica, replica_of=master)
        for port in self.sentinels:
            self._start_sentinel(port, master)
        self.wait_healthy()

    def _start_node(self, port: int, replica_of: int | None = None) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(exist_ok=True)
        # AOF with fsync on every write: a SIGKILL loses nothing acknowledged; a 2xx also waits
        # for the replica (WAIT), so a failover loses nothing either.
        command = [
            self.server_binary, "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
            "--dir", str(node_dir), "--logfile", str(node_dir / "redis.log"),
        ]  # fmt: skip
        if replica_of is not None:
            command += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.processes[port] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_answering(port)

    def _start_sentinel(self, port: int, master: int) -> None:
        sentinel_dir = self.directory / f"sentinel-{port}"
        sentinel_dir.mkdir(exist_ok=True)
        config = sentinel_dir / "sentinel.conf"  # Sentinel rewrites it as it learns
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {sentinel_dir}\n"
            f"logfile {sentinel_dir / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {master} {QUORUM}\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} 5000\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        self.processes[port] = subprocess.Popen(
            [self.sentinel_binary, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_answering(port)

    def _wait_answering(self, port: int) -> None:
        deadline = time.monotonic() + 10
        client = _client(port)
        try:
            while True:
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    if time.monotonic() > deadline or self.processes[port].poll() is not None:
                        raise RuntimeError(f"redis did not start on {port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def master(self) -> int:
        """The master's port, as the first Sentinel that answers names it."""
        for port in self.sentinels:
            client = _client(port)
            try:
                _, master = client.sentinel_get_master_addr_by_name(MASTER)
                return int(master)
            except (redis.RedisError, TypeError):
                continue
            finally:
                client.close()
        raise RuntimeError("no Sentinel names a master")

    def wait_healthy(self, timeout: float = 30) -> None:
        """Every Sentinel names the same master and knows the other Sentinels and every
        running node as a replica; the master is up with each of them in sync: a failover can
        happen, and WAIT has someone to wait for."""
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if time.monotonic() > deadline:
                raise RuntimeError("the test Sentinel setup did not become healthy")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        masters = set()
        running = [port for port in self.nodes if port in self.processes]
        for port in self.sentinels:
            client = _client(port)
            try:
                state = client.sentinel_master(MASTER)
                replicas = client.sentinel_slaves(MASTER)
            except redis.RedisError:
                return False
            finally:
                client.close()
            if state["is_sdown"] or state["is_odown"] or state["num-other-sentinels"] < 2:
                return False
            known = {int(r["port"]) for r in replicas if not r["is_sdown"]}
            masters.add(int(state["port"]))
            if not set(running) - {int(state["port"])} <= known:
                return False
        if len(masters) != 1 or (master := masters.pop()) not in self.processes:
            return False
        # The nodes' own word on replication (the Sentinels learn it only every 10 s).
        for port in running:
            replication = self._replication(port)
            if replication is None:
                return False
            if port == master:
                online = [
                    value
                    for key, value in replication.items()
                    if key.startswith("slave") and isinstance(value, dict)
                    and value["state"] == "online"
                ]  # fmt: skip
                if replication["role"] != "master" or len(online) != len(running) - 1:
                    return False
            elif replication["role"] != "slave" or replication["master_link_status"] != "up":
                return False
        return True

    def _replication(self, port: int) -> dict[str, object] | None:
        client = _client(port)
        try:
            return client.info("replication")
        except redis.RedisError:
            return None
        finally:
            client.close()

    def kill(self, port: int) -> None:
        """SIGKILL one node: the way a crash looks to the Sentinels."""
        process = self.processes.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def pause(self, port: int) -> None:
        """SIGSTOP: a node that is there but answers nothing (a hung host)."""
        self.processes[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGCONT)

    def heal(self) -> None:
        """Every node running again, and replicating from the master. A former master that
        still takes itself for one is told so at once, as the Sentinels would do on their next
        look at it (up to 10 s later)."""
        for port in self.nodes:
            if port not in self.processes:
                self._start_node(port)
            else:
                self.resume(port)
        deadline = time.monotonic() + 30
        while True:
            try:
                master = self.master()
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for port in self.nodes:
            replication = self._replication(port)
            if port != master and replication is not None and replication["role"] == "master":
                client = _client(port)
                try:
                    client.replicaof("127.0.0.1", master)
                finally:
                    client.close()
        self.wait_healthy()

    def flush(self) -> None:
        client = _client(self.master())
        try:
            client.flushall()
            client.execute_command("WAIT", 1, 5000)
        finally:
            client.close()

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGCONT)
            process.terminate()
        for process in self.processes.values():
            process.wait(10)
        self.processes.clear()
