"""Trace formats: each turns a run of lines in a byte buffer into a ``Piece``.

A piece has one row a line read (rejected lines included, with a reason
code), the request times, and key columns either interned while parsing
(``fused``) or as byte slices to intern on first use (``starts``/``ends``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import numpy as np

from ..._errors import RoutebenchError, choices
from .._trace import DEFAULT_CHUNK
from . import _kernels as K
from ._io import SNIFF, show_bytes, strip_compression_suffix
from ._logformat import _TIME_VARS, BUILTIN_LOG_FORMATS, LogProgram, compile_log_format

__all__ = ["ReadOptions", "Piece", "TraceFormat", "FORMATS", "FORMAT_ALIASES", "detect_format",
           "make_format", "ROUTE_ALIASES", "unquote_csv"]

#: --route-on spellings -> column names
ROUTE_ALIASES = {"ip": "client", "client-ip": "client", "client_ip": "client",
                 "/24": "client24", "/64": "client24", "prefix": "client24", "subnet": "client24",
                 "client/24": "client24", "client-prefix": "client24", "cache-key": "key",
                 "cache_key": "key", "uri": "url", "cookie": "session"}

#: well-known column names in CSV headers and JSON fields -> routebench columns
_ALIASES = {
    "ts": "ts", "time": "ts", "timestamp": "ts", "op_time": "ts", "@timestamp": "ts",
    "time_local": "ts", "datetime": "ts", "date": "ts", "epoch": "ts",
    "client": "client", "client_ip": "client", "clientip": "client", "ip": "client",
    "remote_addr": "client", "src_ip": "client", "client_id": "client", "host_ip": "client",
    "key": "key", "cache_key": "key", "obj_id": "key", "object": "key", "object_id": "key",
    "session": "session", "session_id": "session", "sessionid": "session", "sid": "session",
    "path": "path", "uri": "path", "request_path": "path", "url": "url", "request_url": "url",
    "user": "user", "user_id": "user", "userid": "user", "uid": "user",
    "ua": "ua", "user_agent": "ua", "useragent": "ua", "agent": "ua", "http_user_agent": "ua",
}


@dataclass
class ReadOptions:
    """How to read a trace file; every field has a sensible default."""

    format: str | None = None        # None: detect from extension and content
    log_format: str | None = None    # access logs: builtin name or nginx/Apache format string
    columns: str | Mapping[str, Any] | None = None  # "ts=0,client=4,key=1" (index or name)
    route_on: str | None = None      # the column strategies route on
    session: str = "ua"              # ua | client | cookie:NAME | field:NAME
    session_gap: float = 1800.0      # seconds of inactivity that end a rebuilt session
    strict: bool = False             # the first rejected line is an error
    chunk_size: int = DEFAULT_CHUNK  # lines a chunk
    limit: int | None = None         # stop after this many used requests
    header: bool | None = None       # CSV/TSV: first line is a header (None: guess)


@dataclass
class Piece:
    """One parsed run of lines (rows = lines read, rejected ones included)."""

    n: int
    errcode: np.ndarray
    errtok: np.ndarray
    lstart: np.ndarray
    ts: np.ndarray | None
    # column -> (ids with -1 where absent, distinct values factory, distinct count)
    fused: dict[str, tuple[np.ndarray, Callable[[], list[bytes]], int]] = field(
        default_factory=dict)
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    slots: dict[str, int] = field(default_factory=dict)
    # rows rejected by Python-side parsing: row -> reason (JSON lines)
    reasons: dict[int, str] = field(default_factory=dict)
    # CSV: a quoted field's doubled quotes ("") stand for one
    unquote: bool = False


def parse_column_map(text: str | Mapping[str, Any] | None) -> dict[str, int | str]:
    """``ts=0,client=4,key=1`` or ``ts=time,key=url`` -> {column: index or name}."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        items = list(text.items())
    else:
        items = []
        for part in str(text).split(","):
            if not part.strip():
                continue
            name, eq, src = part.partition("=")
            if not eq or not name.strip() or not src.strip():
                raise RoutebenchError(
                    f"--columns {text!r}: {part!r} is not NAME=SOURCE; expected e.g. "
                    "ts=0,client=4,key=1 (column numbers from 0) or ts=time,key=url (names)"
                )
            items.append((name.strip(), src.strip()))
    out: dict[str, int | str] = {}
    for name, src in items:
        name = {"timestamp": "ts", "time": "ts"}.get(name, name)
        if isinstance(src, int) or (isinstance(src, str) and src.isdigit()):
            out[name] = int(src)
        else:
            out[name] = str(src)
    if not out:
        raise RoutebenchError(f"--columns {text!r}: no columns given")
    return out


