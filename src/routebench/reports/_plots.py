"""The report's figures, drawn with matplotlib's object API on the Agg canvas.

Every function takes result records and a path, draws one figure, and
returns the path, or None when the records hold too little for that figure
(one node count cannot make a curve over N). ``matplotlib.figure.Figure`` is
used directly, never ``pyplot``: no GUI backend is ever chosen, no global
state is kept, and the figures render the same on a headless CI machine.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..records import params_key, workload

__all__ = [
    "keys_per_node",
    "peak_vs_vnodes",
    "remap_vs_nodes",
    "lookup_vs_nodes",
    "latency_percentiles",
    "load_over_time",
    "backend_load",
    "timing_intervals",
    "sweep_vs_nodes",
    "sweep_vs_param",
    "sweep_param_axes",
    "locality_points",
    "locality_figure",
    "locality_balance",
    "sim_hit_over_time",
    "static_hit_over_time",
    "main_variants",
    "unique",
]

Record = Mapping[str, Any]

_PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
            "#8C8C8C", "#CCB974", "#64B5CD")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
_LATENCY = re.compile(r"^(?:latency|response|response_time|rt)(?:_(?:ms|s|us|ns))?_p(\d+)$")
_TIME_KEYS = ("t", "time", "ts", "times")
_LOAD_KEYS = ("load", "outstanding", "in_flight", "inflight", "active", "queue")


def _figure(width: float = 9.0, height: float = 4.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150, layout="constrained")
    return fig


def _style(ax: Any) -> None:
    ax.grid(True, which="major", color="#dddddd", linewidth=0.8)
    ax.grid(True, which="minor", color="#f0f0f0", linewidth=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # "tight": a title or legend wider than a one-panel figure grows the image, not clipped
    fig.savefig(path, metadata={"Software": None} if path.suffix == ".png" else {"Date": None},
                bbox_inches="tight", pad_inches=0.15)
    return path


class Colors:
    """One colour and marker per strategy name, the same in every figure."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(dict.fromkeys(names))

    def color(self, name: str) -> str:
        if name not in self.names:
            self.names.append(name)
        return _PALETTE[self.names.index(name) % len(_PALETTE)]

    def marker(self, name: str) -> str:
        if name not in self.names:
            self.names.append(name)
        return _MARKERS[self.names.index(name) % len(_MARKERS)]


def _name(r: Record) -> str:
    return str(r.get("strategy") or "?")


def _pkey(r: Record) -> str:
    return params_key(r)


