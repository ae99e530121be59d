"""Huge traces: many files (a glob) as one trace, and files cut into byte ranges.

A :class:`FileSetTrace` is one or more trace files read as one trace, in name order. For
``run --trace ... --workers W`` it is cut into :class:`ByteRange` s that are parsed and
replayed one a task, and their partial tallies merged (``harness/static/split.py``).

Where a range starts and ends (compression-aware):

- a plain file splits anywhere: ``start`` and ``end`` are byte offsets;
- a gzip file splits only where a member starts, a zstd file where a frame starts (a
  member or frame is never cut: it cannot be decompressed from its middle); a file of
  one member or frame is one range; bz2 and xz files are one range each.

Lines never straddle two ranges: in the file's decompressed bytes, with ``D(x)`` the
decompressed offset of ``x``, a range holds the bytes after the first newline at or after
``D(start)`` (from ``0`` for the file's first range) through the first newline at or after
``D(end)`` (or the end of the file). Consecutive ranges meet at the same newline, so every
line is in exactly one range, whatever the range sizes, and a range only reads past its
end to finish its last line.
"""

from __future__ import annotations

import copy
import glob
import io
import os
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..._errors import RoutebenchError
from .._trace import Chunk, Trace
from ._formats import ReadOptions
from ._io import BLOCK, ByteStream, display_name, sniff_compression
from ._reader import ChunkReader, ReadStats, describe_reading

#: files of a set whose first bytes estimate its length (see FileSetTrace.estimated_requests)
_ESTIMATE_FILES = 8

__all__ = ["ByteRange", "FileSetTrace", "RangeTrace", "plan_ranges", "range_bytes",
           "open_range", "is_glob", "expand_glob", "merge_stats", "open_file_set", "DEFAULT_SPLIT",
           "MIN_SPLIT"]

#: bytes a range aims at when none is asked for: the input over 4 ranges a worker, within
#: these bounds (a range pays for one task, and for building every scenario once)
DEFAULT_SPLIT = 256 << 20
MIN_SPLIT = 4 << 20

_MAGIC = {"gzip": b"\x1f\x8b\x08", "zstd": b"\x28\xb5\x2f\xfd"}
_READ = 1 << 20  # compressed bytes read at a time
_TAIL = 64 << 10  # bytes read at a time past a range's end, to finish its last line
_PROBE = 64 << 10  # decompressed bytes a member candidate must give without an error


def is_glob(spec: str) -> bool:
    """True when ``spec`` is a pattern (``*``, ``?``, ``[``) rather than an existing file."""
    return spec != "-" and not os.path.exists(spec) and any(c in spec for c in "*?[")


def expand_glob(pattern: str) -> list[str]:
    """The files a pattern names, sorted; none is an error naming the pattern."""
    paths = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True)
                   if os.path.isfile(p))
    if not paths:
        raise RoutebenchError(f"--trace {pattern!r}: no file matches the pattern (quote it so "
                              "the shell does not expand it; ** matches folders)")
    return paths


@dataclass(frozen=True)
class ByteRange:
    """One task's share of a file: ``[start, end)`` in the file's own (compressed) bytes."""

    path: str
    compression: str
    start: int
    end: int
    #: position in the whole trace (ranges are merged in this order)
    index: int = 0
    #: the file's position in the trace
    file_index: int = 0

    @property
    def first(self) -> bool:
        """The file's first range: it starts at the file's first line (headers included)."""
        return self.start == 0

    @property
    def size(self) -> int:
        return self.end - self.start


# -- planning ---------------------------------------------------------------------------
def _probe(f: Any, comp: str, at: int) -> bool:
    """Whether a member (gzip) or frame (zstd) starts at ``at``: its header is sound and it
    decompresses without an error for a while (or to its end)."""
    f.seek(at)
    data = f.read(_PROBE)
    if comp == "gzip":
        if len(data) < 10 or data[3] & 0xE0:  # reserved flag bits are zero
            return False
        d = zlib.decompressobj(31)
        try:
            out = d.decompress(data, _PROBE)
        except zlib.error:
            return False
        return bool(out) or d.eof
    import zstandard

    try:
        zstandard.get_frame_parameters(data)
        zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except zstandard.ZstdError:
        return False
    return True


