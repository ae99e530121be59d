"""Your own load balancer's configuration over traces (``routebench run --lb-config``).

One nginx ``upstream`` or HAProxy ``backend`` (an :class:`~routebench.lbconfig.LbConfig`)
is replayed over each trace exactly as the product routes: the trace column
the configuration's key names (the request URI for ``balance uri`` and ``hash
$request_uri``, a header's column for ``balance hdr(...)``, the client address
for ``balance source`` and ``ip_hash``) goes through the product's own key
extraction and hash, each distinct value once a chunk. Measured:

- balance over the servers that take requests (chi-square, peak/mean beside a
  random assignment's, CoV), and the requests the product would not hash (no
  key: round robin; nginx: more than 20 retries past down servers);
- NAT skew, when the configuration hashes client addresses and the trace has
  users: routing on the client against routing on the user;
- for each serving server, what deleting its line and what marking it down
  (nginx ``down``, HAProxy ``disabled``) move, as shares of distinct keys (from
  :func:`~routebench.lbconfig.edit_remap`) and of requests, with the collateral
  moves between servers that stayed; and what adding one server moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._errors import RoutebenchError, choices
from ...datasets import Chunk, Trace, is_file_spec, open_trace
from ...datasets._distinct import DistinctSample
from ...hashing import Hasher
from ...lbconfig import LbConfig, edit_remap
from ...lbconfig._keys import client_text, packed_address
from ...records import LbConfigResult
from .. import metrics

__all__ = ["KeyInput", "LbTrace", "key_input", "open_lb_trace", "run_lb_config",
           "DEFAULT_LB_TRACE", "new_server_name"]

#: the synthetic trace ``run --lb-config`` replays when no ``--trace`` is given
DEFAULT_LB_TRACE = "access-log"
#: nginx gives up rehashing after this many attempts and balances round robin
NGINX_TRIES = 20

Progress = Callable[[str, int | None], Any]


# -- which column holds what the configuration hashes ----------------------------------
@dataclass(frozen=True)
class KeyInput:
    """The trace column a configuration reads its key from, and how."""

    column: str
    #: a column value to what the configuration takes (None: the value as it is)
    transform: Callable[[bytes], bytes] | None = field(default=None, compare=False)
    #: what was chosen and why, for the report
    note: str = ""


@dataclass(frozen=True)
class LbTrace:
    """A trace with the column the configuration reads (from :func:`open_lb_trace`)."""

    trace: Trace
    key: KeyInput


def _what(cfg: LbConfig) -> str:
    if cfg.key_kind == "uri":
        return "the request URI"
    if cfg.key_kind == "source":
        return "the client address"
    if cfg.key_kind == "header":
        return f"the {cfg.key_name} header"
    if cfg.key_kind == "cookie":
        return f"the {cfg.key_name} cookie"
    return f"the URL parameter {cfg.key_name}"


def _candidates(cfg: LbConfig) -> list[str]:
    """Trace columns that can hold what ``cfg`` hashes, the best first."""
    kind, name = cfg.key_kind, (cfg.key_name or "").lower()
    if kind == "uri":
        return ["url", "path"]
    if kind == "url_param":
        return ["url"]
    if kind == "source":
        return ["client"]
    if kind == "cookie":
        return [f"cookie_{name}", "http_cookie", "cookie"]
    under = name.replace("-", "_")
    alias = {"user-agent": ["ua"], "referer": ["referer"], "host": ["host", "http_host"],
             "cookie": ["http_cookie"]}.get(name, [])
    return list(dict.fromkeys([*alias, name, f"http_{under}", under]))


def _dash_is_empty(v: bytes) -> bytes:
    """Access logs write an empty header or cookie as ``-``."""
    return b"" if v == b"-" else v


def _transform(cfg: LbConfig, column: str, standin: bool) -> Callable[[bytes], bytes] | None:
    kind, name = cfg.key_kind, (cfg.key_name or "").encode()
    if standin:  # a synthetic trace's user id stands for the value
        if kind == "url_param":
            return lambda v: b"/?" + name + b"=" + v
        if kind == "cookie":
            return lambda v: name + b"=" + v
        return None
    if kind == "cookie" and column.lower().startswith("cookie_"):
        return lambda v: name + b"=" + _dash_is_empty(v)  # the cookie's value alone
    if kind in ("header", "cookie"):
        return _dash_is_empty
    return None


def key_input(cfg: LbConfig, trace: Trace, column: str | None = None) -> KeyInput:
    """The column of ``trace`` that holds what ``cfg`` hashes (``column`` when given:
    the user's ``--route-on``), or one error naming the columns that would do."""
    if column is not None:
        if column not in trace.available:
            raise RoutebenchError(f"--route-on {column!r}: trace {trace.label!r} has columns "
                                  f"{choices(trace.available)}")
        return KeyInput(column, _transform(cfg, column, False),
                        f"{_what(cfg)} read from column {column} (--route-on)")
    cands = _candidates(cfg)
    found = next((c for c in cands if c in trace.available), None)
    if found is not None:
        note = f"{_what(cfg)} read from column {found}"
        if cfg.key_kind == "uri" and found == "path":
            note += (" (this trace's paths carry no query string: a key that keeps it, "
                     "such as $request_uri or balance uri whole, sees the path alone)")
        return KeyInput(found, _transform(cfg, found, False), note)
    if not trace.recorded and "user" in trace.available and cfg.key_kind in (
            "header", "cookie", "url_param"):
        return KeyInput("user", _transform(cfg, "user", True),
                        f"{_what(cfg)}: synthetic, one value a user (the trace's user "
                        "column stands in for it)")
    hint = ""
    if trace.recorded and cfg.key_kind in ("header", "cookie"):
        var = cands[1] if cfg.key_kind == "header" else cands[0]
        hint = f"; for an access log add ${var} to --log-format"
    raise RoutebenchError(
        f"{cfg.label} hashes {_what(cfg)} ({cfg.key_expr}), and trace {trace.label!r} has no "
        f"column for it: looked for {choices(cands)}; its columns: "
        f"{choices(trace.available)}{hint}; or name the column with --route-on COL")


def open_lb_trace(cfg: LbConfig, spec: str, requests: int | None = None, seed: int = 0,
                  read: Mapping[str, Any] | None = None) -> LbTrace:
    """Open trace ``spec`` (a synthetic name or a file) routed on the column ``cfg``
    reads. ``read`` holds trace-file options (``route_on`` names the column)."""
    opts = dict(read or {})
    column = opts.pop("route_on", None)
    if is_file_spec(spec):
        if spec == "-":  # standard input is read once: no second look
            trace = open_trace(spec, requests, seed, route_on=column or _candidates(cfg)[0],
                               **opts)
            return LbTrace(trace, key_input(cfg, trace, trace.route_on))
        trace = open_trace(spec, requests, seed, **opts)
    else:
        trace = open_trace(spec, requests, seed)
    key = key_input(cfg, trace, column)
    if key.column != trace.route_on:  # route on it: rows without it are counted as rejected
        trace = (open_trace(spec, requests, seed, route_on=key.column, **opts)
                 if is_file_spec(spec) else open_trace(spec, requests, seed,
                                                       route_on=key.column))
    return LbTrace(trace, key)


def new_server_name(cfg: LbConfig) -> str:
    """A name for the server the ``add`` edit appends: nginx the next free IPv4
    address after the last server's (same port), else ``new-server:80``; HAProxy
    ``new`` (``new2``, ... when taken)."""
    taken = {x for s in cfg.servers for x in (s.name, s.node, s.address)}
    if cfg.product == "haproxy":
        name, i = "new", 1
        while name in taken:
            i += 1
            name = f"new{i}"
        return name
    last = (cfg.serving or cfg.servers)[-1].address
    host, sep, port = last.rpartition(":")
    packed = packed_address(host.encode()) if sep else None
    if packed is not None and len(packed) == 4:
        base = int.from_bytes(packed, "big")
        for k in range(1, 256):
            ip = ".".join(str(b) for b in ((base + k) & 0xFFFFFFFF).to_bytes(4, "big"))
            if f"{ip}:{port}" not in taken:
                return f"{ip}:{port}"
    name, i = "new-server:80", 1
    while name in taken:
        i += 1
        name = f"new-server-{i}:80"
    return name


# -- the replay --------------------------------------------------------------------------
def _mix64(d: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: 32-bit product digests spread over 64 bits, so the
    distinct-key sample takes a uniform sample of them."""
    with np.errstate(over="ignore"):
        z = d + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


_REF = Hasher("lb-config-ref", 64, lambda key: 0, "splitmix64 of the product's digest")


class _Routing:
    """One configuration (the original or an edit) as server codes."""

    def __init__(self, cfg: LbConfig, code_of: Mapping[str, int]) -> None:
        self.cfg = cfg
        self.s = cfg.strategy
        shown = cfg.display_names
        self.codes = np.array([code_of[shown[n]] for n in self.s.nodes], dtype=np.intp)
        self.retries = bool(getattr(self.s, "down", ())) and hasattr(self.s, "tries")

    def route(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(server code per digest, nginx's round-robin fallback flags or None)."""
        codes = self.codes[self.s.lookup_many(d)]
        rr = self.s.tries(d) > NGINX_TRIES if self.retries else None
        return codes, rr


@dataclass
class _Edit:
    server: str
    edit: str  # delete, down, add
    target: int  # the server's code
    routing: _Routing | None  # None: no server would be left
    moved: float = 0.0
    collateral: float = 0.0
    on_server: float = 0.0
    round_robin: float = 0.0

    def tally(self, base: np.ndarray, d: np.ndarray, w: np.ndarray) -> None:
        if self.routing is None:
            return
        codes, rr = self.routing.route(d)
        moved = codes != base
        if self.edit == "add":
            on = codes == self.target
            coll = moved & ~on
        else:
            on = base == self.target
            coll = moved & ~on
        self.moved += float(w[moved].sum())
        self.collateral += float(w[coll].sum())
        self.on_server += float(w[on].sum())
        if rr is not None:
            self.round_robin += float(w[rr].sum())


class _Values:
    """A column's distinct values of one chunk, digested once (a vocabulary shared by
    chunks, as synthetic traces share theirs, is digested once for all of them)."""

    def __init__(self, digest: Callable[[list[bytes]], tuple[np.ndarray, np.ndarray]]) -> None:
        self.digest = digest
        self._vocab: Any = None
        self._d = np.empty(0, dtype=np.uint64)
        self._h = np.empty(0, dtype=np.bool_)

    def __call__(self, col: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(digest per distinct value, hashed per value, requests per value)."""
        col = getattr(col, "column", col)  # a column built on first use
        ids = getattr(col, "ids", None)
        vocab = getattr(col, "vocab", None)
        if ids is None or vocab is None:
            index: dict[bytes, int] = {}
            rows = col.keys()
            ids = np.fromiter((index.setdefault(k, len(index)) for k in rows), dtype=np.int64,
                              count=len(rows))
            d, h = self.digest(list(index))
        elif vocab is self._vocab:
            d, h = self._d, self._h
        else:
            d, h = self.digest(list(vocab.values))
            self._vocab, self._d, self._h = vocab, d, h
        return d, h, np.bincount(ids, minlength=d.size)


def _digester(cfg: LbConfig, key: KeyInput, where: str
              ) -> Callable[[list[bytes]], tuple[np.ndarray, np.ndarray]]:
    fn = key.transform

    def digest(values: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        try:
            return cfg.digests([fn(v) for v in values] if fn is not None else values)
        except RoutebenchError as exc:
            raise RoutebenchError(f"{where}: column {key.column}: {exc}; {cfg.key_expr} hashes "
                                  f"{_what(cfg)}") from None
    return digest


def _user_digester(cfg: LbConfig) -> Callable[[list[bytes]], tuple[np.ndarray, np.ndarray]]:
    """Users routed as if each had an address of their own."""
    return lambda values: cfg.digests([client_text(v) for v in values])


def _edits(cfg: LbConfig, code_of: dict[str, int], add: tuple[str, int | None]
           ) -> list[_Edit]:
    out = []
    for s in cfg.serving:
        for kind in ("delete", "down"):
            edited = cfg.without(s.name) if kind == "delete" else cfg.with_down(s.name)
            routing = _Routing(edited, code_of) if edited.serving else None
            out.append(_Edit(s.name, kind, code_of[s.name], routing))
    added = cfg.with_server(add[0], add[1])
    name = added.servers[-1].name
    code_of[name] = len(code_of)
    out.append(_Edit(name, "add", code_of[name], _Routing(added, code_of)))
    return out


class _Replay:
    """The tallies of one configuration over one trace."""

    def __init__(self, cfg: LbConfig, lt: LbTrace, add: tuple[str, int | None]) -> None:
        self.cfg, self.trace, self.key = cfg, lt.trace, lt.key
        self.names = [s.name for s in cfg.servers]
        self.code_of = {n: i for i, n in enumerate(self.names)}
        self.base = _Routing(cfg, self.code_of)
        self.edits = _edits(cfg, self.code_of, add)
        self.counts = np.zeros(len(self.code_of), dtype=np.float64)
        self.requests = 0
        self.no_key = 0
        self.retries = 0.0
        self.values = _Values(_digester(cfg, self.key, self.trace.label))
        self.sample = DistinctSample([_REF, self.base.s.hasher])
        self.nat = cfg.key_kind == "source" and {"client", "user"} <= set(self.trace.available)
        if self.nat:
            self.trace.with_columns("client", "user")
            self.nat_values = {"client": _Values(_digester(cfg, KeyInput("client"),
                                                           self.trace.label)),
                               "user": _Values(_user_digester(cfg))}
            self.nat_counts = {c: np.zeros(len(self.code_of)) for c in ("client", "user")}
        self.trace.with_columns(self.key.column)

    def update(self, chunk: Chunk) -> None:
        d, hashed, n = self.values(chunk.columns[self.key.column])
        self.requests += len(chunk)
        self.no_key += int(n[~hashed].sum())
        sel = np.flatnonzero(hashed & (n > 0))
        if sel.size == 0:
            return
        u, w = d[sel], n[sel].astype(np.float64)
        base, rr = self.base.route(u)
        self.counts += np.bincount(base, weights=w, minlength=self.counts.size)
        if rr is not None:
            self.retries += float(w[rr].sum())
        for e in self.edits:
            e.tally(base, u, w)
        self.sample.add(lambda h: _mix64(u) if h is _REF else u)
        if self.nat:
            for c in ("client", "user"):
                cd, ch, cn = self.nat_values[c](chunk.columns[c])
                keep = np.flatnonzero(ch & (cn > 0))
                codes, _ = self.base.route(cd[keep])
                self.nat_counts[c] += np.bincount(codes, weights=cn[keep],
                                                  minlength=self.counts.size)

    def result(self) -> LbConfigResult:
        cfg = self.cfg
        serving = [self.code_of[s.name] for s in cfg.serving]
        weights = [s.weight for s in cfg.serving]
        counts = self.counts[serving]
        hashed = int(round(float(counts.sum())))
        m: dict[str, Any] = {"requests": self.requests,
                             "distinct_keys": self.sample.estimate()}
        m.update(metrics.balance(counts, weights))
        m["peak_to_mean_random"] = metrics.peak_to_mean_random(hashed, weights)
        m["round_robin_requests"] = metrics.fraction(self.no_key, self.requests)
        m["round_robin_retries"] = metrics.fraction(int(round(self.retries)), self.requests)
        if self.nat:
            m["nat_peak_to_mean_ip"] = metrics.peak_to_mean(self.nat_counts["client"][serving])
            m["nat_peak_to_mean_user"] = metrics.peak_to_mean(self.nat_counts["user"][serving])
        edits = self._edit_rows(hashed)
        m.update(_summaries(edits))
        servers = []
        for s in cfg.servers:
            c = float(self.counts[self.code_of[s.name]])
            servers.append({"name": s.name, "address": s.address, "weight": s.weight,
                            "id": s.id, "explicit_id": s.explicit_id, "state": s.state,
                            "serving": s in cfg.serving, "line": s.line,
                            "requests": int(round(c)),
                            "share": c / hashed if hashed else None})
        return LbConfigResult(
            strategy=cfg.strategy_name, params=dict(cfg.strategy_params), label=cfg.label,
            nodes=len(cfg.serving), metrics=m, trace=self.trace.label,
            trace_params=self.trace.describe(), route_on=self.key.column,
            config={"path": cfg.path, "section": cfg.section, "product": cfg.product,
                    "context": cfg.context, "line": cfg.line, "key_kind": cfg.key_kind,
                    "key_name": cfg.key_name, "key_expr": cfg.key_expr,
                    "key_input": self.key.note, "notes": list(cfg.notes),
                    "describe": cfg.describe()},
            servers=servers, edits=edits, counts=[int(round(float(c))) for c in counts])

    def _edit_rows(self, hashed: int) -> list[dict[str, Any]]:
        """Per edit: key shares (``edit_remap`` over the distinct keys) and request shares."""
        cfg = self.cfg
        keys = np.ascontiguousarray(self.sample.digests[self.base.s.hasher.name])
        by_key = ({(r.server, r.edit): r for r in edit_remap(cfg, keys)} if keys.size else {})
        add = self.edits[-1]
        ones = np.ones(keys.size)
        if keys.size:
            add_keys = _Edit(add.server, "add", add.target, add.routing)
            add_keys.tally(self.base.route(keys)[0], keys, ones)
        rows = []
        for e in self.edits:
            r = by_key.get((e.server, e.edit))
            row: dict[str, Any] = {"server": e.server, "edit": e.edit, "keys": int(keys.size)}
            if e.edit == "add":
                n = max(int(keys.size), 1)
                row.update(on_server=add_keys.on_server / n if keys.size else None,
                           moved=add_keys.moved / n if keys.size else None,
                           collateral=add_keys.collateral / n if keys.size else None,
                           round_robin=add_keys.round_robin / n if keys.size else None,
                           weight=add.routing.cfg.servers[-1].weight if add.routing else None,
                           note="")
            elif r is not None:
                row.update(on_server=r.on_server, moved=r.moved, collateral=r.collateral,
                           round_robin=r.round_robin, note=r.note)
            else:
                row.update(on_server=None, moved=None, collateral=None, round_robin=None,
                           note="no keys")
            if e.routing is None:
                row.update(moved=None, collateral=None, note="no server would be left to "
                           "route to")
                row.update(on_server_requests=None, moved_requests=None,
                           collateral_requests=None, round_robin_requests=None)
            else:
                f = (lambda x: x / hashed) if hashed else (lambda x: None)
                row.update(on_server_requests=f(e.on_server), moved_requests=f(e.moved),
                           collateral_requests=f(e.collateral),
                           round_robin_requests=f(e.round_robin))
            rows.append(row)
        return rows


def _worst(rows: Sequence[Mapping[str, Any]], edit: str, col: str) -> float | None:
    vals = [r[col] for r in rows if r["edit"] == edit and r.get(col) is not None
            and r[col] == r[col]]
    return max(vals) if vals else None


def _summaries(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """The gateable figures: the worst server's edit, and the add."""
    add = next((r for r in rows if r["edit"] == "add"), {})
    return {
        "delete_remap_max": _worst(rows, "delete", "moved"),
        "delete_collateral_max": _worst(rows, "delete", "collateral"),
        "down_remap_max": _worst(rows, "down", "moved"),
        "down_collateral_max": _worst(rows, "down", "collateral"),
        "add_remap": add.get("moved"),
        "add_collateral": add.get("collateral"),
        "delete_remap_requests_max": _worst(rows, "delete", "moved_requests"),
        "down_remap_requests_max": _worst(rows, "down", "moved_requests"),
        "add_remap_requests": add.get("moved_requests"),
    }


def run_lb_config(cfg: LbConfig, traces: Sequence[Trace | LbTrace], *,
                  add_server: tuple[str, int | None] | None = None,
                  progress: Progress | None = None) -> list[LbConfigResult]:
    """``cfg`` over each trace, one result record a trace.

    A plain :class:`Trace` is read on the column :func:`key_input` picks;
    :func:`open_lb_trace` opens a trace routed on that column (rows without it
    are then counted as rejected). ``add_server`` is the (name, weight) of the
    server the ``add`` edit appends (default: :func:`new_server_name`, the
    serving servers' most common weight). ``progress(stage, total)`` returns a
    bar with ``update(n)`` and ``close()`` (tqdm fits).
    """
    if not cfg.serving:
        raise RoutebenchError(f"{cfg.label}: no server takes requests (all down, disabled, "
                              "backup or weight 0)")
    add = add_server or (new_server_name(cfg), None)
    cfg.with_server(*add)  # a bad name or weight is refused before any work
    results = []
    for item in traces:
        lt = item if isinstance(item, LbTrace) else LbTrace(item, key_input(cfg, item))
        replay = _Replay(cfg, lt, add)
        bar = progress(f"{lt.trace.label}: replay", lt.trace.requests) if progress else None
        try:
            for chunk in lt.trace.chunks():
                replay.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        results.append(replay.result())
    return results
