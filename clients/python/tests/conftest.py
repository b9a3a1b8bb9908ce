"""A real TaskPulse server for the tests: `taskpulse serve` built from this
repository (or taken from $TASKPULSE_BINARY), on a free loopback port
with its own data directory; and a proxy that can put faults between a
client and it."""

from __future__ import annotations

import http.server
import os
import random
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
PATIENCE = 30.0  # seconds a wait for the server lasts before the test fails


def free_port() -> int:
    while True:
        port = random.randint(20000, 29999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def eventually(check: Callable[[], Any], what: str) -> Any:
    """Poll check until it returns something truthy."""
    deadline = time.monotonic() + PATIENCE
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"never saw {what}"
            return value
        time.sleep(0.02)


class Server:
    def __init__(self, binary: str, data_dir: Path, args: List[str]) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: "subprocess.Popen[bytes] | None" = None

    def start(self) -> None:
        log = open(self.data_dir.parent / "server.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}",
             "--writer-wait", "20ms", *self.args],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        eventually(self._ready, "the server ready")

    def _ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "the server exited"
        try:
            return httpx.get(self.url + "/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL: whatever the server acknowledged must survive it."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
            self.proc = None

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(self.url + path, params=params)
        return r.json() if r.status_code == 200 else None

    def wait_task(self, task_id: str, status: str, events: int) -> dict:
        """The task's state once it has the status and number of events."""
        def reached() -> Any:
            state = self.get(f"/v1/tasks/{task_id}")
            return state if state and state["status"] == status and state["events"] == events else None
        return eventually(reached, f"task {task_id} {status} with {events} events")

    def task_events(self, task_id: str) -> List[dict]:
        return self.get(f"/v1/tasks/{task_id}/events", limit=1000)["events"]

    def task_logs(self, task_id: str) -> List[dict]:
        return self.get(f"/v1/tasks/{task_id}/logs", limit=1000)["logs"]


@pytest.fixture(scope="session")
def binary(tmp_path_factory: pytest.TempPathFactory) -> str:
    if os.environ.get("TASKPULSE_BINARY"):
        return os.environ["TASKPULSE_BINARY"]
    path = tmp_path_factory.mktemp("bin") / "taskpulse"
    env = {**os.environ, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "auto")}
    subprocess.run(["go", "build", "-o", str(path), "./cmd/taskpulse"], cwd=REPO, env=env, check=True)
    return str(path)


@pytest.fixture
def server_factory(binary: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: List[Server] = []

    def make(*args: str) -> Server:
        data = tmp_path / f"data{len(servers)}"
        data.mkdir()
        server = Server(binary, data, list(args))
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    return server_factory()


class Proxy:
    """Forwards requests to a server, or answers in its place: each entry
    of `faults` is used up by one request. "503" answers 503 with
    Retry-After: 1 as the server does when its bus cannot take data;
    "lose" forwards the request and drops the server's answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: List[str] = []
        self.arrivals: List[float] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with proxy.lock:
                    proxy.arrivals.append(time.monotonic())
                    fault = proxy.faults.pop(0) if proxy.faults else None
                if fault == "503":
                    self._answer(503, {"Retry-After": "1", "Content-Type": "application/json"},
                                 b'{"error":{"code":"unavailable","message":"the bus cannot take data now"}}')
                    return
                r = httpx.post(proxy.upstream + self.path, content=body,
                               headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                if fault == "lose":
                    self.close_connection = True
                    return
                self._answer(r.status_code, {k: v for k, v in r.headers.items()
                                             if k.lower() in ("content-type", "retry-after")}, r.content)

            def _answer(self, status: int, headers: dict, body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(server: Server) -> Iterator[Proxy]:
    p = Proxy(server.url)
    yield p
    p.close()
