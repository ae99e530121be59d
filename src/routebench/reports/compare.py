"""Compare two reports metric by metric, and gate CI on the changes.

A gate names a metric and how far it may move the bad way::

    peak_to_mean: +2%        fails when the new value is more than 2% above the old
    remap_leave: +0.005      fails when it rises by more than 0.005 (absolute)
    chi2_p: -50%             a minus sign: fails on a fall of more than half
    batch_ns_per_key: +10%   a timing metric: see below

Gates come from the command line (``--gate``) or from ``pyproject.toml``::

    [tool.routebench.gate]
    peak_to_mean = "+2%"
    remap_leave = "+0.005"
    batch_ns_per_key = "+10%"

Quality metrics (balance, remap, ...) are deterministic for a seed, so their
gates compare the two numbers exactly. Timing metrics are noisy, so their
gates need samples timed in one job with interleaved rounds (``routebench
ab``, or ``routebench run --baseline BASE.json --base-python PY``): the gate
fails only when the bootstrap confidence interval of the new/base ratio lies
wholly beyond the threshold. Without such samples a timing change is shown,
never gated.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import RoutebenchError
from ..records import INTERLEAVED_METRICS, TIMING_METRICS, identity, workload
from . import _stats
from .json_report import read_text
from .table import format_table

__all__ = [
    "TIMING_METRICS",
    "INTERLEAVED_METRICS",
    "Gate",
    "Row",
    "Comparison",
    "parse_gate",
    "gates_from_mapping",
    "find_config",
    "load_gates",
    "merge_gates",
    "compare",
]


#: metrics that are ratios near 1 or fractions of 1: an absolute threshold >= 1 is a typo
_UNIT_SCALE = frozenset({
    "peak_to_mean", "cov", "chi2_p", "min_share", "max_share",
    "remap_join", "remap_leave", "remap_join_ideal", "remap_leave_ideal",
    "remap_join_requests", "remap_leave_requests",
    "nat_peak_to_mean_ip", "nat_peak_to_mean_user",
})

_GATE = re.compile(r"\s*([A-Za-z_][\w.\-]*)\s*[:=]\s*(.*?)\s*")
_THRESHOLD = re.compile(r"([+-]?)\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(%?)")
_EXAMPLE = "e.g. 'peak_to_mean: +2%' (relative) or 'remap_leave: +0.005' (absolute)"


# -- gates -------------------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    """How far one metric may move the bad way before CI fails."""

    metric: str
    #: +1: an increase beyond the threshold fails; -1: a decrease beyond it fails
    sign: int
    #: the threshold: a fraction (0.02 for 2%) when ``relative``, else in the metric's unit
    amount: float
    relative: bool
    #: where the gate was set, for messages (``--gate``, ``pyproject.toml``)
    source: str = "--gate"

    def __str__(self) -> str:
        s = "+" if self.sign > 0 else "-"
        return f"{s}{self.amount * 100:g}%" if self.relative else f"{s}{self.amount:g}"

    @property
    def timing(self) -> bool:
        return self.metric in TIMING_METRICS

    def fails(self, old: float, new: float) -> bool:
        """Whether ``new`` moved beyond the threshold from ``old``: exact, no noise model
        (a change that lands on the threshold itself, to float rounding, passes)."""
        allowed = abs(old) * self.amount if self.relative else self.amount
        return (new - old) * self.sign - allowed > 1e-12 * max(abs(old), abs(new))

    def fails_interval(self, ratio: _stats.Interval, diff: _stats.Interval | None) -> bool:
        """Whether the whole confidence interval lies beyond the threshold."""
        if self.relative:
            edge = 1 + self.sign * self.amount
            return ratio.low > edge if self.sign > 0 else ratio.high < edge
        assert diff is not None, "an absolute timing gate needs the difference's interval"
        return diff.low > self.amount if self.sign > 0 else diff.high < -self.amount


def parse_gate(text: str, source: str = "--gate") -> Gate:
    """``"peak_to_mean: +2%"`` (or ``peak_to_mean=+2%``) as a :class:`Gate`."""
    m = _GATE.fullmatch(text)
    if not m:
        raise RoutebenchError(f"gate {text!r}: expected METRIC: +N% or METRIC: +N, {_EXAMPLE}")
    return _threshold(m.group(1), m.group(2), source, text)


def _threshold(metric: str, value: Any, source: str, text: str | None = None) -> Gate:
    shown = text if text is not None else f"{metric} = {value!r}"
    where = f"gate {shown!r}" + (f" ({source})" if source != "--gate" else "")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RoutebenchError(f"{where}: expected a threshold string such as \"+2%\", {_EXAMPLE}")
    if isinstance(value, (int, float)):  # a bare TOML number: which direction is meant?
        raise RoutebenchError(
            f"{where}: write the threshold as a string with its direction, "
            f"\"+{abs(value):g}\" (fail on an increase) or \"-{abs(value):g}\" (a decrease), "
            f"{_EXAMPLE}")
    t = _THRESHOLD.fullmatch(value.strip())
    if not t:
        raise RoutebenchError(
            f"{where}: {value.strip()!r} is not a threshold; expected +N% or +N, {_EXAMPLE}"
        )
    sign, number, pct = t.groups()
    if not sign:
        raise RoutebenchError(
            f"{where}: the threshold needs a sign: '+{number}{pct}' fails on an increase beyond "
            f"{number}{pct}, '-{number}{pct}' on a decrease beyond it"
        )
    amount = float(number) / (100 if pct else 1)
    if not pct and metric in _UNIT_SCALE and amount >= 1:
        raise RoutebenchError(
            f"{where}: an absolute threshold of {number} on {metric} (a ratio or fraction "
            f"near 1) cannot be meant; write {sign}{number}% for a relative threshold or "
            f"an absolute one below 1 such as {sign}{amount / 100:g}"
        )
    return Gate(metric, 1 if sign == "+" else -1, amount, bool(pct), source)


def gates_from_mapping(table: Mapping[str, Any], source: str) -> list[Gate]:
    """Gates from a ``{metric: threshold}`` table such as ``[tool.routebench.gate]``."""
    return [_threshold(str(k), v, source) for k, v in table.items()]


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (the working directory)."""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        p = d / "pyproject.toml"
        if p.is_file():
            return p
    return None


