"""``routebench simulate`` results as a table: one row a balancer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .table import cache_size_cell, csv_table, format_table, strategy_label

__all__ = ["sim_table", "SIM_COLUMNS"]


def _f(v: Any, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def _pair(a: str, b: str, fmt: str = ".2f") -> Callable[[dict[str, Any]], str]:
    return lambda m: f"{_f(m.get(a), fmt)} / {_f(m.get(b), fmt)}"


def _ms(m: dict[str, Any]) -> str:
    vals = [m.get(k) for k in ("latency_p50", "latency_p99", "latency_p999")]
    return " / ".join("-" if v is None else _short(v * 1e3) for v in vals)


def _short(v: float) -> str:
    """Three significant digits, no trailing point: 0.512, 12.3, 376, 4,210."""
    return f"{v:.3g}" if v < 1000 else f"{v:,.0f}"


def _lost(m: dict[str, Any]) -> str:
    if m.get("sessions_lost_pct") is None:
        return "-"
    parts = [m.get(f"lost_{c}_pct") or 0.0 for c in ("crash", "reroute", "ip_change", "ttl")]
    store = "" if m.get("lost_store_pct") is None else f"; store {m['lost_store_pct']:.1f}"
    return f"{m['sessions_lost_pct']:.1f} ({'/'.join(f'{p:.1f}' for p in parts)}{store})"


#: (header, function of the metrics dict) for every run
SIM_COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("outstanding max/mean avg / worst", _pair("outstanding_imbalance_avg",
                                               "outstanding_imbalance_worst")),
    ("served max/mean avg / worst", _pair("served_imbalance_avg", "served_imbalance_worst")),
    ("p50 / p99 / p99.9 ms", _ms),
    ("failed", lambda m: f"{m['failed']:,}"),
    ("sessions lost % (crash/reroute/ip/ttl)", _lost),
    ("util", lambda m: _f(m.get("utilization"))),
]
_CRASH = ("crash: lost of pinned", lambda m: "-" if not m.get("crash_pinned") else
          f"{m['crash_lost']:,}/{m['crash_pinned']:,} ({m['crash_lost_pct']:.0f}%)")
_IPCH = ("IP-change survival", lambda m: "-" if m.get("ip_change_survival") is None else
         f"{100 * m['ip_change_survival']:.1f}% of {m['ip_change_sessions']:,}")


#: shown when the run had caches (--cache)
_CACHE: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("hit ratio", lambda m: _f(m.get("hit_ratio"), ".3f")),
    ("miss peak/mean", lambda m: _f(m.get("miss_load_peak_to_mean"))),
    ("event dip / recovery", lambda m: "-" if m.get("cache_event_dip") is None else
        f"{m['cache_event_dip']:.3f} / " + ("not recovered"
                                            if m.get("cache_event_recovery_s") is None
                                            else f"{m['cache_event_recovery_s']:.3g} s")),
]


def _nat(r: dict[str, Any]) -> str:
    groups = r.get("nat_groups") or []
    if not groups:
        return "-"
    return "; ".join(
        f"{g['size']} users: {g['backends_used']} backend(s), top x{_f(g['top_backend_load'])}"
        for g in groups)


def sim_table(results: Sequence[dict[str, Any]], fmt: str = "github") -> str:
    """The table of simulate result records; CSV carries every metric unformatted."""
    if fmt == "csv":
        return csv_table(results)
    cols = list(SIM_COLUMNS)
    ms = [r["metrics"] for r in results]
    if any(m.get("crash_pinned") for m in ms):
        cols.append(_CRASH)
    if any(m.get("ip_change_survival") is not None for m in ms):
        cols.append(_IPCH)
    cached = any(m.get("hit_ratio") is not None for m in ms)
    if cached:
        cols += _CACHE
    headers = ["balancer"] + [c[0] for c in cols]
    rows = []
    for r in results:
        label = strategy_label(r)
        rows.append([label] + [c[1](r["metrics"]) for c in cols])
    if cached:  # each backend's cache, and whether --cache-total split a total
        headers.append("cache/backend")
        for cells, r in zip(rows, results, strict=True):
            cells.append(cache_size_cell(r["metrics"].get("cache_capacity_node"),
                                         (r.get("scenario_params") or {}).get("cache")))
    if any(r.get("nat_groups") for r in results):
        headers.append("NAT groups: backends used, top backend load")
        for cells, r in zip(rows, results):
            cells.append(_nat(r))
    return format_table(headers, rows, fmt)
