"""Compression of a state on the wire (docs/protocol.md, "Compression").

A validator may send a state body compressed with zstd (``Content-Encoding: zstd``) to a miner
that said it takes it: every miner answer carries ``Accept-Encoding: zstd, identity`` when the miner
decompresses zstd. The first state a validator sends a miner is never compressed; from the next one
on it follows what the miner's last answer said. The signature is over the body as sent.

The body is one or more zstd frames whose decompressed concatenation is exactly the identity body
(``StateRequest.body()``): the step's books are compressed once for every miner and the frames of
each miner's own parts are put around them. A reader decompresses at most ``max_bytes`` (the
same cap as for an identity body) and refuses anything larger before it is held in memory.

zstd (RFC 8878) through the ``zstandard`` package, level 1: about 3.7 x smaller on the default
market at about 150 MB/s per core to compress and 350 MB/s to decompress.
"""

from __future__ import annotations

import threading
from typing import Any

from taos.protocol.codec import ProtocolError

IDENTITY = "identity"
ZSTD = "zstd"
ACCEPTED = f"{ZSTD}, {IDENTITY}"
"""The ``Accept-Encoding`` a miner answers with when it takes zstd bodies."""
LEVEL = 1


def _zstd() -> Any:
    import zstandard

    return zstandard


_compressors = threading.local()


def compress(data: bytes) -> bytes:
    """One zstd frame of ``data`` (its size written in the frame header). One compressor per thread,
    made at its first frame (making one costs four times a small frame)."""
    compressor = getattr(_compressors, "zstd", None)
    if compressor is None:
        compressor = _compressors.zstd = _zstd().ZstdCompressor(level=LEVEL, write_content_size=True)
    return bytes(compressor.compress(data))


def accepts_zstd(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header value names zstd (with a quality other than 0)."""
    for item in (accept_encoding or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == ZSTD:
            quality = params.strip().lower()
            return not (quality.startswith("q=") and quality[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def decompress(body: bytes, max_bytes: int) -> bytes:
    """The data of a body of zstd frames; a ``ProtocolError`` when it is not zstd, a frame is cut
    off or does not state its size, or the frames' sizes add up to more than ``max_bytes``. Each
    frame's stated size is checked before it is decompressed (and the decompressor holds a frame
    to its stated size), so no more than ``max_bytes`` are ever produced."""
    zstandard = _zstd()
    out: list[bytes] = []
    total = 0
    rest = body
    try:
        while rest:
            size = zstandard.get_frame_parameters(rest).content_size
            if size == zstandard.CONTENTSIZE_UNKNOWN:
                raise ProtocolError("state: a zstd frame must state its size")
            total += size
            if total > max_bytes:
                raise ProtocolError(f"state: the zstd body decompresses to more than {max_bytes} bytes")
            frame = zstandard.ZstdDecompressor().decompressobj()
            data = frame.decompress(rest)
            if not frame.eof or len(data) != size:
                raise ProtocolError("state: not a valid zstd body (a frame is cut off)")
            out.append(data)
            rest = frame.unused_data
    except zstandard.ZstdError as e:
        raise ProtocolError(f"state: not a valid zstd body ({e})") from None
    if not body:
        raise ProtocolError("state: not a valid zstd body (no frame)")
    return b"".join(out)
