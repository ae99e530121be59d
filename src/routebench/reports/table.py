"""Result records to tables: tabulate's formats for people, CSV for machines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tabulate import tabulate

from .._errors import RoutebenchError, choices

__all__ = ["FORMATS", "run_table", "format_table", "fmt_bytes", "flatten", "lb_balance_table",
           "lb_edits_table", "lb_notes", "removal_table", "live_table"]

#: --format values: tabulate's table formats, plus csv
FORMATS = ("github", "plain", "simple", "rst", "html", "csv")


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _num(fmt: str) -> Callable[[Any], str]:
    def f(v: Any) -> str:
        return "-" if v is None else format(v, fmt)
    return f


def _p(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v >= 0.001 else f"{v:.0e}" if v > 0 else "0"


def sig(v: float | None, digits: int = 3) -> str:
    """``v`` to ``digits`` significant digits, never rounded to a bare zero (1e-05, 0.0909)."""
    if v is None:
        return "-"
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def _pair(a: str, b: str, fmt: Callable[[Any], str] = sig) -> Callable[[dict[str, Any]], str]:
    def f(m: dict[str, Any]) -> str:
        if m.get(a) is None:
            return "-"
        return f"{fmt(m[a])} ({fmt(m.get(b))})"
    return f


#: (header, function of the metrics dict) for the `routebench run` table
RUN_COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("chi2 p", lambda m: _p(m.get("chi2_p"))),
    ("peak/mean (random)", _pair("peak_to_mean", "peak_to_mean_random", _num(".3f"))),
    ("CoV", lambda m: _num(".3f")(m.get("cov"))),
    ("remap join (ideal)", _pair("remap_join", "remap_join_ideal")),
    ("remap leave (ideal)", _pair("remap_leave", "remap_leave_ideal")),
    ("mono viol", lambda m: _num("d")(m.get("monotonicity_violations"))),
    # one scalar figure (lookup_ns_p50: ns a call, median of rounds); lookup_ns_p99 is
    # retired and not shown, though older reports carry it
    ("lookup ns", lambda m: _num(".0f")(m.get("lookup_ns_p50"))),
    ("batch ns/key", lambda m: _num(".1f")(m.get("batch_ns_per_key"))),
    ("build ms", lambda m: _num(".2f")(m.get("build_ms"))),
    ("memory", lambda m: fmt_bytes(m.get("memory_bytes"))),
]
NAT_COLUMN = ("NAT peak/mean ip / user", lambda m: "-" if m.get("nat_peak_to_mean_ip") is None
              else f"{m['nat_peak_to_mean_ip']:.2f} / {m['nat_peak_to_mean_user']:.2f}")


#: shown when the run had caches (--cache)
CACHE_COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("hit ratio (shared / random)", lambda m: "-" if m.get("hit_ratio") is None else
        f"{m['hit_ratio']:.3f} ({_num('.3f')(m.get('hit_ratio_shared'))} / "
        f"{_num('.3f')(m.get('hit_ratio_random'))})"),
    ("miss peak/mean", lambda m: _num(".2f")(m.get("miss_load_peak_to_mean"))),
    ("join / leave drop", lambda m: f"{_num('.3f')(m.get('join_drop'))} / "
                                    f"{_num('.3f')(m.get('leave_drop'))}"),
]


def cache_size_cell(node: float | None, cache: Mapping[str, Any] | str | None) -> str:
    """One node's cache capacity and the spec it came from, saying when ``--cache-total``
    split a total: ``100 (LRU, total 1,000 split)``, ``64.0 MiB (S3FIFO)``."""
    if node is None:
        return "-"
    if isinstance(cache, str):  # simulate records the spec as POLICY:size=S / POLICY:total=S
        from ..caches import CacheSpec

        try:
            spec = CacheSpec.parse(cache)
        except RoutebenchError:
            return f"{node:,.0f}"
        cache = spec.describe()
    c = cache or {}
    size = str(c.get("size", ""))
    is_bytes = size[-1:].lower() == "b"
    shown = fmt_bytes(node) if is_bytes else f"{node:,.0f}"
    policy = str(c.get("policy", ""))
    if c.get("split"):
        return f"{shown} ({policy}, total {size} split)"
    return f"{shown} ({policy})" if policy else shown


def _cache_node(r: Mapping[str, Any]) -> str:
    return cache_size_cell(r["metrics"].get("cache_capacity_node"),
                           (r.get("trace_params") or {}).get("cache"))


def strategy_label(r: Mapping[str, Any]) -> str:
    """The label stored with the record: the strategy with its non-default parameters."""
    return str(r["label"])


def flatten(r: Mapping[str, Any]) -> dict[str, Any]:
    """One flat row of a result record (for CSV)."""
    row = {"strategy": r["strategy"],
           "params": ";".join(f"{k}={v}" for k, v in (r.get("params") or {}).items()),
           "trace": r.get("trace"), "nodes": r.get("nodes")}
    row.update(r.get("metrics", {}))
    return row


def csv_table(results: Sequence[Mapping[str, Any]]) -> str:
    """Every record as one CSV row, every metric unformatted (the union of their columns)."""
    flat = [flatten(r) for r in results]
    headers: list[str] = []
    for row in flat:
        headers += [k for k in row if k not in headers]
    return format_table(headers, [[row.get(h, "") for h in headers] for row in flat], "csv")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    if fmt not in FORMATS:
        raise RoutebenchError(f"unknown format {fmt!r}; available: {choices(FORMATS)}")
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(headers)
        w.writerows(rows)
        return out.getvalue().rstrip("\n")
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def run_table(results: Sequence[Mapping[str, Any]], fmt: str = "github") -> str:
    """The `routebench run` table; CSV carries every metric unformatted."""
    if fmt == "csv":
        return csv_table(results)
    cols = list(RUN_COLUMNS)
    if any("nat_peak_to_mean_ip" in r["metrics"] for r in results):
        cols.insert(6, NAT_COLUMN)
    cached = any(r["metrics"].get("hit_ratio") is not None for r in results)
    if cached:
        cols[6:6] = CACHE_COLUMNS
        if any(r["metrics"].get("byte_hit_ratio") is not None for r in results):
            cols.insert(7, ("byte hit ratio", lambda m: _num(".3f")(m.get("byte_hit_ratio"))))
    headers = ["strategy", "trace", "N"] + [c[0] for c in cols]
    rows = [
        [strategy_label(r), r["trace"], r["nodes"]]
        + [c[1](r["metrics"]) for c in cols]
        for r in results
    ]
    if cached:  # each node's cache, and whether --cache-total split a total
        headers.insert(9, "cache/node")
        for row, r in zip(rows, results, strict=True):
            row.insert(9, _cache_node(r))
    return format_table(headers, rows, fmt)


# -- your own load balancer's configuration (routebench run --lb-config) -----------------
def _pct(v: float | None) -> str:
    """A share as a percentage to 3 significant digits (never a bare 0 for a small one)."""
    if v is None:
        return "-"
    return "0%" if v == 0 else f"{100 * v:.3g}%"


_LB_BALANCE: list[tuple[str, Callable[[Mapping[str, Any]], str]]] = [
    ("requests", lambda r: f"{r['metrics'].get('requests', 0):,}"),
    ("distinct keys", lambda r: _num(",")(r["metrics"].get("distinct_keys"))),
    ("no key: round robin", lambda r: _pct(r["metrics"].get("round_robin_requests"))),
    ("chi2 p", lambda r: _p(r["metrics"].get("chi2_p"))),
    ("peak/mean (random)", lambda r: _pair("peak_to_mean", "peak_to_mean_random",
                                           _num(".3f"))(r["metrics"])),
    ("CoV", lambda r: _num(".3f")(r["metrics"].get("cov"))),
]


def _edit_name(r: Mapping[str, Any], edit: str) -> str:
    if edit == "delete":
        return "delete line"
    if edit == "add":
        return "add"
    return "disabled" if (r.get("config") or {}).get("product") == "haproxy" else "down"


def lb_balance_table(results: Sequence[Mapping[str, Any]], fmt: str = "github") -> str:
    """``run --lb-config``: one row a configuration and trace (balance, keyless requests,
    NAT skew); CSV carries every metric."""
    if fmt == "csv":
        return csv_table(results)
    cols = list(_LB_BALANCE)
    if any((r["metrics"].get("round_robin_retries") or 0) > 0 for r in results):
        cols.insert(3, ("nginx >20 retries: round robin",
                        lambda r: _pct(r["metrics"].get("round_robin_retries"))))
    if any("nat_peak_to_mean_ip" in r["metrics"] for r in results):
        cols.append((NAT_COLUMN[0], lambda r: NAT_COLUMN[1](r["metrics"])))
    headers = ["config", "strategy", "trace (column)", "N"] + [c[0] for c in cols]
    rows = [[r["label"], r["strategy"], f"{r['trace']} ({r.get('route_on')})", r["nodes"]]
            + [c[1](r) for c in cols] for r in results]
    return format_table(headers, rows, fmt)


def lb_edits_table(result: Mapping[str, Any], fmt: str = "github") -> str:
    """``run --lb-config``: per serving server, what deleting its line and marking it down
    move (shares of distinct keys and of requests; collateral: moved between servers
    that stayed), then adding one server."""
    edits = result.get("edits") or []
    servers = {s["name"]: s for s in result.get("servers") or []}
    rr = any((e.get("round_robin") or 0) > 0 or (e.get("round_robin_requests") or 0) > 0
             for e in edits)
    headers = ["server", "weight", "edit", "its keys", "keys moved", "collateral",
               "requests moved", "collateral requests"] + (["round robin (nginx)"] if rr else [])
    if fmt == "csv":
        keys = ["server", "edit", "weight", "keys", "on_server", "moved", "collateral",
                "round_robin", "on_server_requests", "moved_requests", "collateral_requests",
                "round_robin_requests", "note"]
        return format_table(keys, [[e.get(k, servers.get(e["server"], {}).get(k, ""))
                                    for k in keys] for e in edits], "csv")
    rows = []
    for e in edits:
        s = servers.get(e["server"], {})
        weight = e.get("weight") if e["edit"] == "add" else s.get("weight")
        row = [e["server"], "-" if weight is None else weight, _edit_name(result, e["edit"]),
               _pct(e.get("on_server")), _pct(e.get("moved")), _pct(e.get("collateral")),
               _pct(e.get("moved_requests")), _pct(e.get("collateral_requests"))]
        if rr:
            row.append(f"{_pct(e.get('round_robin'))} / {_pct(e.get('round_robin_requests'))}")
        if e.get("note"):
            row[4] = f"- ({e['note']})"
        rows.append(row)
    return format_table(headers, rows, fmt)


def _worst_edit(edits: Sequence[Mapping[str, Any]], edit: str,
                col: str = "collateral") -> Mapping[str, Any] | None:
    rows = [e for e in edits if e["edit"] == edit and e.get(col) is not None]
    return max(rows, key=lambda e: e[col]) if rows else None


def lb_notes(result: Mapping[str, Any]) -> list[str]:
    """What the ``run --lb-config`` tables say about the configuration's edits, in words:
    which edit is the cheap one, and the products' traps the numbers show."""
    edits = result.get("edits") or []
    m = result.get("metrics") or {}
    cfg = result.get("config") or {}
    product, strategy = cfg.get("product"), result.get("strategy")
    down = "disabled" if product == "haproxy" else "down"
    out = []
    dl, dn = _worst_edit(edits, "delete"), _worst_edit(edits, "down")
    if dl is not None and dn is not None and (dl["collateral"] or 0) > (dn["collateral"] or 0):
        s, n = dl["server"], next((e for e in edits if e["server"] == dl["server"]
                                   and e["edit"] == "down"), dn)
        if strategy == "haproxy-chash":
            why = ("HAProxy numbers servers without `id N` 1..n in declaration order, so "
                   "deleting a line renumbers every later server and moves its points")
            fix = "give each server an explicit `id N`, or disable instead of deleting"
        elif product == "nginx":
            why = ("deleting a line changes the total weight nginx takes the hash modulo; "
                   "`down` keeps the server's weight in the total")
            fix = "mark servers down instead of deleting them"
        else:
            why = "deleting a line rebuilds the mapping of every key"
            fix = f"mark servers {down} instead of deleting them"
        out.append(f"deleting {s}'s line moves {_pct(dl['moved'])} of keys, "
                   f"{_pct(dl['collateral'])} between servers that stayed; `{down}` moves "
                   f"{_pct(n.get('moved'))} ({_pct(n.get('collateral'))} collateral): {why}. "
                   f"Cheaper: {fix}.")
    elif dl is not None and dn is not None and (dn["collateral"] or 0) > 0:
        out.append(f"marking a server {down} moves as much as deleting it (up to "
                   f"{_pct(dn['collateral'])} of keys between servers that stayed)"
                   + (": hash-type map-based rebuilds its map either way; hash-type "
                      "consistent moves only the server's own keys"
                      if strategy == "haproxy-map" else ""))
    elif dl is not None and dn is not None:
        out.append(f"deleting a server's line and marking it {down} both move only its own "
                   "keys (no collateral)")
    rr = _worst_edit(edits, "down", "round_robin")
    if rr is not None and (rr.get("round_robin") or 0) > 0:
        out.append(f"nginx retries a key past down servers up to 20 times, then balances it "
                   f"round robin: marking {rr['server']} down sends {_pct(rr['round_robin'])} "
                   f"of keys ({_pct(rr.get('round_robin_requests'))} of requests) round robin")
    if (m.get("round_robin_retries") or 0) > 0:
        out.append(f"as configured, {_pct(m['round_robin_retries'])} of requests find only "
                   "down servers in 20 retries: nginx balances them round robin")
    if (m.get("round_robin_requests") or 0) > 0:
        out.append(f"{_pct(m['round_robin_requests'])} of requests have no key "
                   f"({cfg.get('key_expr')}): the product balances them round robin, outside "
                   "the balance figures")
    add = next((e for e in edits if e["edit"] == "add"), None)
    if add is not None and add.get("moved") is not None:
        extra = (f", {_pct(add['collateral'])} of them between the old servers"
                 if (add.get("collateral") or 0) > 0 else " (onto it alone)")
        out.append(f"adding {add['server']} moves {_pct(add['moved'])} of keys{extra}")
    return out