def _next_member(f: Any, comp: str, offset: int) -> int | None:
    """The first member/frame start at or after ``offset``, or None (to the file's end)."""
    magic = _MAGIC[comp]
    pos = offset
    while True:
        f.seek(pos)
        block = f.read(_READ + len(magic) - 1)
        if len(block) < len(magic):
            return None
        i = block.find(magic)
        while i >= 0:
            if _probe(f, comp, pos + i):
                return pos + i
            i = block.find(magic, i + 1)
        if len(block) < _READ + len(magic) - 1:
            return None
        pos += _READ


def _file_ranges(path: str, size: int) -> list[tuple[str, int, int]]:
    """(compression, start, end) of one file's ranges of about ``size`` bytes."""
    try:
        total = os.path.getsize(path)
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise RoutebenchError(f"{path}: cannot open: {exc.strerror}") from None
    with f:
        comp = sniff_compression(f.read(16))
        if comp == "none":
            cuts = list(range(0, total, size)) or [0]
        elif comp in _MAGIC:
            cuts = [0]
            while True:
                nxt = _next_member(f, comp, max(cuts[-1] + 1, len(cuts) * size))
                if nxt is None:
                    break
                cuts.append(nxt)
        else:  # bz2 and xz: one range (their blocks are not found this cheaply)
            cuts = [0]
    bounds = [*cuts, total]
    return [(comp, a, b) for a, b in zip(bounds, bounds[1:])] or [(comp, 0, total)]


def plan_ranges(paths: Sequence[str], size: int) -> list[ByteRange]:
    """Every file's ranges of about ``size`` bytes, in trace order (see the module doc)."""
    if size < 1:
        raise RoutebenchError(f"split size {size}: must be at least 1 byte")
    out: list[ByteRange] = []
    for fi, path in enumerate(paths):
        if path == "-":
            raise RoutebenchError("--trace -: standard input cannot be split into byte ranges "
                                  "(it can be read only once); save it to a file")
        for comp, a, b in _file_ranges(path, size):
            out.append(ByteRange(path, comp, a, b, len(out), fi))
    return out


# -- reading a range ---------------------------------------------------------------------
def _members(f: Any, r: ByteRange) -> Iterator[tuple[bytes, bool]]:
    """Decompressed bytes from the member (frame) at ``r.start`` on, each marked past
    ``r.end`` or not; a member that does not end at ``r.end`` means a wrong cut."""
    if r.compression == "gzip":
        def new() -> Any:
            return zlib.decompressobj(31)
    else:
        import zstandard

        def new() -> Any:
            return zstandard.ZstdDecompressor().decompressobj()
    f.seek(r.start)
    pos = r.start  # compressed offset of the next byte fed
    member_at = pos  # where the current member started
    d = new()
    fed = False  # the current member has had input
    while True:
        raw = f.read(_READ)
        if not raw:
            if fed:
                raise EOFError(f"the {r.compression} stream ends inside a member")
            return
        buf = raw
        while buf:
            if not fed:
                if r.compression == "gzip":  # zero padding between members is allowed
                    stripped = buf.lstrip(b"\x00")
                    pos += len(buf) - len(stripped)
                    buf = stripped
                    if not buf:
                        break
                member_at = pos
                fed = True
            past = member_at >= r.end
            outs, rest = _inflate(d, r.compression, buf)
            pos += len(buf) - len(rest)
            buf = rest
            for out in outs:
                yield out, past
            if d.eof:
                if member_at < r.end < pos:
                    raise RoutebenchError(
                        f"{r.path}: byte {r.end:,} is not where a {r.compression} member "
                        "starts (a guessed cut was wrong); run it without --workers")
                d, fed = new(), False


def _inflate(d: Any, comp: str, buf: bytes) -> tuple[list[bytes], bytes]:
    """Feed ``buf`` to a member's decompressor: its output (in pieces of at most ``BLOCK``
    for gzip) and the input it did not take (the next member's, at a member's end)."""
    if comp != "gzip":
        out = d.decompress(buf)
        return [out] if out else [], d.unused_data if d.eof else b""
    outs = []
    while True:
        out = d.decompress(buf, BLOCK)
        if out:
            outs.append(out)
        buf = d.unconsumed_tail
        # output cut at BLOCK: more input is left, or zlib may hold more output
        if d.eof or len(out) < BLOCK:
            return outs, d.unused_data if d.eof else buf


