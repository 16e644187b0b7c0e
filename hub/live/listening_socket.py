"""The listening socket, when live sockets need a bounded kernel send buffer.

Sockets accepted on Linux inherit ``SO_SNDBUF`` from the listener, and a set size turns
off autotuning (which lets one socket queue megabytes). A bounded buffer makes a
client that stops reading felt within a few messages, so its send_queue coalesces and
overflows as designed, and it caps kernel memory per idle connection.
"""

from __future__ import annotations

import socket


def listening_socket(host: str, port: int, send_buffer_bytes: int) -> socket.socket | None:
    """A bound socket with ``SO_SNDBUF`` set, or ``None`` to let uvicorn bind as usual."""
    if send_buffer_bytes <= 0:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
