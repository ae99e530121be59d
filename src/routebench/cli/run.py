"""``routebench run``: keyed strategies over traces, optionally gated against a baseline."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .._errors import RoutebenchError
from .._units import format_duration, parse_count
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
    plural,
    positive_int,
    print_comparison,
    progress,
    refuse_with,
    say,
    strategy_specs,
    wrap,
)

DEFAULT_TRACES = ("uniform", "zipf", "nat")
DEFAULT_KEYS = 200_000
DEFAULT_JSON = "routebench-run.json"


RUN_EPILOG = """\
With no options: every keyed strategy at N=10 and N=100 on the uniform, zipf and
nat traces, 200,000 requests each, seed 0, JSON to routebench-run.json.

Your own load balancer (--lb-config): the nginx upstream or HAProxy backend is
replayed exactly as the product routes (its servers, weights, down/disabled and
backup servers, hash and key), over --trace or, without one, a synthetic access
log. Printed: balance over its servers, the requests it would not hash (round
robin), and for each server what deleting its line and what marking it down
(nginx `down`, HAProxy `disabled`) move: keys and requests, and the collateral
moves between servers that stayed. The cheaper edit is the one with less
collateral; HAProxy servers without `id N` are renumbered when a line before
them is deleted.

examples:
  routebench run --strategy ring:vnodes=200 --strategy jump --nodes 5,50
  routebench run --trace access.log.gz --route-on client24
  routebench run --trace 'logs/*.log.gz'                     a glob: its files as one trace
  routebench run --trace 'logs/*.log.gz' --workers 2         byte ranges on 2 Dask workers
  routebench run --lb-config haproxy.cfg:app                 synthetic access log
  routebench run --lb-config nginx.conf:cache --trace access.log
  routebench run --lb-config haproxy.cfg:app --trace requests.csv --route-on url
  routebench run --lb-config nginx.conf:cache --add-server 10.0.0.9:80=2
