"""Small real images for logo uploads (decodable by a browser), made without an image library."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 8, height: int = 4, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A solid-colour PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


WEBP_HEADER = b"RIFF\x24\x00\x00\x00WEBPVP8 "  # the first bytes of a WebP file
JPEG_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