def unique(results: Iterable[Record]) -> list[Record]:
    """The results with a repeated scenario (strategy, parameters, trace, N) kept once."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in results:
        k = (_name(r), _pkey(r), r.get("trace"), r.get("nodes"))
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def main_variants(results: Sequence[Record]) -> list[Record]:
    """Per strategy, the results of its most common parameter set (a sweep's extras dropped)."""
    common: dict[str, str] = {}
    for name in dict.fromkeys(_name(r) for r in results):
        counts = Counter(_pkey(r) for r in results if _name(r) == name)
        common[name] = counts.most_common(1)[0][0]
    return [r for r in results if _pkey(r) == common[_name(r)]]


def _metric(r: Record, m: str) -> float | None:
    v = (r.get("metrics") or {}).get(m)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _pick_trace(results: Sequence[Record], prefer: str = "uniform") -> str | None:
    traces = [str(r.get("trace")) for r in results if r.get("trace") is not None]
    if not traces:
        return None
    return prefer if prefer in traces else Counter(traces).most_common(1)[0][0]


# -- static (keyed) figures --------------------------------------------------
def keys_per_node(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Each node's keys over the mean, a dot per node, per strategy (one panel per N)."""
    rs = [r for r in main_variants(results) if r.get("counts")]
    trace = _pick_trace(rs)
    rs = [r for r in rs if r.get("trace") == trace]
    if not rs:
        return None
    ns = sorted({int(r["nodes"]) for r in rs})
    shown = ns if len(ns) <= 2 else [ns[0], ns[-1]]
    if len(ns) > 2:  # the smallest and the largest N in the data, plus 100 if present
        shown = sorted({ns[0], ns[-1], *(n for n in ns if n == 100)})[:3]
    fig = _figure(4.2 * len(shown) + 1.0, 4.8)
    axes = np.atleast_1d(fig.subplots(1, len(shown), sharey=True, squeeze=False)[0])
    names = list(dict.fromkeys(_name(r) for r in rs))
    rng = np.random.default_rng(0)
    for ax, n in zip(axes, shown):
        for x, name in enumerate(names):
            r = next((r for r in rs if _name(r) == name and int(r["nodes"]) == n), None)
            if r is None:
                continue
            c = np.asarray(r["counts"], dtype=np.float64)
            rel = c / c.mean() if c.mean() > 0 else c
            jitter = rng.uniform(-0.28, 0.28, rel.size) if rel.size > 1 else np.zeros(1)
            ax.scatter(x + jitter, rel, s=14 if rel.size <= 30 else 6, alpha=0.75,
                       color=colors.color(name), edgecolors="none")
            ax.hlines([rel.max(), rel.min()], x - 0.38, x + 0.38, color=colors.color(name),
                      linewidth=1.2)
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_title(f"N = {n}")
        _style(ax)
        ax.grid(False, axis="x")
    axes[0].set_ylabel("keys on node / mean (1 = perfectly even)")
    fig.suptitle(f"Keys per node ({trace} trace): each dot a node, bars at max and min")
    return _save(fig, path)


def peak_vs_vnodes(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Peak-to-mean load against virtual nodes per node, with other strategies for scale."""
    swept = [r for r in results if "vnodes" in (r.get("params") or {})
             and _metric(r, "peak_to_mean") is not None]
    trace = _pick_trace(swept)
    swept = [r for r in swept if r.get("trace") == trace]
    by_name_n: dict[tuple[str, int], dict[int, float]] = defaultdict(dict)
    for r in swept:
        ptm = _metric(r, "peak_to_mean")
        if ptm is not None:  # every swept result has one (filtered above)
            by_name_n[(_name(r), int(r["nodes"]))][int(r["params"]["vnodes"])] = ptm
    lines = {k: v for k, v in by_name_n.items() if len(v) >= 2}
    if not lines:
        return None
    ns = sorted({n for _, n in lines})
    fig = _figure(4.6 * len(ns) + 1.0, 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(ns), sharey=True, squeeze=False)[0])
    others = [r for r in main_variants(results) if r.get("trace") == trace
              and "vnodes" not in (r.get("params") or {})
              and _metric(r, "peak_to_mean") is not None]
    for ax, n in zip(axes, ns):
        for (name, nn), pts in sorted(lines.items()):
            if nn != n:
                continue
            xs = sorted(pts)
            ax.plot(xs, [pts[x] for x in xs], marker=colors.marker(name), color=colors.color(name),
                    label=f"{name} (vnodes swept)", linewidth=2)
        for r in others:
            if int(r["nodes"]) != n:
                continue
            v = _metric(r, "peak_to_mean")
            ax.axhline(v, color=colors.color(_name(r)), linestyle=":", linewidth=1.6,
                       label=f"{_name(r)} ({v:.3f})")
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("virtual nodes per node")
        ax.set_title(f"N = {n}")
        _style(ax)
        ax.legend(fontsize=7.5, loc="upper right", frameon=False)
    axes[0].set_ylabel("peak-to-mean load (1 = perfectly even)")
    fig.suptitle(f"Peak-to-mean load vs virtual nodes ({trace} trace); "
                 "dotted: strategies without virtual nodes")
    return _save(fig, path)


def _by_n(rs: Iterable[Record], metric: str) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for r in rs:
        v = _metric(r, metric)
        if v is not None and v > 0:
            out[_name(r)][int(r["nodes"])] = v
    return out


def _over_n(results: Sequence[Record]) -> tuple[str | None, list[Record]] | None:
    """The main variants on one trace, when they span at least two node counts."""
    rs = main_variants(results)
    trace = _pick_trace(rs)
    rs = [r for r in rs if r.get("trace") == trace]
    if len({int(r["nodes"]) for r in rs}) < 2:
        return None
    return trace, rs


def remap_vs_nodes(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Share of keys that move on a join and on a leave, against N and the ideal."""
    picked = _over_n(results)
    if picked is None:
        return None
    trace, rs = picked
    fig = _figure(11, 4.8)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (event, label) in zip(axes, (("join", "one node joins (N -> N+1)"),
                                         ("leave", "one node leaves"))):
        data = _by_n(rs, f"remap_{event}")
        ideal = _by_n(rs, f"remap_{event}_ideal")
        for name, pts in data.items():
            xs = sorted(pts)
            ax.plot(xs, [pts[x] for x in xs], marker=colors.marker(name),
                    color=colors.color(name), label=name, linewidth=1.8, alpha=0.9)
        ideal_pts: dict[int, float] = {}
        for pts in ideal.values():
            ideal_pts.update(pts)
        if ideal_pts:
            xs = sorted(ideal_pts)
            ax.plot(xs, [ideal_pts[x] for x in xs], color="black", linestyle="--", linewidth=1.5,
                    label="ideal (1/(N+1), 1/N)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("nodes N")
        ax.set_title(label)
        _style(ax)
    axes[0].set_ylabel("share of distinct keys that move")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(f"Remapped keys vs N against the ideal ({trace} trace)")
    return _save(fig, path)


def lookup_vs_nodes(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Batch ns/key and scalar lookup ns against N, both axes logarithmic."""
    picked = _over_n(results)
    if picked is None:
        return None
    trace, rs = picked
    fig = _figure(11, 4.8)
    axes = fig.subplots(1, 2)
    for ax, (metric, title) in zip(axes, (("batch_ns_per_key", "batch lookup_many, ns per key"),
                                          ("lookup_ns_p50", "scalar lookup(key), median ns"))):
        for name, pts in _by_n(rs, metric).items():
            xs = sorted(pts)
            ax.plot(xs, [pts[x] for x in xs], marker=colors.marker(name),
                    color=colors.color(name), label=name, linewidth=1.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax.xaxis)
        _plain_log_ticks(ax.yaxis)
        ax.set_xlabel("nodes N")
        ax.set_ylabel("ns")
        ax.set_title(title)
        _style(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(f"Lookup cost vs N ({trace} trace; one run's timings, not a gate)")
    return _save(fig, path)


# -- simulation figures ------------------------------------------------------
def latency_percentiles(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Response-time percentiles per balancer: a row each, p50 to the tail on a log axis."""
    rows = []
    for r in results:
        pct = {}
        for k, v in (r.get("metrics") or {}).items():
            if _LATENCY.match(k) and isinstance(v, (int, float)) and v is not None and v > 0:
                pct[k] = float(v)
        if pct:
            rows.append((r, pct))
    if not rows:
        return None
    keys = sorted({k for _, p in rows for k in p}, key=_pct_value)
    named = re.search(r"_(ms|s|us|ns)_p", keys[0])
    unit = named.group(1) if named else "s"  # the simulator's times are in seconds
    if unit == "s":  # show milliseconds: 12.5 reads better than 0.0125
        rows = [(r, {k: v * 1e3 for k, v in p.items()}) for r, p in rows]
        unit = "ms"
    fig = _figure(9.0, 0.45 * len(rows) + 1.8)
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    for yi, (r, p) in zip(y, rows):
        xs = [p[k] for k in keys if k in p]
        ax.plot([min(xs), max(xs)], [yi, yi], color=colors.color(_name(r)), linewidth=2.5,
                alpha=0.5, solid_capstyle="round")
    for j, k in enumerate(keys):
        pts = [(yi, p[k]) for yi, (_, p) in zip(y, rows) if k in p]
        ax.scatter([v for _, v in pts], [yi for yi, _ in pts], marker=_MARKERS[j % len(_MARKERS)],
                   s=46, color="#333333", zorder=3, label=_pct_label(k))
        for yi, v in pts:  # labels above and below in turn, so close markers stay legible
            ax.annotate(_short(v), (v, yi), textcoords="offset points",
                        xytext=(0, 7 if j % 2 == 0 else -12), ha="center", fontsize=7,
                        color="#333333")
    ax.set_yticks(y, [_sim_label(r).replace("\n", " / ") for r, _ in rows])
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    _plain_log_ticks(ax.xaxis, dense=hi / lo < 1e3)
    ax.set_xlabel(f"response time ({unit}), log scale")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", frameon=False,
               fontsize=8)
    _style(ax)
    fig.suptitle("Response-time percentiles per balancer (simulation)")
    return _save(fig, path)


def _plain_log_ticks(axis: Any, dense: bool = True) -> None:
    """Log-axis tick labels as plain numbers (300, not 3 x 10^2); 1-2-5 steps when
    the axis spans few decades, powers of ten otherwise."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if dense else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _short(v)))
    axis.set_minor_formatter(NullFormatter())


def _short(v: float) -> str:
    """12.5, 140, 9.0k, 68k, 1.2M: a number in at most four characters or so."""
    a = abs(v)
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if a >= div:
            x = v / div
            text = f"{x:.1f}".rstrip("0").rstrip(".") if abs(x) < 10 else f"{x:.0f}"
            return text + suffix
    return f"{v:.3g}"


def _pct_value(key: str) -> float:
    m = re.search(r"_p(\d+)$", key)
    digits = m.group(1) if m else "0"
    return float(digits[:2] + "." + digits[2:]) if len(digits) > 2 else float(digits)


def _pct_label(key: str) -> str:
    return f"p{_pct_value(key):g}"


def _label(r: Record) -> str:
    """The strategy with the parameters that differ from its defaults, as recorded."""
    return str(r.get("label") or _name(r))


def _sim_label(r: Record) -> str:
    scen = workload(r)
    return _label(r) + (f"\n{scen}" if scen else "")


def backend_load(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Per balancer, each backend's time-averaged outstanding requests over the mean
    (one panel per scenario)."""
    rows = []
    for r in results:
        loads = [b.get("mean_outstanding") for b in (r.get("backends") or [])
                 if isinstance(b, Mapping)]
        vals = np.asarray([v for v in loads if isinstance(v, (int, float))], dtype=np.float64)
        if vals.size and vals.mean() > 0:
            rows.append((r, vals / vals.mean()))
    if not rows:
        return None
    scenarios = list(dict.fromkeys(workload(r)
                                   for r, _ in rows))[:4]
    per = [[(r, v) for r, v in rows if workload(r) == sc][:12]
           for sc in scenarios]
    widths = [max(len(p), 2) for p in per]
    fig = _figure(max(7.0, 0.75 * sum(widths) + 1.5), 4.8)
    axes = np.atleast_1d(fig.subplots(1, len(per), squeeze=False,
                                      gridspec_kw={"width_ratios": widths})[0])
    rng = np.random.default_rng(0)
    for ax, sc, group in zip(axes, scenarios, per):
        for x, (r, rel) in enumerate(group):
            c = colors.color(_name(r))
            jitter = rng.uniform(-0.25, 0.25, rel.size) if rel.size > 1 else np.zeros(1)
            ax.scatter(x + jitter, rel, s=14 if rel.size <= 40 else 6, color=c, alpha=0.8,
                       edgecolors="none")
            ax.hlines([rel.max(), rel.min()], x - 0.35, x + 0.35, color=c, linewidth=1.2)
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
        ax.set_xticks(range(len(group)), [_label(r) for r, _ in group], rotation=35,
                      ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(group) - 0.4)
        ax.set_title(sc or "simulation", fontsize=10)
        _style(ax)
        ax.grid(False, axis="x")
    axes[0].set_ylabel("mean outstanding requests / mean over backends")
    fig.suptitle("Load per backend, per balancer (simulation)")
    return _save(fig, path)


def _series(r: Record) -> tuple[np.ndarray, np.ndarray] | None:
    """(times, load[t, backend]) from a simulation record's time series, if it has one."""
    s = r.get("series") or r.get("timeline")
    if not isinstance(s, Mapping):
        return None
    t = next((s[k] for k in _TIME_KEYS if k in s), None)
    load = next((s[k] for k in _LOAD_KEYS if k in s), None)
    if t is None or load is None:
        return None
    if isinstance(load, Mapping):  # {backend: [load over time]}
        load = np.asarray(list(load.values()), dtype=np.float64).T
    arr = np.asarray(load, dtype=np.float64)
    times = np.asarray(t, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] != times.size and arr.shape[1] == times.size:
        arr = arr.T
    if arr.shape[0] != times.size or times.size < 2:
        return None
    return times, arr


def load_over_time(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Per balancer, the busiest, mean and idlest backend's load over time: one row
    per scenario, a log scale shared along the row (a backend whose queue grows
    without bound sits beside balancers that keep every queue short)."""
    panels = [(r, s) for r in results if (s := _series(r)) is not None]
    if not panels:
        return None
    by_scen: dict[str, list[tuple[Record, tuple[np.ndarray, np.ndarray]]]] = {}
    for r, s in panels:
        by_scen.setdefault(workload(r), []).append((r, s))
    scens = list(by_scen)[:6]
    cols = min(6, max(len(v) for v in by_scen.values()))
    fig = _figure(3.0 * cols + 0.8, 2.7 * len(scens) + 0.9)
    grid = fig.subplots(len(scens), cols, squeeze=False)
    for row, sc in zip(grid, scens):
        group = by_scen[sc][:cols]
        # headroom over the busiest backend of the row (the panels share the y axis)
        top = max(1.0, *(float(load.max()) for _, (_, load) in group)) * 1.6
        for ax in row[1:len(group)]:
            ax.sharey(row[0])
            ax.sharex(row[0])
        for ax, (r, (t, load)) in zip(row, group):
            c = colors.color(_name(r))
            lo, hi = load.min(axis=1), load.max(axis=1)
            ax.fill_between(t, lo, hi, color=c, alpha=0.2, linewidth=0,
                            label="idlest to busiest backend")
            ax.plot(t, hi, color=c, linewidth=1.2, label="busiest backend")
            ax.plot(t, load.mean(axis=1), color="black", linewidth=1, linestyle="--",
                    label="mean over backends")
            ax.set_yscale("symlog", linthresh=1.0)
            ax.set_ylim(0, top)
            ax.set_title(f"{_label(r)}" + (f" / {sc}" if sc else ""), fontsize=8)
            _style(ax)
        for ax in row[len(group):]:
            ax.set_visible(False)
        row[0].set_ylabel("outstanding requests")
    handles, labels = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, frameon=False, loc="outside lower center", ncols=3)
    for row in grid:
        for ax in row:
            ax.set_xlabel("simulated time (s)", fontsize=8)
    fig.suptitle("Load over time per balancer (simulation; symlog scale, linear below 1)")
    return _save(fig, path)


# -- comparison figure -------------------------------------------------------
def timing_intervals(rows: Sequence[Any], path: Path) -> Path | None:
    """new/base per scenario and timing metric, with its confidence interval and gate."""
    rows = [r for r in rows if getattr(r, "ratio", None) is not None]
    if not rows:
        return None
    total = len(rows)
    rows = rows[:60]
    fig = _figure(8.5, 0.28 * len(rows) + 1.6)
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows):
        iv = r.ratio
        bad = r.status == "FAIL"
        color = "#C44E52" if bad else "#4C72B0"
        ax.plot([iv.low, iv.high], [yi, yi], color=color, linewidth=2.2)
        ax.plot([iv.estimate], [yi], "o", color=color, markersize=4.5)
        if r.gate is not None and r.gate.relative:
            edge = 1 + r.gate.sign * r.gate.amount
            ax.plot([edge, edge], [yi - 0.4, yi + 0.4], color="#999999", linewidth=1)
    ax.axvline(1.0, color="black", linewidth=1, linestyle="--")
    ax.set_yticks(y, [f"{' '.join(r.group)}  {r.metric}" for r in rows], fontsize=7)
    ax.set_xlabel("new / base (interleaved rounds; bar: confidence interval, tick: gate)")
    _style(ax)
    fig.suptitle("Timing: candidate over base, measured in one job"
                 + (f" (the first 60 of {total}; every one is in the table)" if total > 60
                    else ""))
    return _save(fig, path)


# -- sweeps (routebench sweep) --------------------------------------------------------------
def _sweep_points(rs: Iterable[Record], metric: str, x: Callable[[Record], float | None],
                  line: Callable[[Record], str]) -> dict[str, dict[float, list[float]]]:
    """line -> x -> the metric's values over replicates."""
    out: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rs:
        v, xv = _metric(r, metric), x(r)
        if v is not None and xv is not None and math.isfinite(v):
            out[line(r)][xv].append(v)
    return out


def _sweep_lines(ax: Any, pts: Mapping[str, Mapping[float, list[float]]],
                 colors: Colors) -> None:
    """One line a strategy through the replicates' mean; a band from their least to most."""
    for name, by_x in pts.items():
        xs = sorted(by_x)
        mean = [float(np.mean(by_x[x])) for x in xs]
        ax.plot(xs, mean, marker=colors.marker(name), color=colors.color(name), label=name,
                linewidth=1.6, alpha=0.9)
        if any(len(by_x[x]) > 1 for x in xs):
            ax.fill_between(xs, [min(by_x[x]) for x in xs], [max(by_x[x]) for x in xs],
                            color=colors.color(name), alpha=0.15, linewidth=0)


def sweep_vs_nodes(results: Sequence[Record], path: Path, colors: Colors,
                   metric: str) -> Path | None:
    """A sweep's ``metric`` against N, one line a strategy, one panel a trace (up to 4)."""
    rs = [r for r in results if r.get("status", "ok") == "ok" and r.get("nodes")]
    traces = list(dict.fromkeys(str(r.get("trace")) for r in rs))[:4]
    if not traces or len({r["nodes"] for r in rs}) < 2:
        return None
    fig = _figure(4.2 * len(traces) + 2.2, 4.4)
    axes = fig.subplots(1, len(traces), sharey=True, squeeze=False)[0]
    for ax, trace in zip(axes, traces):
        pts = _sweep_points((r for r in rs if str(r.get("trace")) == trace), metric,
                            lambda r: float(r["nodes"]), _label)
        _sweep_lines(ax, pts, colors)
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("nodes N")
        ax.set_title(Path(trace).name if "/" in trace else trace, fontsize=9)
        _style(ax)
    axes[0].set_ylabel(metric)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(f"{metric} against N (mean over replicates; band: least to most)")
    return _save(fig, path)


def sweep_param_axes(results: Sequence[Record]) -> list[tuple[str, str]]:
    """(strategy, parameter) pairs a sweep varies over two or more numeric values."""
    seen: dict[tuple[str, str], set[float]] = defaultdict(set)
    for r in results:
        for k, v in (r.get("params") or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                seen[(str(r.get("strategy")), k)].add(float(v))
    return [key for key, vs in seen.items() if len(vs) >= 2]


def sweep_vs_param(results: Sequence[Record], path: Path, colors: Colors, metric: str,
                   strategy: str, param: str) -> Path | None:
    """A sweep's ``metric`` against one strategy's parameter, one line an N (first trace)."""
    rs = [r for r in results if r.get("status", "ok") == "ok"
          and r.get("strategy") == strategy and param in (r.get("params") or {})]
    trace = next((str(r.get("trace")) for r in rs), None)
    rs = [r for r in rs if str(r.get("trace")) == trace]
    pts = _sweep_points(rs, metric, lambda r: float(r["params"][param]),
                        lambda r: f"N={r['nodes']}")
    if not pts:
        return None
    fig = _figure(8, 4.4)
    ax = fig.subplots()
    _sweep_lines(ax, pts, colors)
    ax.set_xlabel(f"{strategy} {param}")
    ax.set_ylabel(metric)
    _style(ax)
    ax.legend(fontsize=8, frameon=False)
    shown = Path(trace).name if trace and "/" in trace else trace
    fig.suptitle(f"{metric} against {strategy}'s {param} ({shown} trace)")
    return _save(fig, path)


# -- caches (--cache) --------------------------------------------------------------
def _cache_panel(r: Record) -> str:
    """A simulation's panel: its scenario, content keys and cache."""
    sp = r.get("scenario_params") or {}
    parts = [workload(r) or "simulation", f"keys {sp.get('keys', '?')}"]
    if sp.get("cache"):
        parts.append(str(sp["cache"]))
    return ", ".join(parts)


def _without_eps(label: str) -> str:
    out = re.sub(r"(?<=[:,])eps=[^,]*,?", "", label).rstrip(",:")
    return out


def locality_points(results: Sequence[Record]
                    ) -> dict[str, dict[str, list[tuple[float, float, float | None]]]]:
    """The locality-versus-balance points of simulation records with caches: by panel
    (scenario, content keys, cache), by series (a balancer; bounded-load's runs at
    each eps are one series), ``(outstanding_imbalance_avg, hit_ratio, eps)`` sorted
    by eps (None for balancers without one)."""
    out: dict[str, dict[str, list[tuple[float, float, float | None]]]] = {}
    for r in results:
        x, y = _metric(r, "outstanding_imbalance_avg"), _metric(r, "hit_ratio")
        if x is None or y is None:
            continue
        eps = (r.get("params") or {}).get("eps")
        eps = float(eps) if isinstance(eps, (int, float)) and not isinstance(eps, bool) else None
        label = _without_eps(_label(r)) if eps is not None else _label(r)
        out.setdefault(_cache_panel(r), {}).setdefault(label, []).append((x, y, eps))
    for panel in out.values():
        for pts in panel.values():
            pts.sort(key=lambda p: -math.inf if p[2] is None else p[2])
    return out


def locality_figure(results: Sequence[Record], colors: Colors) -> Any | None:
    """The figure of :func:`locality_balance` (None without cached simulation records)."""
    data = locality_points(results)
    if not data:
        return None
    panels = list(data)[:4]
    fig = _figure(5.2 * len(panels) + 1.0, 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    for ax, panel in zip(axes, panels):
        for label, pts in data[panel].items():
            name = label.split(":", 1)[0]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            ax.plot(xs, ys, color=colors.color(name), marker=colors.marker(name), markersize=6,
                    linewidth=1.2 if len(pts) > 1 else 0, label=label)
            for x, y, e in pts:
                if e is not None:
                    ax.annotate(f"eps={e:g}", (x, y), textcoords="offset points", xytext=(5, 4),
                                fontsize=7, color="#333333")
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("outstanding-load imbalance (max/mean, time-averaged)")
        _style(ax)
    axes[0].set_ylabel("hit ratio")
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), fontsize=8, frameon=False,
               loc="outside lower center", ncols=min(4, len(handles)))
    fig.suptitle("Locality against balance: hit ratio and load imbalance per balancer "
                 "(simulation; up and left is better)")
    return fig


def locality_balance(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Hit ratio against outstanding-load imbalance, one panel per scenario and content-key
    distribution: a point a balancer, bounded-load's eps values joined into a curve."""
    fig = locality_figure(results, colors)
    return None if fig is None else _save(fig, path)


def _cache_series(r: Record) -> Mapping[str, Any] | None:
    s = (r.get("series") or {}).get("cache")
    return s if isinstance(s, Mapping) else None


def sim_hit_over_time(results: Sequence[Record], path: Path, colors: Colors) -> Path | None:
    """Windowed hit ratio over simulated time, a line a balancer, one panel per
    scenario; dotted vertical lines mark the topology events."""
    rows = [(r, s) for r in results if (s := _cache_series(r)) is not None
            and len(s.get("hit_ratio") or ()) >= 2]
    if not rows:
        return None
    panels = list(dict.fromkeys(_cache_panel(r) for r, _ in rows))[:4]
    fig = _figure(9.0, 3.2 * len(panels) + 1.0)
    axes = np.atleast_1d(fig.subplots(len(panels), 1, squeeze=False)[:, 0])
    for ax, panel in zip(axes, panels):
        marked: set[tuple[str, float]] = set()
        for r, s in rows:
            if _cache_panel(r) != panel:
                continue
            ax.plot(s["t"], s["hit_ratio"], color=colors.color(_name(r)), linewidth=1.1,
                    label=_label(r))
            for e in s.get("events") or ():
                key = (str(e.get("event")), float(e.get("time", 0.0)))
                if key not in marked:
                    marked.add(key)
                    ax.axvline(key[1], color="#555555", linestyle=":", linewidth=1)
                    ax.annotate(f"{key[0]} {e.get('backend', '')}", (key[1], 1.0),
                                xycoords=("data", "axes fraction"), fontsize=7,
                                xytext=(3, -10), textcoords="offset points")
        ax.set_title(panel, fontsize=9)
        ax.set_ylabel("hit ratio")
        _style(ax)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    axes[-1].set_xlabel("simulated time (s)")
    w = rows[0][1].get("window")
    fig.suptitle(f"Hit ratio over time, windows of {w:,} requests (simulation)")
    return _save(fig, path)


def static_hit_over_time(results: Sequence[Record], path: Path,
                         colors: Colors) -> Path | None:
    """``run --cache``: the windowed hit ratio (a line a strategy) over the whole replay,
    then in the join and the leave phases with, dashed, the control (the same requests
    without the event) and a vertical line at the event. One row per trace and N."""
    kinds = ("replay", "join", "leave")
    rows = [(r, s) for r in results if (s := _cache_series(r)) is not None
            and any(isinstance(s.get(k), Mapping) for k in kinds)]
    if not rows:
        return None
    groups = list(dict.fromkeys((str(r.get("trace")), r.get("nodes")) for r, _ in rows))[:4]
    fig = _figure(15.0, 3.1 * len(groups) + 1.0)
    grid = fig.subplots(len(groups), 3, squeeze=False)
    titles = {"replay": "the replay, caches cold at the start", "join": "a node joins",
              "leave": "a node leaves"}
    for row, (trace, n) in zip(grid, groups):
        for ax, kind in zip(row, kinds):
            at = None
            for r, s in rows:
                ph = s.get(kind)
                if (str(r.get("trace")), r.get("nodes")) != (trace, n) or not ph:
                    continue
                w = int(s["window"])
                ys = np.asarray(ph.get("hit_ratio") or [], np.float64)
                if ys.size == 0:
                    continue
                c = colors.color(_name(r))
                ax.plot((np.arange(ys.size) + 1) * w, ys, color=c, linewidth=1.1,
                        label=_label(r))
                ctl = np.asarray(ph.get("control") or [], np.float64)
                if ph.get("at") is not None:
                    at = int(ph["at"])
                    if ctl.size:
                        first = at // w
                        ax.plot((np.arange(ctl.size) + first + 1) * w, ctl, color=c,
                                linewidth=0.9, linestyle="--", alpha=0.7)
            if at is not None:
                ax.axvline(at, color="#555555", linestyle=":", linewidth=1)
            ax.set_title(f"{trace}, N={n}: {titles[kind]}"
                         + (" (dashed: without it)" if kind != "replay" else ""), fontsize=9)
            ax.set_xlabel("requests" if kind == "replay" else "requests into the phase")
            _style(ax)
        row[0].set_ylabel("hit ratio")
    handles: dict[str, Any] = {}
    for ax in grid.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), fontsize=8, frameon=False,
               loc="outside lower center", ncols=min(6, len(handles)))
    fig.suptitle("Hit ratio per window over the replay, around a join and a leave "
                 "(routebench run --cache)")
    return _save(fig, path)