class TraceFormat:
    """A readable trace format; subclasses parse lines into pieces."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: raw columns this instance provides (before derived ones)
    raw: tuple[str, ...] = ()
    has_ts: bool = False
    header_lines: int = 0
    #: the default route-on column
    default_route: str = "key"

    def __init__(self, opts: ReadOptions, head: bytes, source: str) -> None:
        self.opts = opts
        self.source = source

    @property
    def detail(self) -> str:
        """What the format was read as, for reports (e.g. the log format)."""
        return self.name

    def reason(self, code: int, tok: int) -> str:
        return {K.E_BLANK: "blank line", K.E_QUOTE: "unterminated quoted field",
                K.E_TIME: "not a time"}.get(code, f"malformed line (code {code})")

    def parse(self, buf: np.ndarray, w64: np.ndarray, pos: int, end: int, max_lines: int,
              fuse: Sequence[str], keep: Sequence[str] | None = None) -> tuple[Piece, int]:
        """Parse up to ``max_lines`` lines of buf[pos:end]; (piece, next position).

        ``fuse``: columns to intern while parsing; ``keep``: the columns whose
        slices the piece must hold (None: all).
        """
        raise NotImplementedError


# -- access logs ------------------------------------------------------------
_COMBINED_RE = re.compile(
    rb'^\S+ \S+ .*?\[[^\]]+\] "(?:[^"\\]|\\.)*" \d{3} \S+ "(?:[^"\\]|\\.)*" "')
_COMMON_RE = re.compile(rb'^\S+ \S+ .*?\[[^\]]+\] "(?:[^"\\]|\\.)*" \d{3} \S+')


class AccessLog(TraceFormat):
    name = "access-log"
    summary = ("NCSA common/combined access logs (nginx, Apache defaults); "
               "--log-format for custom nginx log_format or Apache LogFormat strings")
    default_route = "client"

    def __init__(self, opts: ReadOptions, head: bytes, source: str) -> None:
        super().__init__(opts, head, source)
        fmt = opts.log_format
        if fmt is None:
            lines = [ln for ln in head.split(b"\n")[:50] if ln.strip()]
            combined = sum(1 for ln in lines if _COMBINED_RE.match(ln))
            fmt = "combined" if combined * 2 >= max(len(lines), 1) else "common"
        self.log_format = fmt
        self.prog: LogProgram = compile_log_format(fmt)
        p = self.prog
        self.client_var = p.client_var
        slots: dict[str, int] = {}
        for i, v in enumerate(p.fields):
            slots[v] = i
        nf = len(p.fields)
        self.req_slot = p.slot("request")
        self.url_slot, self.path_slot = nf, nf + 1
        if self.client_var:
            slots["client"] = slots[self.client_var]
        if "http_user_agent" in slots:
            slots["ua"] = slots["http_user_agent"]
        if "http_referer" in slots:
            slots["referer"] = slots["http_referer"]
        if self.req_slot is not None:
            slots["url"], slots["path"] = self.url_slot, self.path_slot
        else:
            if "request_uri" in slots:
                slots["url"] = slots["request_uri"]
            if "uri" in slots:
                slots["path"] = slots["uri"]
        self.slots = slots
        self._layouts: dict[Any, Any] = {}
        aliased = {self.client_var, "http_user_agent", "http_referer", "request_uri", "uri",
                   *_TIME_VARS}
        self.raw = tuple(c for c in slots if c not in aliased)
        self.has_ts = p.time_var is not None
        if "client" not in slots:
            self.default_route = "path" if "path" in slots else p.fields[0]

    @property
    def detail(self) -> str:
        return f"access-log ({self.log_format})" if self.log_format in BUILTIN_LOG_FORMATS \
            else "access-log (custom log format)"

    def reason(self, code: int, tok: int) -> str:
        p = self.prog
        if code == K.E_LITERAL:
            prev = f" after {p.describe_token(tok - 1)}" if tok > 0 else " at the line start"
            why = f"expected {p.describe_token(tok)}{prev}"
        elif code == K.E_FIELD:
            why = f"{p.describe_token(tok)} is not followed by {p.describe_token(tok + 1)}"
        elif code == K.E_TIME:
            why = f"{p.describe_token(tok)} is not a time"
        elif code == K.E_STATUS:
            why = f"{p.describe_token(tok)} is not a 3-digit status"
        else:
            return super().reason(code, tok)
        return f"not an access-log line ({why})"

    def _layout(self, keep: Sequence[str] | None) -> tuple[Any, ...]:
        """(token -> slot map, column -> slot, request/url/path slots) storing only ``keep``."""
        key = None if keep is None else tuple(sorted(set(keep)))
        cached = self._layouts.get(key)
        if cached is not None:
            return cached
        p = self.prog
        nf = len(p.fields)
        want = set(self.slots) if keep is None else {c for c in keep if c in self.slots}
        split = self.req_slot is not None and bool(want & {"url", "path"})
        fields = {p.fields[self.slots[c]] for c in want if self.slots[c] < nf}
        if split:
            fields.add("request")
        order = [v for v in p.fields if v in fields]
        new = {v: i for i, v in enumerate(order)}
        fslot = np.array([new.get(p.fields[s], -1) if s >= 0 else -1 for s in p.fslot.tolist()],
                         dtype=np.int64)
        url_slot, path_slot = len(order), len(order) + 1
        slots = {}
        for c, s in self.slots.items():
            if s < nf and p.fields[s] in new:
                slots[c] = new[p.fields[s]]
            elif split and s == self.url_slot:
                slots[c] = url_slot
            elif split and s == self.path_slot:
                slots[c] = path_slot
        req = new["request"] if split else -1
        out = (fslot, slots, req, url_slot, path_slot, len(order) + (2 if split else 0))
        self._layouts[key] = out
        return out

    def parse(self, buf: np.ndarray, w64: np.ndarray, pos: int, end: int, max_lines: int,
              fuse: Sequence[str], keep: Sequence[str] | None = None) -> tuple[Piece, int]:
        p = self.prog
        m = max_lines
        fslot, slots, req, url_slot, path_slot, nslots = self._layout(keep)
        starts = np.empty((m, max(nslots, 1)), np.int32)
        ends = np.empty((m, max(nslots, 1)), np.int32)
        ts = np.empty(m, np.float64)
        ec = np.empty(m, np.int8)
        et = np.empty(m, np.int16)
        ls = np.empty(m, np.int64)
        fcols = [c for c in fuse if c in slots]
        nj = max(len(fcols), 1)
        us = np.empty(nj * m, np.int64)
        ue = np.empty(nj * m, np.int64)
        nu = np.zeros(nj, np.int64)
        ids = np.empty(nj * m, np.int64)
        icols = np.array([slots[c] for c in fcols], dtype=np.int64)
        n, pos = K.parse_log_lines(
            buf, w64, pos, end, m, p.kinds, p.lit_off, p.lit_len, p.lits, p.ftype, fslot,
            p.quoted, starts, ends, ts, ec, et, ls, req, url_slot, path_slot,
            icols, us, ue, nu, ids)
        piece = Piece(n, ec[:n], et[:n], ls[:n], ts[:n] if self.has_ts else None,
                      starts=starts[:n], ends=ends[:n], slots=slots)
        for j, c in enumerate(fcols):
            piece.fused[c] = _fused(buf, ids[j * m:j * m + n], us[j * m:j * m + nu[j]],
                                    ue[j * m:j * m + nu[j]])
        return piece, pos


def _fused(buf: np.ndarray, ids: np.ndarray, us: np.ndarray, ue: np.ndarray,
           unquote: bool = False) -> tuple[np.ndarray, Callable[[], list[bytes]], int]:
    mv = buf.data
    s_list, e_list = us.tolist(), ue.tolist()

    def values() -> list[bytes]:
        out = [mv[s:e].tobytes() for s, e in zip(s_list, e_list)]
        return [unquote_csv(v) for v in out] if unquote else out
    return ids, values, len(s_list)


def unquote_csv(v: bytes) -> bytes:
    """A CSV field's value: ``""`` inside a quoted field is one quote (RFC 4180)."""
    return v.replace(b'""', b'"') if b'""' in v else v


