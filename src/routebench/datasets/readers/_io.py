"""Opening trace files: decompression by magic bytes or extension, ``-`` for stdin.

Every failure to open or decompress becomes one :class:`RoutebenchError` line
naming the file, never a traceback.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sys
import zlib
from collections.abc import Iterator
from typing import IO

from ..._errors import RoutebenchError

__all__ = ["COMPRESSIONS", "open_bytes", "read_blocks", "sniff_compression", "display_name"]

#: magic bytes -> compression name
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_EXT = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz", ".lzma": "xz",
        ".zst": "zstd", ".zstd": "zstd"}
COMPRESSIONS = ("none", "gzip", "bz2", "xz", "zstd")

#: decompressed bytes read at a time by the block readers
BLOCK = 64 << 20


def display_name(path: str | os.PathLike[str]) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def sniff_compression(head: bytes, path: str = "") -> str:
    """The compression of a stream from its first bytes (magic), else its extension."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    ext = os.path.splitext(path)[1].lower()
    if ext in _EXT and head:
        # the extension says compressed but the bytes do not: trust the bytes
        return "none"
    return "none"


class _Prefixed(io.RawIOBase):
    """A raw stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self._head.nbytes:
            n = min(len(b), self._head.nbytes)
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        n = len(data)
        b[:n] = data
        return n


def open_bytes(path: str | os.PathLike[str]) -> tuple[IO[bytes], str]:
    """The decompressed byte stream of ``path`` (``-``: stdin) and its compression name."""
    name = display_name(path)
    if str(path) == "-":
        raw: IO[bytes] = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller via the wrapper
        except FileNotFoundError:
            raise RoutebenchError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise RoutebenchError(f"{name}: is a directory, not a trace file") from None
        except OSError as exc:
            raise RoutebenchError(f"{name}: cannot open: {exc.strerror}") from None
    try:
        head = raw.read(8)
    except OSError as exc:
        raise RoutebenchError(f"{name}: cannot read: {exc.strerror}") from None
    comp = sniff_compression(head, str(path))
    stream: IO[bytes]
    if comp == "none" and raw.seekable():
        raw.seek(0)  # a plain file: read straight into the caller's buffers
        stream = raw
    else:
        stream = io.BufferedReader(_Prefixed(head, raw), 1 << 20)
    if comp == "gzip":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    elif comp == "bz2":
        stream = bz2.BZ2File(stream, mode="rb")
    elif comp == "xz":
        stream = lzma.LZMAFile(stream, mode="rb")
    elif comp == "zstd":
        try:
            import zstandard
        except ImportError:  # pragma: no cover - a declared dependency
            raise RoutebenchError(f"{name}: zstd-compressed; install the 'zstandard' package") from None
        stream = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True,
                                                            closefd=True)
    return stream, comp


_DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
    EOFError, OSError, zlib.error, lzma.LZMAError, gzip.BadGzipFile,
)


def _zstd_error() -> tuple[type[BaseException], ...]:
    try:
        import zstandard

        return (zstandard.ZstdError,)
    except ImportError:  # pragma: no cover
        return ()


def read_blocks(stream: IO[bytes], name: str, comp: str,
                block: int = BLOCK) -> Iterator[bytes]:
    """The stream's bytes in blocks of about ``block`` bytes; a clear error if corrupt."""
    errors = _DECOMPRESS_ERRORS + _zstd_error()
    done = 0
    try:
        while True:
            try:
                data = stream.read(block)
            except errors as exc:
                what = f"{comp}-compressed data" if comp != "none" else "data"
                raise RoutebenchError(
                    f"{name}: cannot read {what} after {done:,} bytes: "
                    f"{exc if str(exc) else type(exc).__name__} (corrupt or truncated?)"
                ) from None
            if not data:
                return
            done += len(data)
            yield data
    finally:
        try:
            stream.close()
        except Exception:  # noqa: BLE001 - closing a broken stream may fail again
            pass
