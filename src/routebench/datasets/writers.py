"""Writing traces to files: the synthetic generators and ``trace convert``.

Formats written (each read back by :mod:`routebench.datasets.readers`):

- ``access-log``: NCSA combined, one request a line, the nginx/Apache default::

    203.0.113.7 - - [01/Jan/2024:00:00:00 +0000] "GET /blog/item-12 HTTP/1.1" 200 5120 "-" \
    "curl/8.4.0"

  (one line; the user agent is the last field)

  client from the ``client`` column, URL from ``path`` (or ``/`` + ``key`` or ``user``),
  user agent from ``ua``; a trace without times gets one request a millisecond.
- ``csv`` / ``tsv``: a header line of column names (``ts`` first when the
  trace has times, in seconds since the epoch), then one request a line.
- ``jsonl``: one JSON object a request with the same names.

The compression follows the output name: ``.gz``, ``.bz2``, ``.xz``, ``.zst``.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import numpy as np

from .._errors import RoutebenchError, choices
from ._trace import Chunk, InternedColumn, KeyColumn, Trace
from .readers._io import compression_of_name, strip_compression_suffix
from .synthetic import ACCESS_LOG_EPOCH

__all__ = ["WRITE_FORMATS", "write_trace", "open_output", "format_for_path"]

WRITE_FORMATS = ("access-log", "csv", "tsv", "jsonl")
_MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct",
           b"Nov", b"Dec")


_BY_EXTENSION = {".log": "access-log", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
                 ".ndjson": "jsonl", ".json": "jsonl"}


def format_for_path(path: str) -> str | None:
    """The write format a file name suggests (``x.log.gz`` -> access-log), or None when
    the name has no extension. An extension routebench does not write is refused."""
    ext = os.path.splitext(strip_compression_suffix(path))[1].lower()
    if not ext or path == "-":
        return None
    if ext not in _BY_EXTENSION:
        raise RoutebenchError(
            f"{path!r}: routebench does not write {ext} files; name the file .log, .csv, .tsv "
            f"or .jsonl (optionally + .gz, .bz2, .xz, .zst), or give --to "
            f"{choices(WRITE_FORMATS)}")
    return _BY_EXTENSION[ext]


@contextmanager
def open_output(path: str) -> Iterator[IO[bytes] | io.BufferedIOBase]:
    """A binary stream to ``path`` (``-``: stdout), compressed by its extension.

    Written to a temporary name and renamed at the end, so a failed run leaves
    no half file under the real name.
    """
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    kind = compression_of_name(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        raw = open(tmp, "wb")  # noqa: SIM115
    except OSError as exc:
        raise RoutebenchError(f"cannot write {path!r}: {exc.strerror}") from None
    try:
        if kind == "gzip":
            out: IO[bytes] | io.BufferedIOBase = gzip.GzipFile(
                fileobj=raw, mode="wb", compresslevel=6, mtime=0)
        elif kind == "bz2":
            out = bz2.BZ2File(raw, mode="wb")
        elif kind == "xz":
            out = lzma.LZMAFile(raw, mode="wb")
        elif kind == "zstd":
            import zstandard

            out = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False)
        else:
            out = raw
        buffered = io.BufferedWriter(out, 1 << 20) if out is raw else out
        yield buffered
        buffered.flush()
        if out is not raw:
            out.close()
        raw.close()
        os.replace(tmp, path)
    except BaseException:
        raw.close()
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _values(col: KeyColumn) -> tuple[np.ndarray, Sequence[bytes]]:
    """Ids and distinct values of a column (without a Python object a row)."""
    if isinstance(col, InternedColumn):
        return col.ids, col.vocab.values
    inner = getattr(col, "column", None)
    if isinstance(inner, InternedColumn):
        return inner.ids, inner.vocab.values
    keys = col.keys()
    return np.arange(len(keys)), keys


class _ClfTime:
    """Epoch seconds -> ``dd/Mon/yyyy:HH:MM:SS +0000``, cached per second."""

    def __init__(self) -> None:
        self.cache: dict[int, bytes] = {}

    def __call__(self, sec: int) -> bytes:
        b = self.cache.get(sec)
        if b is None:
            if len(self.cache) > 100_000:
                self.cache.clear()
            t = time.gmtime(sec)
            b = self.cache[sec] = b"%02d/%s/%04d:%02d:%02d:%02d +0000" % (
                t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)
        return b


def _access_lines(chunk: Chunk, start_index: int, clf: _ClfTime) -> bytes:
    n = len(chunk)
    cols = chunk.columns

    def col(name: str, default: bytes, fn: Callable[[bytes], bytes] | None = None) -> list[bytes]:
        """The column's values a row; ``fn`` is applied to distinct values only."""
        if name not in cols:
            return [default] * n
        ids, vals = _values(cols[name])
        if fn is not None:
            vals = [fn(v) for v in vals]
        return [vals[i] for i in ids.tolist()]

    def url_and_status(u: bytes) -> bytes:
        # status and size: a fixed function of the URL, a few 304s and 404s
        h = zlib.crc32(u)
        st = (b"404 153" if h % 97 == 0 else b"304 0" if h % 13 == 0
              else b"200 %d" % (200 + h % 60_000))
        return b'%s HTTP/1.1" %s' % (_escape(u), st)

    clients = col("client", b"-")
    if "path" in cols:
        urls = col("path", b"/", url_and_status)
    elif "url" in cols:
        urls = col("url", b"/", url_and_status)
    elif "key" in cols or "user" in cols:
        urls = col("key" if "key" in cols else "user", b"",
                   lambda k: url_and_status(b"/" + k))
    else:
        urls = [url_and_status(b"/")] * n
    uas = col("ua", b"-", _escape)
    if chunk.ts is not None:
        secs = np.floor(chunk.ts).astype(np.int64)
    else:
        secs = int(ACCESS_LOG_EPOCH) + (start_index + np.arange(n)) // 1000
    usec, inv = np.unique(secs, return_inverse=True)
    tv = [clf(s) for s in usec.tolist()]
    times = [tv[i] for i in inv.reshape(-1).tolist()]
    return b"".join([b'%s - - [%s] "GET %s "-" "%s"\n' % row
                     for row in zip(clients, times, urls, uas)])