# -- mass removal and restore (run_removals) -----------------------------------------------
def _share(v: float | None) -> str:
    """A share as a percentage, 3 significant digits; a small one never shown as 0."""
    if v is None:
        return "-"
    return "0%" if v == 0 else f"{100 * v:.3g}%"


def _duration(ns: float | None) -> str:
    if ns is None:
        return "-"
    for unit, size in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= size:
            return f"{ns / size:.3g} {unit}"
    return f"{ns:.0f} ns"


#: (header, function of one step) for the removal table
_REMOVAL_COLUMNS: list[tuple[str, Callable[[Mapping[str, Any]], str]]] = [
    ("step", lambda st: str(st.get("step", ""))),
    ("nodes", lambda st: _num(",")(st.get("survivors"))),
    ("peak/mean (random)", lambda st: _pair("peak_to_mean", "peak_to_mean_random",
                                            _num(".3f"))(dict(st))),
    ("CoV (random)", lambda st: _pair("cov", "cov_random", _num(".3f"))(dict(st))),
    ("keys moved (min)", lambda st: "-" if st.get("keys_moved") is None else
     f"{_share(st['keys_moved'])} ({_share(st.get('keys_moved_min'))})"),
    ("between survivors", lambda st: "-" if st.get("moved_between_survivors") is None else
     f"{st['moved_between_survivors']:,} ({_share(st.get('moved_between_survivors_share'))})"),
    ("restored", lambda st: "" if st.get("restored_share") is None
     else _share(st["restored_share"])),
    ("batch ns/key", lambda st: _num(".1f")(st.get("batch_ns_per_key"))),
    ("memory (state)", lambda st: "" if st.get("memory_bytes") is None
     else fmt_bytes(st["memory_bytes"]) + ("" if st.get("memory_state_bytes") is None
                                           else f" ({fmt_bytes(st['memory_state_bytes'])})")),
]


