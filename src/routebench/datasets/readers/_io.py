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
from typing import IO, Any, Protocol, cast

from ..._errors import RoutebenchError

__all__ = ["COMPRESSIONS", "BLOCK", "open_bytes", "sniff_compression", "display_name",
           "compression_of_name", "strip_compression_suffix"]

#: magic bytes -> compression name
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_BZ2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")
COMPRESSIONS = ("none", "gzip", "bz2", "xz", "zstd")

#: decompressed bytes read at a time by the block readers
BLOCK = 64 << 20

#: bytes read ahead to tell a file's format
SNIFF = 1 << 20


#: file-name suffix -> the compression it names (writers compress by it, readers skip it)
_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz", ".lzma": "xz",
             ".zst": "zstd", ".zstd": "zstd"}


def compression_of_name(path: str) -> str:
    """The compression a file name's suffix names, or ``"none"``."""
    return _SUFFIXES.get(os.path.splitext(path.lower())[1], "none")


def strip_compression_suffix(name: str) -> str:
    """``x.log.gz`` -> ``x.log`` (lower-cased): the name whose extension tells the format."""
    base = os.path.basename(name).lower()
    stem, ext = os.path.splitext(base)
    return stem if ext in _SUFFIXES else base


def display_name(path: str | os.PathLike[str]) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def sniff_compression(head: bytes) -> str:
    """The compression of a stream from its first bytes (magic numbers, whatever its name)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            # "BZh" is also plain text: a bzip2 stream goes on with a level and a block magic
            if name == "bz2" and not (head[3:4].isdigit() and head[4:10] in _BZ2_BLOCKS):
                continue
            return name
    return "none"


class _Prefixed(io.RawIOBase):
    """A raw stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._head.nbytes:
            n = min(len(b), self._head.nbytes)
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        n = len(data)
        b[:n] = data
        return n


class _ZstdReader(io.RawIOBase):
    """zstd frames one after another; a stream that ends inside a frame is an error.

    (``zstandard``'s own stream reader returns a truncated file's bytes without
    saying it was cut short.)
    """

    def __init__(self, src: IO[bytes], zstandard: Any) -> None:
        self._src = src
        self._z = zstandard
        self._d = zstandard.ZstdDecompressor().decompressobj()
        self._out = memoryview(b"")
        self._in_frame = False
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._out.nbytes and not self._eof:
            data = self._src.read(1 << 20)
            if not data:
                self._eof = True
                if self._in_frame:
                    raise EOFError("the zstd stream ends inside a frame")
                break
            out = []
            while data:
                out.append(self._d.decompress(data))
                self._in_frame = not self._d.eof
                if self._d.eof:
                    data = self._d.unused_data
                    self._d = self._z.ZstdDecompressor().decompressobj()
                    self._in_frame = bool(data)
                else:
                    data = b""
            self._out = memoryview(b"".join(out))
        n = min(len(b), self._out.nbytes)
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        try:
            self._src.close()
        finally:
            super().close()


class ByteStream(Protocol):
    """What the readers need of a (possibly decompressing) byte stream."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: Any, /) -> int | None: ...

    def close(self) -> None: ...


def open_bytes(path: str | os.PathLike[str]) -> tuple[ByteStream, str]:
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
        head = raw.read(16)
    except OSError as exc:
        raise RoutebenchError(f"{name}: cannot read: {exc.strerror}") from None
    comp = sniff_compression(head)
    src: IO[bytes]
    if comp == "none" and raw.seekable():
        raw.seek(0)  # a plain file: read straight into the caller's buffers
        src = raw
    else:
        src = io.BufferedReader(_Prefixed(head, raw), 1 << 20)
    # a file opened 'rb' and a BufferedReader both have readinto, which IO[bytes] omits
    stream = cast(ByteStream, src)
    if comp == "gzip":
        stream = gzip.GzipFile(fileobj=src, mode="rb")
    elif comp == "bz2":
        stream = bz2.BZ2File(src, mode="rb")
    elif comp == "xz":
        stream = lzma.LZMAFile(src, mode="rb")
    elif comp == "zstd":
        try:
            import zstandard
        except ImportError:  # pragma: no cover - a declared dependency
            raise RoutebenchError(
                f"{name}: zstd-compressed; install the 'zstandard' package") from None
        stream = io.BufferedReader(_ZstdReader(src, zstandard), 1 << 20)
    return stream, comp


#: raw bytes a file's line count is estimated from (its size does the rest)
PEEK = 4 << 20


def estimate_lines(path: str | os.PathLike[str]) -> int | None:
    """About how many lines ``path`` holds: its size times the lines a raw byte of its
    first ``PEEK`` bytes (decompressed, member after member or frame after frame, where
    it is compressed) carries; exact for a file that short. None for stdin or a file that
    cannot be read (reading it says why)."""
    if str(path) == "-":
        return None
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            raw = f.read(PEEK)
    except OSError:
        return None
    if not raw:
        return 0
    try:
        data = _peek_decompressed(raw, sniff_compression(raw[:16]))
    except Exception:  # noqa: BLE001 - decompressors raise many kinds; the read says why
        return None
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if len(raw) >= size:
        return lines
    return round(lines * size / len(raw))


def _peek_decompressed(raw: bytes, comp: str) -> bytes:
    if comp == "none":
        return raw
    parts, rest = [], raw
    while rest.strip(b"\0"):  # gzip members and zstd frames follow one another
        d: Any
        if comp == "gzip":
            import zlib

            d = zlib.decompressobj(31)
        elif comp == "bz2":
            d = bz2.BZ2Decompressor()
        elif comp == "xz":
            d = lzma.LZMADecompressor()
        else:
            import zstandard

            d = zstandard.ZstdDecompressor().decompressobj()
        parts.append(d.decompress(rest))
        if not d.eof:  # the peek ends inside this one
            break
        rest = d.unused_data
    return b"".join(parts)


def show_bytes(raw: bytes, limit: int = 120) -> str:
    """Bytes from a trace as one quoted line a person can read: UTF-8 text as it is,
    anything else escaped once (``\\x00``, ``\\t``), cut to ``limit`` characters."""
    text = raw.decode("utf-8", "backslashreplace")
    shown = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    cut = shown[:limit] + ("..." if len(shown) > limit else "")
    return '"' + cut + '"'