def range_bytes(pieces: Iterator[tuple[bytes, bool]], first: bool) -> Iterator[bytes]:
    """The range's lines from its decompressed bytes, each marked past the range's end: from
    the first newline on (the start of the data for a file's first range) through the
    first newline past the end (see the module doc)."""
    skipping = not first
    for data, past in pieces:
        if skipping:
            if past:  # no newline before the end: the next range starts at the same one
                return
            i = data.find(b"\n")
            if i < 0:
                continue
            data = data[i + 1:]
            skipping = False
        if not past:
            if data:
                yield data
            continue
        i = data.find(b"\n")
        if i >= 0:
            yield data[:i + 1]
            return
        if data:
            yield data


class _RangeStream(io.RawIOBase):
    """A compressed range's line-aligned, decompressed bytes as a raw stream."""

    def __init__(self, r: ByteRange) -> None:
        self._f = open(r.path, "rb")  # noqa: SIM115 - closed by close()
        self._it = range_bytes(_members(self._f, r), r.first)
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._out.nbytes:
            nxt = next(self._it, None)
            if nxt is None:
                return 0
            self._out = memoryview(nxt)
        n = min(len(b), self._out.nbytes)
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        try:
            self._f.close()
        finally:
            super().close()


def _newline_at_or_after(f: Any, pos: int) -> int | None:
    """The offset of the first ``\\n`` at or after ``pos`` in a plain file, or None."""
    f.seek(pos)
    while True:
        b = f.read(_TAIL)
        if not b:
            return None
        i = b.find(b"\n")
        if i >= 0:
            return pos + i
        pos += len(b)


class _Slice(io.RawIOBase):
    """Bytes ``[a, b)`` of a plain file, read straight into the caller's buffer."""

    def __init__(self, path: str, a: int, b: int) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._f.seek(a)
        self._left = max(0, b - a)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._left <= 0:
            return 0
        mv = memoryview(b).cast("B")
        n = self._f.readinto(mv[:min(len(mv), self._left)]) or 0
        self._left -= n
        return n

    def close(self) -> None:
        try:
            self._f.close()
        finally:
            super().close()


def open_range(r: ByteRange) -> ByteStream:
    """The decompressed bytes of a range's lines (see the module doc); a whole file is read
    as ``run --trace FILE`` reads it."""
    size = os.path.getsize(r.path)
    if r.first and r.end >= size:
        from ._io import open_bytes

        return open_bytes(r.path)[0]
    if r.compression == "none":  # the same rule, found by two short reads
        with open(r.path, "rb") as f:
            a = 0 if r.first else _newline_at_or_after(f, r.start)
            b = _newline_at_or_after(f, r.end) if r.end < size else None
        a = size if a is None else a + (0 if r.first else 1)
        b = size if b is None else b + 1
        return cast(ByteStream, _Slice(r.path, a, b))
    if r.compression not in ("gzip", "zstd"):
        raise RoutebenchError(f"{r.path}: {r.compression} files are not split")
    return io.BufferedReader(_RangeStream(r), 1 << 20)


# -- traces -------------------------------------------------------------------------------
def merge_stats(parts: Sequence[tuple[ReadStats, int]], source: str) -> ReadStats:
    """One ``ReadStats`` of consecutive parts (each with the number of its file), as one
    pass over them would count: line numbers of quoted examples go on across a file's
    ranges."""
    from ._reader import MAX_EXAMPLES

    out = ReadStats(source=source, format=parts[0][0].format if parts else "",
                    compression=_one({p.compression for p, _ in parts}), complete=True)
    reasons: Counter[str] = Counter()
    offset, last_file = 0, None
    for p, fi in parts:
        if fi != last_file:
            offset, last_file = 0, fi
        out.header_lines += p.header_lines
        out.lines += p.lines
        out.used += p.used
        out.rejected += p.rejected
        out.bytes += p.bytes
        reasons.update(p.reasons)
        for line, why, text in p.examples:
            if len(out.examples) < MAX_EXAMPLES:
                out.examples.append((line + offset, why, text))
        offset += p.lines + p.header_lines
        out.complete &= p.complete
    out.reasons = reasons
    return out


