"""A Redis Cluster of the suite's own: three masters and three replicas on free ports.

Like ``redis_server``, never the machine's Redis: tests flush it and kill its nodes. A killed
master's replica takes over after ``NODE_TIMEOUT_MS`` (short, so a failover test stays quick);
``restart`` brings the killed node back, and it rejoins as a replica of the new master.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

NODE_TIMEOUT_MS = 1000  # failure detection; a replica is promoted about a second later
_BUS_OFFSET = 10000
_MASTERS = 3  # Redis Cluster's bus port is the client port + 10000


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(count: int) -> list[int]:
    """Ports whose bus port (+10000) is free too, both below the kernel's ephemeral range
    (32768 on), so an outgoing connection cannot take one before the node binds it."""
    # Each pytest-xdist worker draws from a band of its own, so two workers starting their
    # clusters at once cannot both find the same port free.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    band = int(worker) % 4 if worker.isdigit() else 0
    low = 20000 + band * 650
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(low, low + 650)
        if port not in ports and _is_free(port) and _is_free(port + _BUS_OFFSET):
            ports.append(port)
    return ports


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=5)


class RedisCluster:
    def __init__(self, directory: Path, nodes: int = 6) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError(
                "redis-server and redis-cli are not installed: run the test command from the "
                "README (scripts/test installs Debian's redis-server)"
            )
        self.binary, self.cli = binary, cli
        self.directory = directory
        self.ports = free_cluster_ports(nodes)
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """Any node will do: clients learn the rest from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            self._wait_answering(port)
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [self.cli, "--cluster", "create", *addresses, "--cluster-replicas", "1",
             "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
        )  # fmt: skip
        self.wait_healthy()

    def _start_node(self, port: int) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(exist_ok=True)
        # AOF with fsync on every write, as in production: a SIGKILL loses nothing a master
        # acknowledged, and the 2xx also waits for the replica (WAIT).
        self.processes[port] = subprocess.Popen(
            [
                self.binary, "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--cluster-replica-validity-factor", "0",  # any replica may take over
                "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                "--dir", str(node_dir), "--logfile", str(node_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

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
                        raise RuntimeError(f"redis-server did not start on {port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def wait_healthy(self, timeout: float = 30) -> None:
        """Every running node sees the cluster ok, all slots served, and every master has a
        replica in sync (when one is running), so WAIT has someone to wait for."""
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if time.monotonic() > deadline:
                raise RuntimeError("the test cluster did not become healthy")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        running = [port for port in self.ports if port in self.processes]
        masters_with_replicas = 0
        for port in running:
            client = _client(port)
            try:
                info = client.cluster("INFO")
                replication = client.info("replication")
                slots = client.execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                return False
            finally:
                client.close()
            # Each node's map lists every running replica too (clients learn it from there).
            if sum(len(shard) - 3 for shard in slots) != len(running) - _MASTERS:
                return False
            if info["cluster_state"] != "ok" or int(info["cluster_slots_ok"]) != 16384:
                return False
            if int(info["cluster_known_nodes"]) != len(self.ports):
                return False
            if replication["role"] == "master" and replication.get("connected_slaves"):
                masters_with_replicas += 1
            if replication["role"] == "slave" and replication["master_link_status"] != "up":
                return False
        return masters_with_replicas == len(running) // 2

    def masters(self) -> list[int]:
        """Ports of the masters that serve slots, as the cluster sees them now."""
        client = _client(next(p for p in self.ports if p in self.processes))
        try:
            shards = client.execute_command("CLUSTER", "SLOTS")
        finally:
            client.close()
        return sorted({int(shard[2][1]) for shard in shards})

    def master_of(self, key: str) -> int:
        """The port of the master that serves ``key``'s slot now."""
        client = _client(next(p for p in self.ports if p in self.processes))
        try:
            slot = client.cluster("KEYSLOT", key)
            for shard in client.execute_command("CLUSTER", "SLOTS"):
                if shard[0] <= slot <= shard[1]:
                    return int(shard[2][1])
        finally:
            client.close()
        raise RuntimeError(f"no master serves {key}")

    def replica_of(self, master: int) -> int:
        client = _client(master)
        try:
            replicas = client.info("replication")
        finally:
            client.close()
        return int(replicas["slave0"]["port"])

    def pause(self, port: int) -> None:
        """SIGSTOP: a node that is there but answers nothing (a hung host)."""
        self.processes[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGCONT)
        self.wait_healthy()

    def kill(self, port: int) -> None:
        """SIGKILL one node: the way a crash looks to the cluster."""
        process = self.processes.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def restart(self, port: int) -> None:
        """Start a killed node again from its files: it rejoins (a former master comes back
        as a replica of the one that took over)."""
        self._start_node(port)
        self._wait_answering(port)
        self.wait_healthy()

    def heal(self) -> None:
        """Restart every node a test killed (see ``restart``)."""
        for port in self.ports:
            if port not in self.processes:
                self.restart(port)

    def flush(self) -> None:
        for port in self.masters():
            client = _client(port)
            try:
                client.flushall()
            finally:
                client.close()

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(10)
        self.processes.clear()
