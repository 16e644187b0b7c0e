"""Runs the hub's processes side by side for ``hub dev``, and stops them all together.

Each child is a ``hub`` subcommand in its own process group, so Ctrl-C in the terminal
reaches only the supervisor, which then sends SIGTERM to every child (each finishes or
hands back its in-flight work) and waits a bounded time before killing stragglers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

STOP_TIMEOUT_S = 20.0


@dataclass
class Child:
    name: str
    args: Sequence[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.children: list[Child] = []

    def start(self, name: str, *args: str) -> Child:
        """Start ``python -m hub <args>`` as a child named ``name``."""
        child = Child(name, args)
        child.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "hub", *args], env=self.env, start_new_session=True
        )
        self.children.append(child)
        return child

    def failed(self) -> Child | None:
        """The first child that exited on its own, if any."""
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                return child
        return None

    def wait(self, poll_interval_s: float = 0.5) -> Child | None:
        """Block until Ctrl-C / SIGTERM (returns ``None``) or a child dies (returns it)."""
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stopping:
                if (dead := self.failed()) is not None:
                    return dead
                time.sleep(poll_interval_s)
            return None
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every child (last started first), then SIGKILL what is left after ``timeout_s``."""
        running = [c for c in reversed(self.children) if c.process and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