def load_gates(path: str | os.PathLike[str]) -> list[Gate]:
    """The gates of ``[tool.routebench.gate]`` in a ``pyproject.toml`` (none if absent)."""
    p = Path(path)
    try:
        data = tomllib.loads(read_text(p, "valid TOML"))
    except tomllib.TOMLDecodeError as exc:
        raise RoutebenchError(f"{str(p)!r} is not valid TOML: {exc}") from None
    table: Any = data
    for part in ("tool", "routebench", "gate"):
        table = table.get(part, {}) if isinstance(table, dict) else None
    if not isinstance(table, dict):
        raise RoutebenchError(f"{str(p)!r}: tool.routebench.gate must be a table of "
                              f"metric = \"threshold\" lines, {_EXAMPLE}")
    return gates_from_mapping(table, f"{p.name} [tool.routebench.gate]")


def merge_gates(*layers: Iterable[Gate]) -> dict[str, Gate]:
    """One gate per metric; a later layer (the command line) overrides an earlier one."""
    out: dict[str, Gate] = {}
    for layer in layers:
        for g in layer:
            out[g.metric] = g
    return out


# -- matching results --------------------------------------------------------
def _name(r: Mapping[str, Any]) -> str:
    return str(r.get("strategy") or "?")




def _identity(r: Mapping[str, Any]) -> tuple[Any, ...]:
    """``identity``; a live result also by its label, which names the balancer software
    (``p2c@nginx``) or the user's configuration: HAProxy and nginx runs of one balancer
    are not the same scenario."""
    if r.get("record") == "live":
        return identity(r) + (str(r.get("label") or ""),)
    return identity(r)


def _replicate(r: Mapping[str, Any]) -> tuple[Any, ...]:
    """A sweep cell's replicate (its seeds value), which tells apart the runs of one cell:
    replicate 1 pairs with replicate 1 whatever the order or the cells either side lacks."""
    return (("replicate", r.get("replicate", 0)),) if r.get("record") == "sweep-cell" else ()


