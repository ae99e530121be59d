"""Result records to tables: tabulate's formats for people, CSV for machines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tabulate import tabulate

from .._errors import RoutebenchError, choices

__all__ = ["FORMATS", "run_table", "format_table", "fmt_bytes", "flatten"]

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
    headers = ["strategy", "trace", "N"] + [c[0] for c in cols]
    rows = [
        [strategy_label(r), r["trace"], r["nodes"]]
        + [c[1](r["metrics"]) for c in cols]
        for r in results
    ]
    return format_table(headers, rows, fmt)