def _as_json(r: Any) -> Mapping[str, Any]:
    return r.to_json() if hasattr(r, "to_json") else r


def removal_table(results: Sequence[Any], fmt: str = "github") -> str:
    """Mass removal and restore: one row a step of each record (``RemovalResult`` or
    its JSON object), the strategy, N, order and resize cost on its first row. An
    order forced to lifo (a last-only strategy) reads ``lifo (last only)``. CSV: one
    row a step with every field unformatted, the record's summary on each."""
    recs = [_as_json(r) for r in results]
    if fmt == "csv":
        flat = []
        for r in recs:
            fixed = {"strategy": r["strategy"],
                     "params": ";".join(f"{k}={v}" for k, v in (r.get("params") or {}).items()),
                     "nodes": r.get("nodes"), "order": r.get("order"), "note": r.get("note"),
                     "scenario": r.get("scenario")}
            for st in r.get("steps") or []:
                flat.append({**fixed, **st, **(r.get("metrics") or {})})
        headers: list[str] = []
        for row in flat:
            headers += [k for k in row if k not in headers]
        return format_table(headers, [[row.get(h, "") for h in headers] for row in flat], "csv")
    headers = ["strategy", "N", "order", "remove / add"] + [c[0] for c in _REMOVAL_COLUMNS]
    rows = []
    for r in recs:
        m = r.get("metrics") or {}
        order = str(r.get("order", "")) + (" (last only)" if r.get("note") else "")
        resize = ("-" if m.get("remove_ns_median") is None else
                  f"{_duration(m['remove_ns_median'])} / {_duration(m.get('add_ns_median'))}")
        for i, st in enumerate(r.get("steps") or []):
            head = [r["label"], f"{r['nodes']:,}", order, resize] if i == 0 else [""] * 4
            rows.append(head + [c[1](st) for c in _REMOVAL_COLUMNS])
    return format_table(headers, rows, fmt)