def _one(values: set[str]) -> str:
    return values.pop() if len(values) == 1 else "mixed" if values else "none"


class RangeTrace(Trace):
    """One byte range of a trace file, read as a trace (a task's input); ``file``: the
    file's trace when it is open already."""

    name = "range"
    recorded = True

    def __init__(self, r: ByteRange, options: ReadOptions,
                 columns: tuple[str, ...] | None = None, file: Any = None) -> None:
        from . import FileTrace

        self.range = r
        self.file = file if file is not None else FileTrace(r.path, options)
        if columns:
            self.file.with_columns(*columns)
        self.opts = options
        self.route_on = self.file.route_on
        self.columns = self.file.columns
        self.available = self.file.available
        self.requests = None
        self.stats = None

    @property
    def label(self) -> str:
        return f"{self.file.label}[{self.range.start}:{self.range.end}]"

    def describe(self) -> dict[str, Any]:
        return {**self.file.describe(), "start": self.range.start, "end": self.range.end}

    def chunks(self) -> Iterator[Chunk]:
        f, r = self.file, self.range
        fmt = f.format
        if not r.first:  # a header is a file's first line: in its first range only
            fmt = copy.copy(fmt)
            fmt.header_lines = 0
        source = f.source if r.first else f"{f.source} (the byte range from {r.start:,})"
        stats = ReadStats(source=source, format=fmt.detail, compression=r.compression)
        self.stats = stats
        reader = ChunkReader(open_range(r), b"", fmt, self.opts, f.route_on, self.columns,
                             stats, sample=f._sample)
        yield from reader.chunks()
        self.requests = stats.used