# -- delimited: CSV, TSV, cache traces, ARC --------------------------------
class Delimited(TraceFormat):
    """Shared by CSV/TSV and the fixed-layout cache traces."""

    delim = b","
    collapse = False
    #: fixed layout (no header): column -> index
    layout: ClassVar[dict[str, int]] = {}
    need: int = 1

    def __init__(self, opts: ReadOptions, head: bytes, source: str) -> None:
        super().__init__(opts, head, source)
        self.colmap = self._column_map(head)
        self._setup()

    def _first_line(self, head: bytes) -> list[str]:
        line = head.split(b"\n", 1)[0].rstrip(b"\r")
        text = line.decode("utf-8", "replace")
        if self.collapse:
            return text.split()
        import csv

        row = next(csv.reader([text], delimiter=self.delim.decode()), [])
        return [c.strip() for c in row]

    def _column_map(self, head: bytes) -> dict[str, int]:
        given = parse_column_map(self.opts.columns)
        first = self._first_line(head)
        if self.layout and not given:
            self.header_lines = 0
            return dict(self.layout)
        names = [c.lower() for c in first]
        header = self.opts.header
        if header is None:
            known = set(_ALIASES) | {str(v).lower() for v in given.values() if isinstance(v, str)}
            header = any(n in known for n in names) or (
                bool(given) and all(isinstance(v, str) for v in given.values()))
            if header and all(_is_number(c) for c in first if c):
                header = False
        self.header_lines = 1 if header else 0
        out: dict[str, int] = {}
        if given:
            for col, src in given.items():
                if isinstance(src, int):
                    out[col] = src
                else:
                    if not header:
                        raise RoutebenchError(
                            f"{self.source}: --columns names {src!r} but the file has no header "
                            "line; use column numbers (from 0), e.g. ts=0,key=1"
                        )
                    try:
                        out[col] = names.index(src.lower())
                    except ValueError:
                        raise RoutebenchError(
                            f"{self.source}: no column {src!r} in the header; it has: "
                            f"{choices(first)}"
                        ) from None
            return out
        if not header:
            if len(first) == 1:
                return {"key": 0}
            raise RoutebenchError(
                f"{self.source}: {self.name.upper()} without a header line; say which column is "
                "which with --columns, e.g. ts=0,client=4,key=1 (column numbers from 0)"
            )
        for i, nm in enumerate(names):
            canon = _ALIASES.get(nm, nm)
            out.setdefault(canon, i)
            if canon != nm:
                out.setdefault(nm, i)
        return out

    def _setup(self) -> None:
        cm = self.colmap
        width = max(cm.values()) + 1
        self.col_slot = np.full(width, -1, np.int64)
        # one slot per distinct source column; aliases share it
        by_src: dict[int, int] = {}
        slots: dict[str, int] = {}
        for c, src in cm.items():
            if src not in by_src:
                by_src[src] = len(by_src)
                self.col_slot[src] = by_src[src]
            slots[c] = by_src[src]
        self.slots = slots
        self.nslots = len(by_src)
        self.need = max(self.need, width)
        self.has_ts = "ts" in cm
        self.ts_slot = slots["ts"] if self.has_ts else -1
        self.raw = tuple(c for c in slots if c != "ts")
        for pref in ("key", "client", "session", "path", "url", "user"):
            if pref in slots:
                self.default_route = pref
                break
        else:
            self.default_route = self.raw[0] if self.raw else "key"

    def reason(self, code: int, tok: int) -> str:
        if code == K.E_FIELDS:
            return f"{tok} column{'s' if tok != 1 else ''}, expected at least {self.need}"
        if code == K.E_TIME:
            return "the time column is not a time (seconds, ISO 8601 or NCSA)"
        return super().reason(code, tok)

    def parse(self, buf: np.ndarray, w64: np.ndarray, pos: int, end: int, max_lines: int,
              fuse: Sequence[str], keep: Sequence[str] | None = None) -> tuple[Piece, int]:
        m = max_lines
        starts = np.empty((m, max(self.nslots, 1)), np.int32)
        ends = np.empty((m, max(self.nslots, 1)), np.int32)
        ts = np.empty(m, np.float64)
        ec = np.empty(m, np.int8)
        et = np.empty(m, np.int16)
        n, npos = K.parse_delimited(buf, pos, end, m, self.delim[0], self.collapse, self.col_slot,
                                    self.need, self.ts_slot, starts, ends, ts, ec, et)
        # line starts, for the messages about rejected lines
        ls = np.empty(n, np.int64)
        le = np.empty(n, np.int64)
        K.line_spans(buf, pos, npos, n, ls, le)
        piece = Piece(n, ec[:n], et[:n], ls, ts[:n] if self.has_ts else None,
                      starts=starts[:n], ends=ends[:n], slots=self.slots,
                      unquote=not self.collapse)
        fcols = [c for c in fuse if c in self.slots and c != "ts"]
        if fcols and n:
            nj = len(fcols)
            us = np.empty(nj * n, np.int64)
            ue = np.empty(nj * n, np.int64)
            nu = np.zeros(nj, np.int64)
            ids = np.empty(nj * n, np.int64)
            cols = np.array([self.slots[c] for c in fcols], dtype=np.int64)
            K.intern_rows(buf, w64, piece.starts, piece.ends, n, cols, us, ue, nu, ids,
                          piece.errcode == 0)
            for j, c in enumerate(fcols):
                piece.fused[c] = _fused(buf, ids[j * n:(j + 1) * n], us[j * n:j * n + nu[j]],
                                        ue[j * n:j * n + nu[j]], piece.unquote)
        return piece, npos


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


