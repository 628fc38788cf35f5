"""How long ``liveblog serve`` takes to end after SIGTERM, by the state Redis is in.

States: ``up``; ``down`` (killed just before); ``hanging`` (SIGSTOP'd); ``dns`` (the compose
``down`` case: the process is PID 1 of its own PID namespace, Redis has just gone, and the DNS
lookups of the Redis host go to a name server that never answers; needs root for ``unshare``).
Each state is run ``--runs`` times with an SSE reader attached; a process still there after
``--give-up`` seconds is killed and counted as such.

Run it against any checkout M (``--checkout``, with its own interpreter) to compare:

    .venv/bin/python bench/stop_time.py --runs 5
    .venv/bin/python bench/stop_time.py --runs 5 --checkout M --python M/.venv/bin/python
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.redis_server import RedisServer, free_port

TOKEN = "bench-admin-token-0123456789abcdef0123"
DNS = "127.77.0.54"


def child_of(pid: int) -> int:
    deadline = time.monotonic() + 5
    while True:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        if time.monotonic() > deadline:
            raise RuntimeError("unshare started no child")
        time.sleep(0.01)


def one(state: str, checkout: Path, python: str, give_up: float) -> float | None:
    """Seconds from SIGTERM to exit; None if it had to be killed."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        redis = RedisServer(directory)
        redis.start()
        port = free_port()
        host = "127.0.0.1"
        wrapper: list[str] = []
        if state == "dns":
            (directory / "resolv.conf").write_text(f"nameserver {DNS}\noptions timeout:60\n")
            hosts = directory / "hosts"
            hosts.write_text("127.0.0.1 localhost\n127.0.0.1 redis.bench\n")
            host = "redis.bench"
            setup = (
                f"mount --bind {directory / 'resolv.conf'} /etc/resolv.conf && "
                f'mount --bind {hosts} /etc/hosts && exec "$@"'
            )
            wrapper = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c",
                       setup, "sh"]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": str(checkout),
            "LIVEBLOG_REDIS_URL": f"redis://{host}:{redis.port}/0",
            "LIVEBLOG_ADMIN_TOKEN": TOKEN,
            "LIVEBLOG_DEMO": "false",
        }
        command = [*wrapper, python, "-m", "liveblog", "serve", "--port", str(port)]
        process = subprocess.Popen(
            command, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("liveblog did not start")
            time.sleep(0.05)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        httpx.post(f"{url}/api/blogs", json={"slug": "b", "title": "B"}, headers=auth)
        reader = socket.create_connection(("127.0.0.1", port))
        reader.sendall(b"GET /blogs/b/events HTTP/1.1\r\nHost: bench\r\n\r\n")
        target = child_of(process.pid) if state == "dns" else process.pid
        if state == "dns":
            hosts.write_text("127.0.0.1 localhost\n")
        if state in ("down", "dns"):
            redis.kill()
        elif state == "hanging" and redis.process is not None:
            redis.process.send_signal(signal.SIGSTOP)
        time.sleep(2.5)  # calls in flight, reconnects and lookups are waiting now
        started = time.monotonic()
        os.kill(target, signal.SIGTERM)
        try:
            process.wait(give_up)
            took: float | None = time.monotonic() - started
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            took = None
        reader.close()
        if redis.process is not None:
            redis.process.send_signal(signal.SIGCONT)
            redis.kill()
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument(
        "--python", default=sys.executable, help="the checkout's interpreter (its .venv)"
    )
    parser.add_argument("--give-up", type=float, default=30.0)
    parser.add_argument("--states", default="up,down,hanging,dns")
    args = parser.parse_args()
    silent = None
    if "dns" in args.states:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind((DNS, 53))  # a name server that never answers
    print(f"checkout {args.checkout.resolve()}, {args.runs} runs per state")
    for state in args.states.split(","):
        checkout = args.checkout.resolve()
        times = [one(state, checkout, args.python, args.give_up) for _ in range(args.runs)]
        done = [t for t in times if t is not None]
        hung = len(times) - len(done)
        summary = f"median {statistics.median(done):.2f} s, max {max(done):.2f} s" if done else ""
        print(f"{state:8} {summary}  killed after {args.give_up:.0f} s: {hung}/{len(times)}")
    if silent is not None:
        silent.close()


if __name__ == "__main__":
    main()