class FileSetTrace(Trace):
    """Trace files read as one trace, in order: a glob's matches, or one file to split.

    ``chunks()`` reads them one after the other in this process (every metric as for one
    file); ``ranges(size)`` cuts them into :class:`ByteRange` s for tasks.
    """

    name = "files"
    summary = "trace files read as one trace"
    recorded = True

    def __init__(self, paths: Sequence[str], options: ReadOptions | None = None,
                 pattern: str | None = None, **kw: Any) -> None:
        from . import FileTrace

        if not paths:
            raise RoutebenchError("no trace files")
        opts = options or ReadOptions()
        if kw:
            opts = ReadOptions(**{**opts.__dict__, **kw})
        self.opts = opts
        self.pattern = pattern
        self.paths = list(paths)
        self.limit = opts.limit
        self.files = [FileTrace(p, copy.copy(opts)) for p in self.paths]
        for f in self.files[1:]:  # each kept 1 MiB of its start; a line's length needs less
            f._sample = f._sample[:_TAIL]
        first = self.files[0]
        self.opts = first.opts  # checked, the session gap in seconds
        for f in self.files[1:]:
            if f.format.detail != first.format.detail or f.route_on != first.route_on:
                raise RoutebenchError(
                    f"{f.source}: a {f.format.detail} trace routed on {f.route_on}, but "
                    f"{first.source} is a {first.format.detail} trace routed on "
                    f"{first.route_on}: the files of one --trace must share a format "
                    "(give them as separate --trace options)")
        self.route_on = first.route_on
        self.columns = first.columns
        self.available = first.available
        self.format = first.format
        self.requests = opts.limit
        self.stats = None

    @property
    def label(self) -> str:
        if self.pattern is not None:
            return self.pattern
        return self.files[0].label if len(self.files) == 1 else \
            f"{self.files[0].label} (+{len(self.files) - 1} files)"

    @property
    def raw_columns(self) -> tuple[str, ...]:
        return self.files[0].raw_columns

    def with_columns(self, *extra: str) -> FileSetTrace:
        for f in self.files:
            f.with_columns(*extra)
        self.columns = self.files[0].columns
        return self

    @property
    def bytes(self) -> int:
        return sum(os.path.getsize(p) for p in self.paths)

    def estimated_requests(self) -> int | None:
        """The count once read; else the lines a stored byte carries in up to
        ``_ESTIMATE_FILES`` of the files (spread over the set), times the set's bytes: a glob
        of thousands of files is not peeked into one by one."""
        if self.requests is not None:
            return self.requests
        step = max(1, len(self.files) // _ESTIMATE_FILES)
        picked = self.files[::step][:_ESTIMATE_FILES]
        counts = [f.estimated_requests() for f in picked]
        if None in counts:
            return None
        if len(picked) == len(self.files):
            return sum(c or 0 for c in counts)
        sizes = sum(os.path.getsize(f.path) for f in picked)
        return round(sum(c or 0 for c in counts) * self.bytes / max(sizes, 1))

    def describe(self) -> dict[str, Any]:
        # a glob of thousands of files: the first 50 paths (every result record has them)
        d: dict[str, Any] = {"name": "files", "pattern": self.pattern,
                             "files": len(self.paths), "paths": self.paths[:50],
                             "format": self.format.detail,
                             "compression": _one({f.compression for f in self.files}),
                             "route_on": self.route_on, "requests": self.requests}
        return describe_reading(d, self.format, self.route_on, self.opts, self.stats)

    def chunks(self) -> Iterator[Chunk]:
        """The files one after the other, in this process."""
        parts: list[tuple[ReadStats, int]] = []
        used = 0
        for fi, f in enumerate(self.files):
            opts = self.opts
            if self.limit is not None:
                if used >= self.limit:
                    break
                opts = copy.copy(opts)
                opts.limit = self.limit - used
            whole = ByteRange(f.path, f.compression, 0, os.path.getsize(f.path), fi, fi)
            rt = RangeTrace(whole, opts, file=f)
            yield from rt.chunks()
            assert rt.stats is not None
            parts.append((rt.stats, fi))
            used += rt.stats.used
        self.finish(parts)

    def finish(self, parts: Sequence[tuple[ReadStats, int]]) -> None:
        """What reading the files (or their ranges, in order) counted: the trace's stats;
        no usable request in any of them is an error, as for one file."""
        stats = self.stats = merge_stats(parts, self.label)
        if self.limit is not None and stats.used >= self.limit:
            stats.complete = False
        if stats.used == 0:
            raise RoutebenchError(
                f"{self.label}: no usable requests ({stats.summary()}"
                + (f"; first: line {stats.examples[0][0]}: {stats.examples[0][1]}"
                   if stats.examples else "") + ")")
        self.requests = stats.used

    def ranges(self, size: int) -> list[ByteRange]:
        """The byte ranges of about ``size`` bytes a task (see the module doc)."""
        return plan_ranges(self.paths, size)

    def range_trace(self, r: ByteRange) -> RangeTrace:
        return RangeTrace(r, self.opts, self.columns)

    def check_splittable(self) -> None:
        """Refuse what a split replay cannot count exactly, by option."""
        if self.limit is not None:
            raise RoutebenchError("--keys reads a trace file's first K requests, which byte "
                                  "ranges replayed apart cannot tell: give --keys without "
                                  "--workers, or split the whole trace")
        if "session" in self.columns and "session" not in self.format.raw and \
                self.opts.session.split(":")[0] in ("ua", "client"):
            raise RoutebenchError("sessions rebuilt from client IPs and times (--session ua or "
                                  "client) run on across byte ranges, so they cannot be split: "
                                  "route on another column, use --session cookie:NAME or "
                                  "field:NAME, or drop --workers")


def open_file_set(spec: str, options: ReadOptions | None = None, **kw: Any) -> FileSetTrace:
    """A glob's files (or one file) as one trace."""
    if spec == "-":
        raise RoutebenchError("--trace -: standard input cannot be split into byte ranges "
                              "(it can be read only once); save it to a file")
    if is_glob(spec):
        return FileSetTrace(expand_glob(spec), options, pattern=spec, **kw)
    if not os.path.exists(spec):
        raise RoutebenchError(f"{display_name(spec)}: no such file")
    return FileSetTrace([spec], options, **kw)
