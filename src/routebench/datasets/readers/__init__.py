"""Recorded traces: access logs, CSV/TSV, JSON lines and cache traces, streamed in chunks.

    >>> from routebench.datasets.readers import open_file, ReadOptions
    >>> t = open_file("access.log.gz", ReadOptions(route_on="client24"))  # doctest: +SKIP
    >>> for chunk in t.chunks(): ...                                      # doctest: +SKIP

A file is read in blocks of decompressed bytes and parsed by compiled
scanners into fixed-size columnar chunks (at most ``chunk_size`` lines each),
so memory stays flat however long the file is; ``trace.stats`` says how many
lines were read, used and rejected, and why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ..._errors import RoutebenchError, choices
from ..._units import parse_duration
from .._trace import Chunk, Trace
from ._formats import (
    FORMATS,
    ROUTE_ALIASES,
    ReadOptions,
    TraceFormat,
    detect_format,
    make_format,
)
from ._io import COMPRESSIONS, SNIFF, display_name, open_bytes
from ._logformat import BUILTIN_LOG_FORMATS, compile_log_format
from ._reader import ChunkReader, ReadStats, describe_reading

__all__ = [
    "BUILTIN_LOG_FORMATS",
    "COMPRESSIONS",
    "FORMATS",
    "FileTrace",
    "ReadOptions",
    "ReadStats",
    "compile_log_format",
    "detect_format",
    "open_file",
    "parse_duration",
]

#: the columns a chunk carries when they exist (besides the route-on column);
#: session is built only when asked for: rebuilding sessions costs a sort a chunk
_CHUNK_COLUMNS = ("client", "client24", "user", "ua", "path", "url", "key")
#: bytes read up front to detect the format (and kept: nothing is read twice)
_SESSION_HELP = "ua (client IP + user agent), client, cookie:NAME or field:NAME"


class FileTrace(Trace):
    """A recorded trace file (or ``-``: standard input, which can be read only once).

    ``requests`` is the ``limit`` if one was given, else None until a full
    read has counted the used requests.
    """

    name = "file"
    summary = "a recorded trace file"
    recorded = True

    def __init__(self, path: str | os.PathLike[str], options: ReadOptions | None = None,
                 **kw: Any) -> None:
        opts = options or ReadOptions()
        if kw:
            opts = ReadOptions(**{**opts.__dict__, **kw})
        if opts.chunk_size < 1:
            raise RoutebenchError(f"chunk size {opts.chunk_size}: must be at least 1")
        if opts.limit is not None and opts.limit < 1:
            raise RoutebenchError(f"limit {opts.limit}: must be at least 1 request")
        opts.session_gap = parse_duration(opts.session_gap)
        self.opts = opts
        self.path = str(path)
        self.source = display_name(path)
        self.chunk_size = opts.chunk_size
        self.requests = opts.limit
        self.stats = None
        self._stdin: tuple[Any, bytes] | None = None
        self._used_stdin = False
        stream, comp = open_bytes(self.path)
        head = self._read_head(stream, comp)
        if self.path == "-":
            self._stdin = (stream, head)
        else:
            stream.close()
        if not head.strip():
            raise RoutebenchError(f"{self.source}: empty file (no requests)")
        self.compression = comp
        self._sample = head[:SNIFF]
        self.format: TraceFormat = make_format(opts.format, opts, head, self.source)
        #: every column a request could route on
        self.available = self._available()
        self.route_on = self._route(opts.route_on)
        if self.route_on == "session" or opts.session != "ua":
            self._check_session()
        #: the columns each chunk carries (others: ``with_columns``)
        self.columns = tuple(dict.fromkeys(
            [self.route_on] + [c for c in _CHUNK_COLUMNS if c in self.available]))

    def estimated_requests(self) -> int | None:
        """The limit, the count of a full read, or about as many as the file has lines."""
        if self.requests is not None:
            return self.requests
        from ._io import estimate_lines

        return estimate_lines(self.path)

    def _read_head(self, stream, comp: str) -> bytes:
        parts = []
        got = 0
        try:
            while got < SNIFF:
                b = stream.read(SNIFF - got)
                if not b:
                    break
                parts.append(b)
                got += len(b)
        except Exception as exc:  # noqa: BLE001 - decompressors raise many kinds
            what = f"{comp}-compressed data" if comp != "none" else "data"
            raise RoutebenchError(
                f"{self.source}: cannot read {what}: {exc or type(exc).__name__} "
                "(corrupt or truncated?)"
            ) from None
        return b"".join(parts)

    def _available(self) -> tuple[str, ...]:
        raw = self.format.raw
        cols = list(raw)
        if "client" in raw:
            cols.append("client24")
            if "ua" in raw and "user" not in raw:
                cols.append("user")
        if "session" not in raw and "client" in raw and self.format.has_ts:
            cols.append("session")
        elif "session" not in raw and self.opts.session.split(":")[0] in ("cookie", "field"):
            cols.append("session")
        return tuple(dict.fromkeys(cols))

    def _route(self, route: str | None) -> str:
        r = route or self.format.default_route
        r = ROUTE_ALIASES.get(r, r)
        if r not in self.available:
            raise RoutebenchError(
                f"{self.source}: cannot route on {route!r}; this {self.format.name} trace has: "
                f"{choices(self.available)}"
            )
        return r

    def _check_session(self) -> None:
        kind, _, name = self.opts.session.partition(":")
        raw = self.format.raw
        if kind not in ("ua", "client", "cookie", "field") or (kind in ("cookie", "field")
                                                                and not name):
            raise RoutebenchError(f"--session {self.opts.session!r}: expected {_SESSION_HELP}")
        if kind == "cookie" and f"cookie_{name}" not in raw and "http_cookie" not in raw:
            raise RoutebenchError(
                f"{self.source}: --session cookie:{name} needs cookies in the log; add "
                f"$http_cookie or $cookie_{name} to --log-format"
            )
        if kind == "field" and name not in raw:
            raise RoutebenchError(
                f"{self.source}: --session field:{name}: no such column; this trace has: "
                f"{choices(raw)}"
            )
        if kind in ("ua", "client") and "session" not in raw and not (
                "client" in raw and self.format.has_ts):
            raise RoutebenchError(
                f"{self.source}: sessions are rebuilt from client IPs and request times, "
                "and this trace lacks one of them; use --session field:NAME or cookie:NAME"
            )

    def with_columns(self, *extra: str) -> FileTrace:
        """Also build these columns in every chunk (e.g. ``session`` for inspection).

        Columns the trace does not have are refused by name.
        """
        cols = []
        for c in extra:
            c = ROUTE_ALIASES.get(c, c)
            if c not in self.available:
                raise RoutebenchError(
                    f"{self.source}: no column {c!r}; this trace has: {choices(self.available)}"
                )
            if c == "session" and self.route_on != "session":
                self._check_session()
            cols.append(c)
        return super().with_columns(*cols)

    @property
    def label(self) -> str:
        return os.path.basename(self.path) if self.path != "-" else "<stdin>"

    @property
    def raw_columns(self) -> tuple[str, ...]:
        return tuple(self.format.raw)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": "file", "path": self.path, "format": self.format.detail,
                             "compression": self.compression, "route_on": self.route_on,
                             "requests": self.requests, "chunk_size": self.chunk_size}
        return describe_reading(d, self.format, self.route_on, self.opts, self.stats)

    def chunks(self) -> Iterator[Chunk]:
        """One pass over the file; ``self.stats`` is filled in as it goes."""
        if self._stdin is not None:
            if self._used_stdin:
                raise RoutebenchError("<stdin> can be read only once; save it to a file to "
                                      "replay it again")
            self._used_stdin = True
            stream, head = self._stdin
            comp = self.compression
        else:
            stream, comp = open_bytes(self.path)
            head = b""
        stats = ReadStats(source=self.source, format=self.format.detail, compression=comp)
        self.stats = stats
        reader = ChunkReader(stream, head, self.format, self.opts, self.route_on, self.columns,
                             stats, sample=self._sample)
        yield from reader.chunks()
        if stats.used == 0:
            raise RoutebenchError(
                f"{self.source}: no usable requests ({stats.summary()}"
                + (f"; first: line {stats.examples[0][0]}: {stats.examples[0][1]}"
                   if stats.examples else "") + ")"
            )
        if self.opts.limit is None or stats.complete:
            self.requests = stats.used


def open_file(path: str | os.PathLike[str], options: ReadOptions | None = None,
              **kw: Any) -> FileTrace:
    """A recorded trace; ``options``/keywords are :class:`ReadOptions` fields."""
    return FileTrace(path, options, **kw)


from ._split import (  # noqa: E402 - they build on FileTrace
    ByteRange,
    FileSetTrace,
    RangeTrace,
    is_glob,
    open_file_set,
    plan_ranges,
)

__all__ += ["ByteRange", "FileSetTrace", "RangeTrace", "is_glob", "open_file_set",
            "plan_ranges"]