# -- routebench live: what ran and what it cost ---------------------------------------------
def _live_software(r: Mapping[str, Any]) -> str:
    """haproxy or nginx, from the configuration file the run wrote."""
    name = str(r.get("config_file") or "").rsplit("/", 1)[-1]
    return name.split("-", 1)[0] if "-" in name else "-"


def _cpu(m: Mapping[str, Any]) -> str:
    keys = ("cpu_client_pct", "cpu_balancer_pct", "cpu_backends_pct", "cpu_store_pct")
    return " / ".join("-" if m.get(k) is None else f"{m[k]:.0f}" for k in keys)


def live_table(results: Sequence[Mapping[str, Any]], fmt: str = "github") -> str:
    """What each ``routebench live`` run ran on and cost (beside ``sim_table``'s metrics):
    balancer software, store, requests and throughput, start-up, CPU over one core by
    process, the configuration file."""
    if fmt == "csv":
        return csv_table(results)
    headers = ["balancer", "software", "store", "requests", "req/s", "start-up s",
               "CPU % client / balancer / backends / store", "configuration"]
    rows = []
    for r in results:
        m = r.get("metrics") or {}
        rows.append([strategy_label(r), _live_software(r), r.get("store", "-"),
                     f"{m.get('requests', 0):,}", _num(",.0f")(m.get("throughput")),
                     _num(".2f")(m.get("startup_s")), _cpu(m),
                     str(r.get("config_file") or "-")])
    return format_table(headers, rows, fmt)
