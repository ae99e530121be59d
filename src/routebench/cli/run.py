"""``routebench run``: keyed strategies over traces, optionally gated against a baseline."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .._errors import RoutebenchError
from .._units import parse_count
from ._common import (
    add_ab_options,
    add_format,
    add_gate_options,
    add_json,
    add_quiet,
    add_read_options,
    gates,
    node_counts,
    open_traces,
    print_comparison,
    progress,
    say,
    strategy_specs,
)

DEFAULT_TRACES = ("uniform", "zipf", "nat")
DEFAULT_KEYS = 200_000
DEFAULT_JSON = "routebench-run.json"


def add_parser(sub: Any, light: bool = False) -> None:
    r = sub.add_parser(
        "run", help="measure keyed strategies over traces (balance, remap, NAT skew, speed)",
        description="Run keyed strategies over traces at several node counts and report, per "
                    "strategy, trace and N: balance (chi-square p, peak/mean, CoV), the share of "
                    "distinct keys remapped when one node joins (N -> N+1) or leaves (a random "
                    "node; the last one for jump) next to the ideal 1/(N+1) and 1/N, keys moved "
                    "between surviving nodes (monotonicity violations), NAT skew, scalar lookup "
                    "latency, batch ns/key, build time and memory.",
        epilog="With no options: every keyed strategy at N=10 and N=100 on the uniform, zipf "
               "and nat traces, 200,000 requests each, seed 0, JSON to routebench-run.json.",
    )
    r.add_argument("--strategy", action="append", metavar="NAME[:param=value,...]",
                   help="a strategy and its parameters, e.g. ring:vnodes=200,hash=mmh3; "
                        "repeat for more (default: every keyed strategy; see routebench list)")
    r.add_argument("--nodes", metavar="N,...", help="node counts (default: 10,100)")
    r.add_argument("--trace", action="append", metavar="NAME[:param=value,...]|FILE",
                   help="a synthetic trace, e.g. zipf:s=1.2 or nat:groups=50,users=2000, or a "
                        "trace file (access log, CSV, JSON lines, cache trace; '-' for stdin); "
                        "repeat for more (default: uniform, zipf, nat)")
    r.add_argument("--keys", default=None, metavar="K",
                   help="requests a synthetic trace (default: 200k; 1M and 1e6 work); for a "
                        "trace file, read at most K requests (default: all)")
    r.add_argument("--seed", type=int, default=0, help="random seed for traces and leaves "
                   "(default: 0); the same seed gives the same quality metrics")
    add_format(r)
    add_json(r, DEFAULT_JSON)
    add_quiet(r)
    add_read_options(r, light=light)
    g = r.add_argument_group(
        "regression gate", "compare this run with a baseline report and exit 1 when a gate fails")
    g.add_argument("--baseline", metavar="BASE.json",
                   help="a report of the same run from the base version; prints the "
                        "comparison (see routebench compare)")
    g.add_argument("--base-python", metavar="PY",
                   help="the base version's interpreter (e.g. base-venv/bin/python): time it "
                        "and this version interleaved, so timing gates apply")
    add_gate_options(g)
    add_ab_options(g, keys=False)
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..harness.static.runner import run_static
    from ..records import make_report
    from ..reports import run_table, write_json

    specs = strategy_specs(args.strategy, check=True)
    nodes = node_counts(args.nodes)
    base, gated = _baseline(args)  # a bad baseline or gate is reported before the run
    keys = parse_count(args.keys, "--keys") if args.keys else None
    traces = open_traces(args.trace or DEFAULT_TRACES, keys, args)
    files = [t for t in traces if t.recorded]
    say(args, f"routebench run: {len(specs)} strategies x {len(nodes)} node counts x "
              f"{len(traces)} traces, {_size(keys, len(files), len(traces))}, seed {args.seed}")
    t0 = time.perf_counter()
    results = run_static(specs, nodes, traces, seed=args.seed, progress=progress(args.quiet))
    elapsed = time.perf_counter() - t0
    for t in files:
        say(args, f"{t.label}: {t.stats.summary()}; routed on {t.route_on}")
    synthetic = len(traces) > len(files)
    config = {"seed": args.seed, "nodes": nodes,
              "requests": keys or (DEFAULT_KEYS if synthetic else None),
              "strategies": [s.label for s in specs],
              "traces": [t.describe() for t in traces], "elapsed_s": round(elapsed, 2)}
    report = make_report("run", results, config)
    print(run_table(report["results"], args.format))
    if base is not None and args.base_python:
        _time_against_base(args, specs, nodes, base, report)
    if args.json:
        path = write_json(args.json, report)
        say(args, f"wrote {path} ({len(results)} results, {elapsed:.1f} s)")
    if base is None:
        return 0
    print()
    return print_comparison(args, base, report, gated)


def _baseline(args: argparse.Namespace) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The baseline report (None without ``--baseline``) and the gates on it."""
    if args.base_python and not args.baseline:
        raise RoutebenchError("--base-python times the base against this run: give "
                              "--baseline BASE.json too")
    if not args.baseline:
        return None, {}
    from ..harness.ab.baseline import baseline_metrics
    from ..reports import read_json

    base = read_json(args.baseline)
    return base, gates(args, baseline_metrics(base), f"of the baseline {args.baseline!r}")


def _size(keys: int | None, files: int, traces: int) -> str:
    """How much of each trace is read, for the opening note."""
    if keys:
        return f"{keys:,} requests a trace"
    if not files:
        return f"{DEFAULT_KEYS:,} requests a trace"
    return ", ".join(([f"{DEFAULT_KEYS:,} requests a synthetic trace"] if files < traces else [])
                     + ["trace files read whole"])


def _time_against_base(args: argparse.Namespace, specs: list[Any], nodes: list[int],
                       base: dict[str, Any], report: dict[str, Any]) -> None:
    from ..harness.ab.baseline import ABPlan, time_against_baseline

    plan = ABPlan(specs, nodes, args.base_python, sys.executable, rounds=args.rounds,
                  processes=args.processes, seed=args.seed)
    say(args, f"timing base ({args.base_python}) and this version interleaved: "
              f"{args.rounds} rounds on {plan.pairs} worker pairs")
    time_against_baseline(base, report, plan, progress(args.quiet))