def _key(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return _identity(r) + _replicate(r)


def _workload(r: Mapping[str, Any]) -> str:
    """The trace a row shows; a sweep cell's replicate after it (``zipf r1``)."""
    return workload(r) + (f" r{r.get('replicate', 0)}" if _replicate(r) else "")


def _loose(r: Mapping[str, Any]) -> tuple[Any, ...]:
    """The identity without parameters: matches a scenario whose defaults changed."""
    i = _key(r)
    return (i[0],) + i[2:]


def _index(results: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], Mapping[str, Any]]:
    out: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for r in results:
        k = _key(r)
        n = 1
        while k in out:  # the same scenario twice in one report: keep both, in order
            n += 1
            k = _key(r) + (n,)
        out[k] = r
    return out


def _match(base: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]):
    """Pairs (base, new) in the new report's order, then what only one side has."""
    bi, ni = _index(base), _index(new)
    pairs = [(bi[k], r) for k, r in ni.items() if k in bi]
    only_b = [r for k, r in bi.items() if k not in ni]
    only_n = [r for k, r in ni.items() if k not in bi]
    if only_b and only_n:  # parameters added or renamed: pair by the rest when unambiguous
        lb: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
        for r in only_b:
            lb.setdefault(_loose(r), []).append(r)
        ln: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
        for r in only_n:
            ln.setdefault(_loose(r), []).append(r)
        for k, rs in ln.items():
            if len(rs) == 1 and len(lb.get(k, ())) == 1:
                pairs.append((lb[k][0], rs[0]))
                only_b.remove(lb[k][0])
                only_n.remove(rs[0])
    return pairs, only_b, only_n