class Csv(Delimited):
    name = "csv"
    summary = "comma-separated, with a header line or --columns ts=0,client=4,key=1"


class Tsv(Delimited):
    name = "tsv"
    summary = "tab-separated, with a header line or --columns"
    delim = b"\t"


class TwitterTrace(Delimited):
    name = "twitter"
    summary = ("Twitter cache-trace CSV: timestamp, anonymized key, key size, value size, "
               "client id, operation, TTL (no header)")
    layout = {"ts": 0, "key": 1, "key_size": 2, "value_size": 3, "client": 4, "op": 5, "ttl": 6}
    need = 7


class CacheLibTrace(Delimited):
    name = "cachelib"
    summary = ("Meta CacheLib kvcache CSV with a header (key,op,size,op_count,key_size or "
               "op_time,key,key_size,op,op_count,size,cache_hits,ttl variants)")

    def _column_map(self, head: bytes) -> dict[str, int]:
        if self.opts.header is None:
            self.opts = ReadOptions(**{**self.opts.__dict__, "header": True})
        return super()._column_map(head)


class ArcTrace(Delimited):
    name = "arc"
    summary = ("ARC/.lis block trace: 'starting_block number_of_blocks ignore request_number' "
               "a line; routes on the starting block")
    layout = {"key": 0, "blocks": 1}
    need = 2
    collapse = True