def _escape(b: bytes) -> bytes:
    """Quotes and backslashes inside a quoted access-log field, escaped as nginx does."""
    if b'"' in b or b"\\" in b or b"\n" in b:
        return b.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")
    return b


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def write_trace(trace: Trace, path: str, fmt: str | None = None,
                columns: Sequence[str] | None = None,
                progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Write every request of ``trace`` to ``path`` in ``fmt``; returns what was written.

    ``columns`` picks the key columns of CSV/TSV/JSON output (default: all the
    trace's chunk columns); ``progress(n)`` is called with each chunk's size.
    """
    fmt = fmt or format_for_path(path) or "csv"
    if fmt not in WRITE_FORMATS:
        raise RoutebenchError(f"unknown output format {fmt!r}; available: {choices(WRITE_FORMATS)}")
    written = escaped = 0
    cols_out: list[str] | None = list(columns) if columns else None
    clf = _ClfTime()
    with open_output(path) as out:
        for chunk in trace.chunks():
            if cols_out is None:
                cols_out = [c for c in chunk.columns if c != "session"] or list(chunk.columns)
            missing = [c for c in cols_out if c not in chunk.columns]
            if missing:
                raise RoutebenchError(
                    f"no column {missing[0]!r} to write; the trace has: {choices(chunk.columns)}"
                )
            if fmt == "access-log":
                out.write(_access_lines(chunk, written, clf))
            else:
                escaped += _write_rows(out, chunk, cols_out, fmt, header=written == 0)
            written += len(chunk)
            if progress:
                progress(len(chunk))
    return {"path": path, "format": fmt, "requests": written, "columns": cols_out,
            "escaped": escaped}


def _write_rows(out: IO[bytes] | io.BufferedIOBase, chunk: Chunk, cols: Sequence[str], fmt: str,
                header: bool) -> int:
    """Write a chunk's rows; returns how many values were not UTF-8 (written escaped)."""
    data: list[list[str]] = []
    escaped = 0
    for c in cols:
        ids, vals = _values(chunk.columns[c])
        tv = [_text(v) for v in vals]
        bad = np.fromiter((not _is_utf8(v) for v in vals), dtype=bool, count=len(vals))
        if bad.any():
            escaped += int(bad[ids].sum())
        data.append([tv[i] for i in ids.tolist()])
    names = list(cols)
    if chunk.ts is not None:
        names = ["ts", *names]
        data = [[f"{t:.6f}".rstrip("0").rstrip(".") for t in chunk.ts.tolist()], *data]
    rows: Iterable[Sequence[str]] = zip(*data) if data else ()
    buf = io.StringIO()
    if fmt == "jsonl":
        for row in rows:
            obj: dict[str, Any] = dict(zip(names, row))
            if "ts" in obj:
                obj["ts"] = float(obj["ts"])
            buf.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        w = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        if header:
            w.writerow(names)
        w.writerows(rows)
    out.write(buf.getvalue().encode("utf-8", "surrogateescape"))
    return escaped


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