def _labels(results: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Per strategy name, the parameters whose values differ between its results."""
    seen: dict[str, dict[str, set[str]]] = {}
    for r in results:
        d = seen.setdefault(_name(r), {})
        for k, v in (r.get("params") or {}).items():
            d.setdefault(k, set()).add(json.dumps(v, sort_keys=True, default=str))
    return {name: [k for k, vs in d.items() if len(vs) > 1] for name, d in seen.items()}


def _label(r: Mapping[str, Any], varying: Mapping[str, list[str]]) -> str:
    if r.get("record") == "live" and r.get("label"):
        return str(r["label"])  # names the software: p2c@nginx, haproxy.cfg:app@haproxy
    params = r.get("params") or {}
    shown = [f"{k}={params[k]}" for k in varying.get(_name(r), ()) if k in params]
    return _name(r) + (":" + ",".join(shown) if shown else "")


def _pair_label(b: Mapping[str, Any], n: Mapping[str, Any],
                varying: Mapping[str, list[str]]) -> str:
    """The new side's label; when the pair's parameters differ, both values of each."""
    if n.get("record") == "live" and n.get("label"):
        return str(n["label"])  # paired by label: the same balancer on the same software
    pb, pn = b.get("params") or {}, n.get("params") or {}
    moved = [k for k in dict.fromkeys([*pb, *pn]) if pb.get(k, "-") != pn.get(k, "-")]
    if not moved:
        return _label(n, varying)
    return _name(n) + ":" + ",".join(f"{k}={pb.get(k, '-')}->{pn.get(k, '-')}" for k in moved)


# -- the comparison ----------------------------------------------------------
@dataclass
class Row:
    """One metric of one scenario in both reports, and what its gate made of it."""

    group: tuple[str, str, str]  # strategy label, trace, nodes
    metric: str
    old: Any = None
    new: Any = None
    ratio: _stats.Interval | None = None  # timing with interleaved samples
    diff: _stats.Interval | None = None  # the same as new - base, for an absolute gate
    gate: Gate | None = None
    status: str = ""  # "", "ok", "FAIL", "not gated", "n/a", "only in base", "only in new"

    @property
    def delta(self) -> float | None:
        """new - base as shown (with interleaved rounds: of their medians)."""
        if _is_num(self.old) and _is_num(self.new):
            return float(self.new - self.old)
        return None

    @property
    def point_ratio(self) -> float | None:
        if self.ratio is not None:
            return self.ratio.estimate
        if _is_num(self.old) and _is_num(self.new) and self.old != 0:
            return float(self.new / self.old)
        return None

    def describe(self) -> str:
        """One line: what changed and the verdict, for the summary."""
        g = " / ".join(self.group)
        what = f"{g}: {self.metric} {_fmt(self.old)} -> {_fmt(self.new)}"
        if self.ratio is not None:
            what += (f", ratio {self.ratio.estimate:.3f} "
                     f"({self.ratio.confidence:.0%} CI {self.ratio.low:.3f}-{self.ratio.high:.3f})")
        elif self.point_ratio is not None:
            what += f" ({(self.point_ratio - 1) * 100:+.2f}%)"
        if self.gate is not None:
            what += f"; gate {self.gate} from {self.gate.source}"
        return what


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-4):
        return f"{v:.4g}" if abs(v) < 1e-4 else f"{v:,.0f}"
    return f"{v:.4g}"


def _fmt_delta(v: float | None) -> str:
    if v is None:
        return "-"
    return "0" if v == 0 else ("+" if v > 0 else "-") + _fmt(abs(v))


def _samples(r: Mapping[str, Any], metric: str) -> tuple[str | None, list[float] | None,
                                                         list[int] | None]:
    """A record's interleaved timing rounds of one metric: (session, values, blocks)."""
    t = r.get("timing")
    if not isinstance(t, Mapping):
        return None, None, None
    s = (t.get("rounds") or {}).get(metric)
    if not (isinstance(s, list) and s):
        return t.get("session"), None, None
    blocks = t.get("blocks")
    if not (isinstance(blocks, list) and len(blocks) == len(s)):
        blocks = None
    return t.get("session"), s, blocks


@dataclass
class Comparison:
    """Every changed (or gated) metric of the scenarios two reports share."""

    rows: list[Row]
    compared: int
    only_base: int
    only_new: int
    gates: dict[str, Gate]
    changed: int = 0
    checked: int = 0
    not_gated: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.status == "FAIL"]

    @property
    def passed(self) -> bool:
        return not self.failures

    def table(self, fmt: str = "github") -> str:
        """The rows grouped by strategy / trace / N (a group's label on its first row)."""
        headers = ["strategy", "trace", "N", "metric", "base", "new", "delta", "ratio",
                   "gate", "result"]
        out, last = [], None
        for r in self.rows:
            g = r.group
            shown = ["", "", ""] if (g == last and fmt != "csv") else list(g)
            last = g
            if r.ratio is not None:
                ratio = (f"{r.ratio.estimate:.3f} [{r.ratio.low:.3f}, {r.ratio.high:.3f}]"
                         if r.gate is None or r.gate.relative else
                         f"{r.ratio.estimate:.3f}")
                d = r.diff
                delta = (_fmt_delta(r.delta) if d is None or r.gate is None or r.gate.relative
                         else f"{_fmt_delta(d.estimate)} "
                              f"[{_fmt_delta(d.low)}, {_fmt_delta(d.high)}]")
            else:
                pr = r.point_ratio
                ratio = "-" if pr is None else f"{pr:.3f}"
                delta = _fmt_delta(r.delta)
            out.append(shown + [r.metric, _fmt(r.old), _fmt(r.new), delta, ratio,
                                "" if r.gate is None else str(r.gate), r.status])
        return format_table(headers, out, fmt)

    def summary(self) -> str:
        """What was compared and, if any gate failed, which and why (several lines)."""
        lines = [
            f"{self.compared} results compared ({self.only_base} only in base, "
            f"{self.only_new} only in new); {self.changed} metric values changed; "
            f"gates: {self.checked} checked, {len(self.failures)} failed"
            + (f", {self.not_gated} timing values not gated" if self.not_gated else "")
        ]
        if not self.gates:
            lines.append("note: no gates set (--gate 'METRIC: +N%', or [tool.routebench.gate] "
                         "in pyproject.toml): nothing can fail")
        lines += self.notes
        for r in self.failures:
            lines.append("FAIL " + r.describe())
        return "\n".join(lines)