# -- JSON lines ---------------------------------------------------------------
class JsonLines(TraceFormat):
    name = "jsonl"
    summary = "JSON lines, one object a request; --columns ts=time,key=url names the fields"

    def __init__(self, opts: ReadOptions, head: bytes, source: str) -> None:
        super().__init__(opts, head, source)
        given = parse_column_map(opts.columns)
        if given:
            self.fields = {c: str(src) for c, src in given.items()}
        else:
            sample: dict[str, Any] = {}
            for line in head.split(b"\n")[:20]:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    sample = obj
                    break
            self.fields = {}
            for k in sample:
                canon = _ALIASES.get(k.lower(), k)
                self.fields.setdefault(canon, k)
        self.has_ts = "ts" in self.fields
        self.raw = tuple(c for c in self.fields if c != "ts")
        for pref in ("key", "client", "session", "path", "url", "user"):
            if pref in self.fields:
                self.default_route = pref
                break
        else:
            self.default_route = self.raw[0] if self.raw else "key"
        self._paths = {c: f.split(".") for c, f in self.fields.items()}

    def parse(self, buf: np.ndarray, w64: np.ndarray, pos: int, end: int, max_lines: int,
              fuse: Sequence[str], keep: Sequence[str] | None = None) -> tuple[Piece, int]:
        m = max_lines
        ls = np.empty(m, np.int64)
        le = np.empty(m, np.int64)
        n, npos = K.line_spans(buf, pos, end, m, ls, le)
        ls, le = ls[:n], le[:n]
        mv = buf.data
        ec = np.zeros(n, np.int8)
        et = np.full(n, -1, np.int16)
        ts = np.full(n, np.nan) if self.has_ts else None
        cols = [c for c in self.raw]
        index: dict[str, dict[bytes, int]] = {c: {} for c in cols}
        ids = {c: np.full(n, -1, np.int64) for c in cols}
        reasons: dict[int, str] = {}
        loads = json.loads
        for i, (s, e) in enumerate(zip(ls.tolist(), le.tolist())):
            if e <= s:
                ec[i] = K.E_BLANK
                continue
            try:
                obj = loads(mv[s:e].tobytes())
            except (ValueError, UnicodeDecodeError) as exc:
                ec[i] = 100
                reasons[i] = f"not JSON ({str(exc).split(':')[0]})"
                continue
            if not isinstance(obj, dict):
                ec[i] = 100
                reasons[i] = f"a JSON {type(obj).__name__}, not an object"
                continue
            if ts is not None:
                v = _get(obj, self._paths["ts"])
                t = _json_time(v)
                if t is None:
                    ec[i] = K.E_TIME
                    reasons[i] = f"field {self.fields['ts']!r} is not a time: {v!r}"[:200]
                    continue
                ts[i] = t
            for c in cols:
                v = _get(obj, self._paths[c])
                if v is None:
                    continue
                b = v.encode("utf-8", "surrogateescape") if isinstance(v, str) else \
                    json.dumps(v, separators=(",", ":")).encode()
                d = index[c]
                ids[c][i] = d.setdefault(b, len(d))
        piece = Piece(n, ec, et, ls, ts, reasons=reasons)
        for c in cols:
            vals = list(index[c])
            piece.fused[c] = (ids[c], partial(_same, vals), len(vals))
        return piece, npos