"""


def add_parser(sub: Any, light: bool = False) -> None:
    r = sub.add_parser(
        "run", help="measure keyed strategies over traces (balance, remap, NAT skew, speed)",
        description=wrap("Run keyed strategies over traces at several node counts and report, per "
                    "strategy, trace and N: balance (chi-square p, peak/mean, CoV), the share of "
                    "distinct keys remapped when one node joins (N -> N+1) or leaves (a random "
                    "node; the last one for jump) next to the ideal 1/(N+1) and 1/N, keys moved "
                    "between surviving nodes (monotonicity violations), NAT skew, scalar lookup "
                    "latency, batch ns/key, build time and memory."),
        epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
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
    rm = r.add_argument_group(
        "mass removal", "remove a share of the nodes step by step, then restore them in "
                        "reverse: balance, keys moved against the minimum, keys moved between "
                        "survivors, lookup cost and memory at each step, and the resize cost")
    rm.add_argument("--remove", metavar="SHARES",
                    help="cumulative steps, e.g. 10%%,30%%,50%% (or node counts, e.g. 5,10)")
    rm.add_argument("--removal-order", choices=("random", "fifo", "lifo"), default="random",
                    help="which nodes go first: random (seeded), fifo (oldest), lifo (newest); "
                         "strategies that remove only their last node run lifo and say so "
                         "(default: random)")
    add_budget_options(r)
    c = r.add_argument_group(
        "caches", "give every node a cache and measure hit ratios, and what a join or leave "
                  "costs them (LRU and FIFO compiled; other policies through libCacheSim)")
    c.add_argument("--cache", metavar="POLICY:size=S",
                   help="e.g. LRU:size=1%% (of the trace's distinct keys), LRU:size=10000 "
                        "(objects), LRU:size=64MiB (bytes, traces with sizes); policies: LRU, "
                        "FIFO, ARC, S3FIFO, Sieve, WTinyLFU, ... (libCacheSim's)")
    c.add_argument("--cache-total", action="store_true",
                   help="the size is the total of all nodes' caches, split between them")
    c.add_argument("--cache-window", metavar="N",
                   help="requests a hit-ratio window (default: 10,000; fewer on a short trace)")
    lb = r.add_argument_group(
        "your own load balancer",
        "replay an nginx upstream or HAProxy backend instead of --strategy/--nodes")
    lb.add_argument("--lb-config", metavar="FILE[:NAME]",
                    help="an nginx configuration and its upstream NAME, or an HAProxy "
                         "configuration and its backend/listen NAME (NAME may be left out "
                         "when there is one), e.g. haproxy.cfg:app")
    lb.add_argument("--add-server", metavar="NAME[=WEIGHT]",
                    help="the server the 'add' edit appends: nginx its address (what the "
                         "hash hashes), HAProxy its name (default: nginx the next free "
                         "address, HAProxy 'new'; weight: the servers' most common)")
    _add_split_options(r)
    r.set_defaults(func=run)


# -- huge traces: byte ranges on Dask (issue 15) ----------------------------------------------
def _add_split_options(r: Any) -> None:
    sp = r.add_argument_group(
        "huge traces", wrap(
        "split trace files into byte ranges, each parsed and replayed as one Dask task, and "
        "merge the counts exactly (balance, remap, NAT skew, read statistics: the same "
        "numbers as one pass; timing is measured once, here, after the merge). Lines never "
        "straddle two ranges; a gzip member or zstd frame is never cut, so a file of one "
        "member (or bz2/xz) is one task. Not with --cache or --keys on a file (they depend "
        "on request order). A glob ('logs/*.gz', quoted) is its files as one trace, with or "
        "without these options"))
    sp.add_argument("--workers", type=positive_int, default=None, metavar="W",
                    help="split over W local Dask worker processes, one thread each "
                         "(1: range after range in this process, to debug)")
    sp.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="split over a running Dask scheduler's workers (the files must be "
                         "at the same path on them); $DASK_SCHEDULER_ADDRESS works too "
                         "with --split-size")
    sp.add_argument("--split-size", metavar="SIZE",
                    help="bytes a range, of the file as stored (compressed), e.g. 64MiB "
                         "(default: the input over 4 ranges a worker, 4 MiB to 256 MiB)")


def _split(args: argparse.Namespace) -> Any:
    """The split of trace files asked for (--workers, --scheduler, --split-size), or None."""
    if args.workers is None and args.scheduler is None and args.split_size is None:
        return None
    from .._units import parse_size
    from ..harness._dask import dask_target
    from ..harness.static.split import Split

    given = "/".join(f for f, v in (("--workers", args.workers), ("--scheduler", args.scheduler),
                                    ("--split-size", args.split_size)) if v is not None)
    refuse_with(given, (("--remove", args.remove), ("--lb-config", args.lb_config),
                        ("--cache", args.cache)),
                "those replay requests in order over the whole trace, which byte ranges "
                "replayed apart cannot do exactly")
    if "-" in (args.trace or ()):
        raise RoutebenchError("--trace -: standard input cannot be split into byte ranges (it "
                              "can be read only once); save it to a file")
    size = parse_size(args.split_size, "--split-size") if args.split_size else None
    workers, scheduler = dask_target(args.workers, args.scheduler)
    return Split(workers, scheduler, size, note=lambda m: say(args, m))


def _split_traces(args: argparse.Namespace, traces: list[Any], split: Any) -> list[Any]:
    """The trace files as ``FileSetTrace`` s to split (synthetic traces stay as they are)."""
    from ..datasets import FileSetTrace, FileTrace, open_file_set

    out = [open_file_set(t.path, t.opts) if isinstance(t, FileTrace) else t for t in traces]
    if split is not None and not any(isinstance(t, FileSetTrace) for t in out):
        raise RoutebenchError("--workers/--scheduler/--split-size split trace files: give "
                              "--trace FILE or a quoted glob such as 'logs/*.log.gz'")
    return out
# -- end of huge traces ------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    split = _split(args)
    if args.lb_config is not None:
        return _run_lb_config(args)
    if args.remove is not None:
        return _run_removals(args)
    if args.add_server is not None:
        raise RoutebenchError("--add-server names the server added to --lb-config's "
                              "configuration: give --lb-config FILE[:NAME] too")
    from ..harness.static.runner import run_static
    from ..records import make_report
    from ..reports import run_table, write_json

    specs = strategy_specs(args.strategy, check=True)
    nodes = node_counts(args.nodes)
    base, gated = _baseline(args)  # a bad baseline or gate is reported before the run
    cache = _cache_spec(args)
    keys = parse_count(args.keys, "--keys") if args.keys else None
    budget_s = parse_budget(args)  # a bad --budget costs no trace opened
    traces = open_traces(args.trace or DEFAULT_TRACES, keys, args)
    if split is not None:
        traces = _split_traces(args, traces, split)
    files = [t for t in traces if t.recorded]
    say(args, f"routebench run: {plural(len(specs), 'strategy', 'strategies')} x "
              f"{plural(len(nodes), 'node count')} x {plural(len(traces), 'trace')}, "
              f"{_size(keys, len(files), len(traces))}, seed {args.seed}"
              + (f", a {args.cache} cache a node" if cache is not None and not args.cache_total
                 else f", {args.cache} caches in all" if cache is not None else ""))
    traces, budget = fit_budget(args, budget_s, specs, nodes, traces, split)
    t0 = time.perf_counter()
    results = run_static(
        specs, nodes, traces, seed=args.seed, progress=progress(args.quiet), cache=cache,
        cache_total=args.cache_total,
        cache_window=parse_count(args.cache_window, "--cache-window") if args.cache_window
        else None, split=split)
    elapsed = time.perf_counter() - t0
    for t in files:
        say(args, f"{t.label}: {t.stats.summary()}; routed on {t.route_on}")
    synthetic = len(traces) > len(files)
    config = {"seed": args.seed, "nodes": nodes,
              "requests": keys or (DEFAULT_KEYS if synthetic else None),
              "strategies": [s.label for s in specs],
              "traces": [t.describe() for t in traces], "elapsed_s": round(elapsed, 2)}
    config.update(budget_report(args, budget, traces, results))
    if split is not None:
        config["split"] = {"workers": None if split.scheduler else split.workers,
                           "scheduler": split.scheduler, "size": split.size}
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


# -- --budget and --over-budget: the cost estimate before a run, and what to do over it -----
BUDGET_HELP = """\
Before it starts, run estimates what it will take: each strategy is built once at
each N (timed) and looks up a batch of random digests (timed), and the estimate is
builds x build time + requests x lookups a request x ns a key, over every trace.
When that exceeds --budget (default 3m), one line on stderr says so and how it was
derived, and then, by --over-budget:
  sample  (default) keep a uniform sample of the keys, every request of each kept
          key, as large as fits the budget; tables, JSON (config.budget and each
          trace's key_sample, sampled_requests) and the closing note say so
  stop    stop before the run, exit 2
  run     run it all anyway
Example: rendezvous is O(N) a key: --nodes 100000 --keys 1M is estimated at
about 11 min on a quiet 2-core machine (more when it is busy: the estimate
is stretched by the load average), so by default about a fifth of the keys run.
The estimate leaves out caches and the scalar timing; a trace file's length is
unknown until read (--keys K bounds it). run --remove: the same options; its
sample is fewer keys assigned."""


def add_budget_options(r: argparse.ArgumentParser) -> None:
    b = r.add_argument_group("time budget", BUDGET_HELP)
    b.add_argument("--budget", default="3m", metavar="TIME",
                   help="the longest the run should take, e.g. 90s, 3m, 1h (default: 3m)")
    b.add_argument("--over-budget", choices=("sample", "stop", "run"), default="sample",
                   help="above the budget: sample keys to fit (default), stop (exit 2), or "
                        "run it all")


def parse_budget(args: argparse.Namespace) -> float:
    from .._units import parse_duration

    return parse_duration(args.budget, "--budget")


def fit_budget(args: argparse.Namespace, budget: float, specs: list[Any], nodes: list[int],
               traces: list[Any], split: Any = None) -> tuple[list[Any], dict[str, Any] | None]:
    """The cost estimate; over the budget: say so, then sample the keys, stop or go on.
    A split replay spreads over its local workers (a scheduler's count is not known here:
    the estimate stays one process's); its byte ranges cannot be key-sampled."""
    from ..harness.static.runner import estimate_run_cost, sample_keys

    est = estimate_run_cost(specs, nodes, traces)
    spread = split.workers if split is not None and not split.scheduler else 1
    total = est.seconds() / max(1, spread or 1)
    info: dict[str, Any] = {"budget_s": budget, "estimate_s": round(total, 1),
                            "over_budget": args.over_budget, "key_sample": 1.0}
    if total <= budget:
        return traces, info
    line = (f"estimated {format_duration(total)}, above the budget of {format_duration(budget)} "
            f"(--budget): {est.describe()}"
            + (f"; over {spread} workers" if spread and spread > 1 else ""))
    if args.over_budget == "stop" or (split is not None and args.over_budget == "sample"):
        why = ("stopped (--over-budget stop); sample with --over-budget sample, or give a "
               "larger --budget" if args.over_budget == "stop" else
               "stopped: a split replay cannot sample keys; --over-budget run runs it all, "
               "or give a larger --budget")
        raise RoutebenchError(line + "; " + why)
    if args.over_budget == "run":
        print("routebench run: " + line + "; running it all (--over-budget run)",
              file=sys.stderr)
        return traces, info
    share = est.share_to_fit(budget)
    fits = est.seconds(share)
    print("routebench run: " + line + f"; sampling {share:.2%} of the keys (every request of "
                                       "each) to take about "
                 f"{format_duration(fits)}" + ("" if fits <= budget else ", the least sample: the "
                                    "builds alone exceed the budget")
          + " (--over-budget run: all of them)", file=sys.stderr)
    info["key_sample"] = round(share, 6)
    return sample_keys(traces, share), info


def fit_removal_budget(args: argparse.Namespace, budget: float, specs: list[Any],
                       nodes: list[int], keys: int, fractions: Any) -> tuple[int, dict[str, Any]]:
    """``run --remove``'s estimate; over the budget: fewer keys, a stop, or the whole run."""
    from ..harness.static.removal import estimate_removal_cost

    est = estimate_removal_cost(specs, nodes, keys, fractions)
    total = est.seconds()
    info: dict[str, Any] = {"budget_s": budget, "estimate_s": round(total, 1),
                            "over_budget": args.over_budget, "keys_asked": keys,
                            "keys": keys, "key_sample": 1.0}
    if total <= budget:
        return keys, info
    line = (f"--remove: estimated {format_duration(total)}, above the budget of "
            f"{format_duration(budget)} (--budget): {est.describe()}")
    if args.over_budget == "stop":
        raise RoutebenchError(line + "; stopped (--over-budget stop); sample with "
                                     "--over-budget sample, or give a larger --budget")
    if args.over_budget == "run":
        print("routebench run: " + line + "; running it all (--over-budget run)",
              file=sys.stderr)
        return keys, info
    fit = est.keys_to_fit(budget)
    print("routebench run " + line + f"; sampling {fit:,} of the {keys:,} keys to take about "
                 f"{format_duration(est.seconds(fit))} (--over-budget run: all of them)",
          file=sys.stderr)
    info.update(keys=fit, key_sample=round(fit / keys, 6))
    return fit, info


def budget_report(args: argparse.Namespace, info: dict[str, Any] | None, traces: list[Any],
                  results: list[Any]) -> dict[str, Any]:
    """The report's ``budget`` entry; with a key sample, a note of what it kept."""
    if info is None:
        return {}
    if info["key_sample"] < 1:
        info["sampled"] = []
        for t in traces:
            keys = [r.metrics.get("distinct_keys") for r in results if r.trace == t.label]
            info["sampled"].append({"trace": t.label, "requests": t.kept,
                                    "distinct_keys": keys[0] if keys else None})
            say(args, f"{t.label}: a key sample ({info['key_sample']:.2%} of the keys): "
                      f"{t.kept:,} requests, "
                      + (f"{keys[0]:,} distinct keys" if keys and keys[0] else "no keys"))
    return {"budget": info}


def _cache_spec(args: argparse.Namespace) -> Any:
    """``--cache`` parsed now (a bad spec costs no run); None without it."""
    if not args.cache:
        if args.cache_total or args.cache_window:
            raise RoutebenchError("--cache-total and --cache-window go with --cache "
                                  "POLICY:size=S")
        return None
    from ..caches import CacheSpec

    return CacheSpec.parse(args.cache)


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


# -- --lb-config ----------------------------------------------------------------------------
def _lb_check(args: argparse.Namespace) -> None:
    """Options that do not go with --lb-config: one line naming them."""
    refuse_with("--lb-config", (("--strategy", args.strategy), ("--nodes", args.nodes),
                                ("--base-python", args.base_python)),
                "the configuration gives the strategy and its servers (and timing is not "
                "measured); run --strategy/--nodes without --lb-config instead")


def _add_server(text: str | None) -> tuple[str, int | None] | None:
    if text is None:
        return None
    name, eq, weight = text.rpartition("=")
    if not eq or not weight.isdigit():
        return text, None
    if not name:
        raise RoutebenchError(f"--add-server {text!r}: expected NAME[=WEIGHT], e.g. "
                              "10.0.0.9:80=2 or s9=2")
    return name, int(weight)


def _run_removals(args: argparse.Namespace) -> int:
    """``run --remove``: mass removal and restore, per strategy and N."""
    from ..harness.static.removal import parse_removals, run_removals
    from ..records import make_report
    from ..reports import write_json
    from ..reports.table import removal_table

    if args.baseline or args.cache or args.lb_config:
        raise RoutebenchError("--remove runs on its own: without --baseline, --cache or "
                              "--lb-config")
    fractions = parse_removals(args.remove)
    specs = strategy_specs(args.strategy, check=True)
    nodes = node_counts(args.nodes)
    keys = parse_count(args.keys, "--keys") if args.keys else 200_000
    if args.trace and len(args.trace) > 1:
        raise RoutebenchError("--remove takes one --trace (its distinct keys are the sample)")
    budget_s = parse_budget(args)
    source = open_traces(args.trace, keys, args)[0] if args.trace else None
    keys, budget = fit_removal_budget(args, budget_s, specs, nodes, keys, fractions)
    what = plural(len(specs), "strategy", "strategies")
    say(args, f"routebench run --remove {args.remove}: {what}"
              f" x {plural(len(nodes), 'node count')}, order {args.removal_order}, "
              + (f"keys of {source.label}" if source is not None else f"{keys:,} random keys")
              + f", seed {args.seed}")
    t0 = time.perf_counter()
    results = run_removals(specs, nodes, source, fractions, args.removal_order, seed=args.seed,
                           keys=keys, progress=progress(args.quiet))
    elapsed = time.perf_counter() - t0
    report = make_report("run", results, {"seed": args.seed, "nodes": nodes,
                                          "remove": args.remove, "order": args.removal_order,
                                          "elapsed_s": round(elapsed, 2), "budget": budget})
    print(removal_table(report["results"], args.format))
    for r in report["results"]:
        if r.get("note"):
            say(args, f"note: {r['note']}")
    if args.json:
        say(args, f"wrote {write_json(args.json, report)} ({len(results)} results, "
                  f"{elapsed:.1f} s)")
    return 0


def _run_lb_config(args: argparse.Namespace) -> int:
    from ..harness.static.lbrun import DEFAULT_LB_TRACE, open_lb_trace, run_lb_config
    from ..lbconfig import read_lb_spec
    from ..records import make_report
    from ..reports import write_json
    from ..reports.table import lb_balance_table, lb_edits_table, lb_notes
    from ._common import read_kwargs

    _lb_check(args)
    cfg = read_lb_spec(args.lb_config)
    cfg.strategy  # noqa: B018 - a configuration routebench cannot build is refused now
    add = _add_server(args.add_server)
    base, gated = _baseline(args)
    keys = parse_count(args.keys, "--keys") if args.keys else None
    specs = args.trace or [DEFAULT_LB_TRACE]
    if sum(1 for s in specs if s == "-") > 1:
        raise RoutebenchError("--trace -: standard input can be given only once")
    traces = [open_lb_trace(cfg, spec, keys, args.seed, read_kwargs(args)) for spec in specs]
    for line in cfg.describe():
        say(args, line)
    for lt in traces:
        kind = "trace file" if lt.trace.recorded else "synthetic trace"
        default = "" if args.trace else " (the default: no --trace given)"
        say(args, f"{lt.trace.label}: {kind}{default}; {lt.key.note}")
    t0 = time.perf_counter()
    results = run_lb_config(cfg, traces, add_server=add, progress=progress(args.quiet))
    elapsed = time.perf_counter() - t0
    for lt in traces:
        if lt.trace.stats is not None:
            say(args, f"{lt.trace.label}: {lt.trace.stats.summary()}")
    config = {"lb_config": cfg.label, "product": cfg.product, "seed": args.seed,
              "requests": keys, "add_server": list(add) if add else None,
              "traces": [lt.trace.describe() for lt in traces],
              "elapsed_s": round(elapsed, 2)}
    report = make_report("run", results, config)
    print(lb_balance_table(report["results"], args.format))
    for r in report["results"]:
        print()
        if args.format != "csv":
            print(f"edits of {r['label']} on {r['trace']} (key: column {r['route_on']}); "
                  "shares of distinct keys and of requests:")
        print(lb_edits_table(r, args.format))
        if args.format != "csv":
            for note in lb_notes(r):
                print(f"- {note}")
    if args.json:
        path = write_json(args.json, report)
        say(args, f"wrote {path} ({len(results)} results, {elapsed:.1f} s)")
    if base is None:
        return 0
    print()
    return print_comparison(args, base, report, gated)