def compare(base: Mapping[str, Any], new: Mapping[str, Any],
            gates: Mapping[str, Gate] | Iterable[Gate] = (), *, confidence: float = 0.95,
            show_all: bool = False, metrics: Iterable[str] | None = None) -> Comparison:
    """Compare two reports (as ``read_json`` returns them) and apply the gates.

    Results are matched by strategy, parameters, trace and node count. A row is
    kept for every metric whose value changed, every gated metric that failed,
    and, with ``show_all``, every metric. ``metrics`` limits the comparison to
    those names.
    """
    gmap = dict(gates) if isinstance(gates, Mapping) else merge_gates(gates)
    kb, kn = base.get("kind", "run"), new.get("kind", "run")
    if kb != kn:
        raise RoutebenchError(f"cannot compare a {kb!r} report with a {kn!r} report: compare "
                              "two reports of the same command")
    b_res, n_res = base.get("results", []), new.get("results", [])
    wanted = None if metrics is None else set(metrics)
    gmap, absent = _gates_in_force(gmap, (*b_res, *n_res), wanted)
    pairs, only_b, only_n = _match(b_res, n_res)
    if not pairs and gmap:
        raise RoutebenchError(
            f"nothing to gate: the reports share no result (base: {len(b_res)}, new: "
            f"{len(n_res)}); results are matched by strategy, parameters, trace and N")
    varying = _labels((*b_res, *n_res))
    cmp = Comparison([], len(pairs), len(only_b), len(only_n), gmap)
    if absent:
        cmp.notes.append("note: configured gates on metrics these reports do not have: "
                         + ", ".join(absent))
    for b, n in pairs:
        group = (_pair_label(b, n, varying), _workload(n), str(n.get("nodes", "")))
        bm, nm = b.get("metrics") or {}, n.get("metrics") or {}
        for metric in list(nm) + [k for k in bm if k not in nm]:
            if wanted is not None and metric not in wanted and metric not in gmap:
                continue
            row = _metric_row(group, b, n, metric, gmap.get(metric), confidence)
            changed = row.old != row.new
            cmp.changed += changed
            _judge(row, changed, cmp)
            if changed or row.status == "FAIL" or row.ratio is not None or show_all:
                cmp.rows.append(row)
    for side, recs in (("only in base", only_b), ("only in new", only_n)):
        for r in recs:
            group = (_label(r, varying), _workload(r), str(r.get("nodes", "")))
            cmp.rows.append(Row(group, "-", status=side))
    cmp.notes += _notes(base, new, pairs, timing_unpaired=cmp.not_gated > 0)
    if any(timed_apart(b, n) for b, n in pairs):
        cmp.notes.append("note: some results were timed on different workers (a sweep's "
                         "\"worker\" field): their timing metrics are shown, never gated")
    return cmp


def _gates_in_force(gmap: dict[str, Gate], results: Sequence[Mapping[str, Any]],
                    wanted: set[str] | None) -> tuple[dict[str, Gate], list[str]]:
    """The gates on metrics the reports have, and the configured ones they lack.

    A gate or metric named on the command line must exist; a project's
    configured gates apply to whichever of their metrics the reports have.
    """
    known: set[str] = set()
    for r in results:
        known.update((r.get("metrics") or {}).keys())
    asked = {g.metric for g in gmap.values() if g.source == "--gate"} | (wanted or set())
    for name in sorted(asked):
        if name not in known:
            shown = ", ".join(sorted(known)) or "none"
            raise RoutebenchError(
                f"metric {name!r} is in neither report; metrics there: {shown}"
            )
    absent = sorted(m for m in gmap if m not in known)
    return {m: g for m, g in gmap.items() if m in known}, absent