def _get(obj: Any, path: list[str]) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _json_time(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        b = np.frombuffer(v.encode("utf-8", "replace"), np.uint8)
        t = K.parse_any_time(b, 0, b.size) if b.size else float("nan")
        return None if t != t else float(t)
    return None


FORMATS: dict[str, type[TraceFormat]] = {
    f.name: f for f in (AccessLog, Csv, Tsv, JsonLines, TwitterTrace, CacheLibTrace, ArcTrace)
}
#: other names accepted by --format
FORMAT_ALIASES = {"combined": "access-log", "common": "access-log", "nginx": "access-log",
                  "apache": "access-log", "access": "access-log", "log": "access-log",
                  "json": "jsonl", "ndjson": "jsonl", "lis": "arc", "kvcache": "cachelib"}

_EXT_FORMAT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".lis": "arc", ".tsv": "tsv",
               ".tab": "tsv"}
_TWITTER_OPS = {b"get", b"gets", b"set", b"add", b"replace", b"cas", b"append", b"prepend",
                b"delete", b"incr", b"decr"}
_ARC_RE = re.compile(rb"^\s*\d+\s+\d+(\s+\d+)*\s*$")


def detect_format(head: bytes, path: str) -> str | None:
    """The format name that fits the first bytes of a trace (and its name), or None."""
    import os

    ext = os.path.splitext(strip_compression_suffix(path))[1]
    if ext in _EXT_FORMAT:
        return _EXT_FORMAT[ext]
    lines = [ln.rstrip(b"\r") for ln in head.split(b"\n")[:-1] if ln.strip()][:50]
    if not lines and head.strip():
        lines = [head.strip()]
    if not lines:
        return None
    first = lines[0]
    if first.lstrip().startswith(b"{"):
        return "jsonl"
    if sum(1 for ln in lines if _COMMON_RE.match(ln)) * 2 >= len(lines):
        return "access-log"
    if all(_ARC_RE.match(ln) for ln in lines):
        return "arc"
    low = first.lower()
    if b"," in first:
        names = [c.strip().strip(b'"') for c in low.split(b",")]
        if b"key" in names and b"op" in names and (b"op_count" in names or b"op_time" in names):
            return "cachelib"
        tw = [ln.split(b",") for ln in lines[:20]]
        if all(len(r) == 7 and r[0].strip().isdigit() and r[5].strip().lower() in _TWITTER_OPS
               for r in tw):
            return "twitter"
    if b"\t" in first:
        return "tsv"
    if b"," in first or ext == ".csv":
        return "csv"
    return None