def _metric_row(group: tuple[str, str, str], b: Mapping[str, Any], n: Mapping[str, Any],
                metric: str, gate: Gate | None, confidence: float) -> Row:
    """One metric of a result pair; timing metrics with interleaved samples get intervals."""
    bm, nm = b.get("metrics") or {}, n.get("metrics") or {}
    row = Row(group, metric, bm.get(metric), nm.get(metric), gate=gate)
    if metric in TIMING_METRICS and not timed_apart(b, n):
        sb, xb, blocks = _samples(b, metric)
        sn, xn, _ = _samples(n, metric)
        if xb and xn and sb is not None and sb == sn and len(xb) == len(xn):
            row.ratio = _stats.paired_ratio(xb, xn, confidence, blocks=blocks)
            if gate is not None and not gate.relative:  # only it reads diff
                row.diff = _stats.paired_difference(xb, xn, confidence, blocks=blocks)
            # base: the trimmed geometric mean of its rounds; new: base x the paired ratio,
            # so the columns agree with the ratio shown (medians of each side did not)
            row.old = _stats.geometric_center(xb)
            row.new = row.old * row.ratio.estimate
    return row


def timed_apart(b: Mapping[str, Any], n: Mapping[str, Any]) -> bool:
    """True when either result was timed on a sweep's worker and not on the same one as
    the other: their timing metrics are not comparable, so they are never gated."""
    if "worker" not in b and "worker" not in n:
        return False
    return b.get("worker") != n.get("worker") or b.get("worker") is None


def _judge(row: Row, changed: bool, cmp: Comparison) -> None:
    """The row's gate verdict, counted in ``cmp``."""
    g = row.gate
    if g is None:
        return
    if row.metric in TIMING_METRICS and row.ratio is None:
        row.status = "not gated"
        cmp.not_gated += 1
    elif _is_num(row.old) and not _is_num(row.new):
        cmp.checked += 1  # a gated number went missing: that is no pass
        row.status = "FAIL"
    elif not (_is_num(row.old) and _is_num(row.new)):
        row.status = "n/a" if changed else "ok"
    else:
        cmp.checked += 1
        bad = (g.fails_interval(row.ratio, row.diff) if row.ratio is not None
               else g.fails(float(row.old), float(row.new)))
        row.status = "FAIL" if bad else "ok"


def _notes(base: Mapping[str, Any], new: Mapping[str, Any],
           pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
           timing_unpaired: bool) -> list[str]:
    notes = []
    if timing_unpaired:
        notes.append(
            "note: timing gates apply only to samples timed in one job with interleaved "
            "rounds (routebench ab, or routebench run --baseline BASE.json --base-python PY, "
            f"which time {', '.join(INTERLEAVED_METRICS)}); these reports have no such rounds "
            "for the timing metrics marked 'not gated', so their changes are shown, not gated"
        )
    settings = _settings_difference(base, new, pairs)
    if settings:
        notes.append("note: the reports were made with different settings (" + settings
                     + "): quality metrics then differ by sampling, not by code; gate on "
                       "reports made with the same settings")
    env = _env_difference(base.get("environment") or {}, new.get("environment") or {})
    if env:
        notes.append("note: base and new environments differ: " + env)
    return notes


def _settings_difference(base: Mapping[str, Any], new: Mapping[str, Any],
                         pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> str:
    """The sampling settings (seed, request count, scenario) that differ between two reports."""
    cb, cn = base.get("config") or {}, new.get("config") or {}
    diffs = [f"{k} {cb.get(k)} -> {cn.get(k)}" for k in ("seed", "requests", "keys")
             if isinstance(cb, Mapping) and isinstance(cn, Mapping) and k in cb and k in cn
             and cb[k] != cn[k]]
    for k in ("seed", "scenario_params"):  # per result (simulate records carry them)
        moved = sum(1 for b, n in pairs if k in b and k in n and b[k] != n[k])
        if moved and not any(d.startswith(f"{k} ") for d in diffs):
            diffs.append(f"{k} differs in {moved} of {len(pairs)} paired results")
    return "; ".join(diffs)


def _env_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    keys = ("routebench", "git_commit", "python", "numpy", "numba", "platform", "cpu")
    diffs = []
    for k in keys:
        if a.get(k) != b.get(k) and (a.get(k) is not None or b.get(k) is not None):
            va, vb = a.get(k), b.get(k)
            if k == "git_commit":
                va, vb = (str(v)[:10] if v else v for v in (va, vb))
            diffs.append(f"{k} {va} -> {vb}")
    return "; ".join(diffs)