def make_format(name: str | None, opts: ReadOptions, head: bytes, source: str) -> TraceFormat:
    """The format ``name`` (or the detected one) configured for this trace."""
    if name is None:
        if opts.log_format is not None:
            name = "access-log"
        else:
            name = detect_format(head, source)
        if name is None:
            first = head.split(b"\n", 1)[0]
            if len(first) == len(head) and len(head) >= SNIFF:
                raise RoutebenchError(
                    f"{source}: the first line is longer than {SNIFF >> 20} MiB, too long "
                    f"to tell the format from; give --trace-format, one of: {choices(FORMATS)}")
            raise RoutebenchError(
                f"{source}: unknown trace format (first line: {show_bytes(first, 80)}); "
                f"give --trace-format, one of: {choices(FORMATS)}"
            )
    key = FORMAT_ALIASES.get(name, name)
    if key not in FORMATS:
        raise RoutebenchError(
            f"unknown trace format {name!r}; available: {choices(FORMATS)}"
        )
    if name in ("combined", "common") and opts.log_format is None:
        opts = ReadOptions(**{**opts.__dict__, "log_format": name})
    if key == "access-log" and opts.columns is not None:
        raise RoutebenchError(
            f"{source}: --columns is for CSV, TSV and JSON lines; an access log's fields come "
            "from --log-format"
        )
    if key != "access-log" and opts.log_format is not None:
        raise RoutebenchError(
            f"{source}: --log-format is for access logs, and this trace is read as {key}"
        )
    return FORMATS[key](opts, head, source)


def _same(values: list[bytes]) -> list[bytes]:
    """The values themselves (a fused column's vocabulary, built already)."""
    return values
