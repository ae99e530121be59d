"""The ``routebench`` command line: it parses, then calls the harness and reports."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NoReturn

from . import __version__
from ._errors import RoutebenchError, choices
from .hashing import HASH_NAMES

__all__ = ["main"]

DEFAULT_TRACES = ("uniform", "zipf", "nat")
#: commands that read no trace files: their parser skips importing the readers
_LIGHT_COMMANDS = ("compare", "report", "ab")
DEFAULT_KEYS = 200_000
DEFAULT_JSON = "routebench-run.json"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming what went wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _count(text: str, what: str = "count") -> int:
    """``200000``, ``200_000``, ``200k``, ``1M``, ``1e6`` -> int."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?(?:e\d+)?)([km]?)", t)
    if not m:
        raise RoutebenchError(
            f"{what} {text!r}: expected a whole number such as 200000, 200k or 1M"
        )
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2)]
    if value != int(value) or value < 1:
        raise RoutebenchError(f"{what} {text!r}: expected a whole number >= 1")
    return int(value)


def _node_counts(text: str) -> list[int]:
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise RoutebenchError(f"--nodes {text!r}: expected node counts such as 10,100")
    out = []
    for p in parts:
        try:
            n = int(p)
        except ValueError:
            raise RoutebenchError(
                f"--nodes {text!r}: {p!r} is not a whole number; expected counts such as 10,100"
            ) from None
        if n < 1:
            raise RoutebenchError(f"--nodes {text!r}: node count {n} is below 1")
        out.append(n)
    return out


def _node_list(text: str) -> list[str] | dict[str, float]:
    """``a,b,c`` or ``a=2,b=1,c=1`` (name=weight)."""
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise RoutebenchError("--nodes: the node list is empty; give names such as a,b,c")
    if any(not p for p in parts):
        raise RoutebenchError(f"--nodes {text!r}: an empty node name between commas")
    if not any("=" in p for p in parts):
        return parts
    weights: dict[str, float] = {}
    for p in parts:
        name, _, w = p.partition("=")
        if name in weights:
            raise RoutebenchError(f"--nodes: node {name!r} is listed twice; names must be unique")
        try:
            weights[name] = float(w) if w else 1.0
        except ValueError:
            raise RoutebenchError(
                f"--nodes: weight {w!r} of node {name!r} is not a number"
            ) from None
    return weights


def _progress(quiet: bool):
    """A tqdm bar factory on stderr, shown only on a terminal."""
    if quiet:
        return None
    from tqdm import tqdm

    def make(desc: str, total: int | None):
        # a recorded trace's length is unknown until read: the bar counts requests and rate
        unit = " req" if desc.endswith("replay") else "it"
        return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False,
                    file=sys.stderr, disable=None, dynamic_ncols=True)
    return make


def _say(args: argparse.Namespace, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(msg, file=sys.stderr)


# -- run -------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from ._params import parse_spec
    from .registry import registry
    from .harness.static.runner import DEFAULT_NODES, StrategySpec, run_static
    from .records import make_report
    from .reports import run_table, write_json

    specs = (
        [StrategySpec(*parse_spec(s)) for s in args.strategy]
        if args.strategy else [StrategySpec(n) for n in registry.names("keyed")]
    )
    for spec in specs:  # check names and parameters up front
        cls = registry.get(spec.name)
        cls.resolve_params(spec.params)
    nodes = _node_counts(args.nodes) if args.nodes else list(DEFAULT_NODES)
    base = gates = None
    if args.base_python and not args.baseline:
        raise RoutebenchError("--base-python times the base against this run: give "
                              "--baseline BASE.json too")
    if args.processes is None:
        args.processes = min(4, args.rounds)
    if args.baseline:  # a bad baseline or gate is reported before the run, not after
        from .reports import read_json

        base = read_json(args.baseline)
        gates = _gates(args, {m for r in base["results"] for m in (r.get("metrics") or {})},
               f"of the baseline {args.baseline!r}")
    keys = _count(args.keys, "--keys") if args.keys else None
    traces = _open_traces(args.trace or DEFAULT_TRACES, keys, args)
    files = [t for t in traces if getattr(t, "stats", False) is not False]
    if keys:
        size = f"{keys:,} requests a trace"
    elif not files:
        size = f"{DEFAULT_KEYS:,} requests a trace"
    else:
        size = ", ".join(([f"{DEFAULT_KEYS:,} requests a synthetic trace"]
                          if len(files) < len(traces) else []) + ["trace files read whole"])
    _say(args, f"routebench run: {len(specs)} strategies x {len(nodes)} node counts x "
               f"{len(traces)} traces, {size}, seed {args.seed}")
    t0 = time.perf_counter()
    results = run_static(specs, nodes, traces, seed=args.seed,
                         progress=_progress(args.quiet))
    elapsed = time.perf_counter() - t0
    for t in files:
        _say(args, f"{t.label}: {t.stats.summary()}; routed on {t.route_on}")
    synthetic = len(traces) > len(files)
    config = {"seed": args.seed, "nodes": nodes,
              "requests": keys or (DEFAULT_KEYS if synthetic else None),
              "strategies": [s.label for s in specs],
              "traces": [t.describe() for t in traces], "elapsed_s": round(elapsed, 2)}
    report = make_report("run", results, config)
    print(run_table(report["results"], args.format))
    if base is not None:
        from .reports import attach_timing

        if args.base_python:
            from .harness.ab.abtiming import PythonArm, interleaved_timing

            _say(args, f"timing base ({args.base_python}) and this version interleaved: "
                       f"{args.rounds} rounds on {args.processes} worker pairs")
            ab = interleaved_timing(
                specs, nodes, PythonArm(args.base_python, "base"),
                PythonArm(sys.executable, "new"), rounds=args.rounds,
                processes=args.processes, seed=args.seed, progress=_progress(args.quiet))
            attach_timing(base["results"], ab.base["results"])
            attach_timing(report["results"], ab.new["results"])
    if args.json:
        path = write_json(args.json, report)
        _say(args, f"wrote {path} ({len(results)} results, {elapsed:.1f} s)")
    if base is not None:
        print()
        return _print_comparison(args, base, report, gates or {})
    return 0


# -- compare ---------------------------------------------------------------
def _gates(args: argparse.Namespace, known: Iterable[str] | None = None,
           what: str = "") -> dict[str, Any]:
    """The gates in force: pyproject.toml's, then the command line's on top.

    With ``known``, a gate given on the command line must name one of those
    metrics (``what`` says where they come from): checked before a long run.
    """
    from .reports.compare import find_config, load_gates, merge_gates, parse_gate

    cli = [parse_gate(g) for g in args.gate or ()]
    if known is not None:
        names = set(known)
        for g in cli:
            if g.metric not in names:
                raise RoutebenchError(f"--gate {g.metric!r}: not a metric {what}; metrics "
                                      f"there: {choices(sorted(names))}")

    config: list[Any] = []
    if args.config:
        config = load_gates(args.config)
    elif not args.no_config:
        found = find_config()
        if found is not None:
            config = load_gates(found)
    return merge_gates(config, cli)


def _print_comparison(args: argparse.Namespace, base: dict[str, Any], new: dict[str, Any],
                      gates: dict[str, Any]) -> int:
    from .reports.compare import compare

    cmp = compare(base, new, gates, confidence=args.confidence, show_all=args.all,
                  metrics=args.metric)
    if cmp.rows:
        print(cmp.table(args.format))
        print()
    print(cmp.summary())
    return 0 if cmp.passed else 1


def cmd_compare(args: argparse.Namespace) -> int:
    from .reports import read_json

    gates = _gates(args)  # a bad gate is reported before the files are read
    base, new = read_json(args.base), read_json(args.new)
    return _print_comparison(args, base, new, gates)


# -- ab --------------------------------------------------------------------
def cmd_ab(args: argparse.Namespace) -> int:
    from .harness.ab.abtiming import PythonArm, interleaved_timing
    from ._params import parse_spec
    from .registry import registry
    from .harness.static.runner import DEFAULT_NODES, StrategySpec
    from .reports import write_json
    from .reports.compare import INTERLEAVED_METRICS

    gates = _gates(args, INTERLEAVED_METRICS, "that routebench ab times")
    if args.processes is None:
        args.processes = min(4, args.rounds)
    specs = (
        [StrategySpec(*parse_spec(s)) for s in args.strategy]
        if args.strategy else [StrategySpec(n) for n in registry.names("keyed")]
    )
    nodes = _node_counts(args.nodes) if args.nodes else list(DEFAULT_NODES)
    new_python = args.new_python or sys.executable
    _say(args, f"routebench ab: {len(specs)} strategies x {len(nodes)} node counts, "
               f"{args.rounds} rounds on {args.processes} worker pairs; base {args.base_python}, "
               f"new {new_python}")
    ab = interleaved_timing(
        specs, nodes, PythonArm(args.base_python, "base"), PythonArm(new_python, "new"),
        rounds=args.rounds, processes=args.processes, keys=_count(args.keys, "--keys"),
        reps=args.reps, seed=args.seed, progress=_progress(args.quiet))
    for path, rep in ((args.json_base, ab.base), (args.json, ab.new)):
        if path:
            _say(args, f"wrote {write_json(path, rep)}")
    args.all = True
    return _print_comparison(args, ab.base, ab.new, gates)


# -- report ----------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    from .reports import read_json
    from .reports.publish import publish

    gates = _gates(args)
    reports = [(path, read_json(path)) for path in args.results]
    base = read_json(args.baseline) if args.baseline else None
    done = publish(reports, args.output, title=args.title, baseline=base, gates=gates,
                   confidence=args.confidence, image_format=args.image_format)
    for p in done.files:
        _say(args, f"wrote {p}")
    if done.comparison is not None and not done.comparison.passed:
        for r in done.comparison.failures:
            print("FAIL " + r.describe(), file=sys.stderr)
        return 1  # gated like compare: the report is written, and the job fails
    return 0


def _read_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The trace-file options given on the command line (ReadOptions fields)."""
    out: dict[str, Any] = {}
    for opt, key in (("trace_format", "format"), ("log_format", "log_format"),
                     ("columns", "columns"), ("route_on", "route_on"), ("session", "session"),
                     ("session_gap", "session_gap")):
        v = getattr(args, opt, None)
        if v is not None:
            out[key] = v
    if getattr(args, "strict", False):
        out["strict"] = True
    return out


def _open_traces(specs: Sequence[str], requests: int | None,
                 args: argparse.Namespace) -> list[Any]:
    """Synthetic specs and trace files alike; file options apply to the files."""
    from .datasets import is_file_spec, open_trace

    read = _read_kwargs(args)
    if sum(1 for s in specs if s == "-") > 1:
        raise RoutebenchError("--trace -: standard input can be given only once")
    traces = []
    for spec in specs:
        if is_file_spec(spec):
            traces.append(open_trace(spec, requests, args.seed, **read))
            continue
        trace = open_trace(spec, requests, args.seed)
        route = read.get("route_on")
        if route is not None:
            if route not in trace.columns:
                raise RoutebenchError(
                    f"--route-on {route!r}: synthetic trace {trace.name!r} has columns "
                    f"{choices(trace.columns)}"
                )
            trace.route_on = route
        traces.append(trace)
    return traces


def _add_read_options(p: argparse.ArgumentParser, route: bool = True,
                      sessions: bool = True, light: bool = False) -> None:
    """Options for reading trace files (run, simulate, trace inspect, trace convert).

    ``light``: the command being run reads no traces, so its parser need not
    import the readers (their compiled kernels take ~0.5 s) to list formats.
    """
    if light:
        FORMATS = BUILTIN_LOG_FORMATS = ("see `routebench trace formats`",)  # noqa: N806
    else:
        from .datasets.readers import BUILTIN_LOG_FORMATS, FORMATS

    g = p.add_argument_group("trace files")
    g.add_argument("--trace-format", metavar="FMT",
                   help=f"the file's format: {choices(FORMATS)} (default: detected from the "
                        "name and content)")
    g.add_argument("--log-format", metavar="FMT",
                   help=f"access logs: {choices(BUILTIN_LOG_FORMATS)} or an nginx log_format "
                        "string such as '$remote_addr [$time_local] \"$request\" $status' "
                        "(Apache %%h %%t \"%%r\" ... works too; default: detected)")
    g.add_argument("--columns", metavar="MAP",
                   help="CSV/TSV/JSON: which column is which, by number from 0 or by header/"
                        "field name, e.g. ts=0,client=4,key=1 or ts=time,key=url")
    if route:
        g.add_argument("--route-on", metavar="COL",
                       help="what requests route on: client (IP), client24 (/24, /64 for "
                            "IPv6), session, path, url, key, user (IP + user agent), or any "
                            "column of the trace (default: client for access logs, else key)")
    if not sessions:
        g.add_argument("--strict", action="store_true",
                       help="stop at the first rejected line (default: count and report them)")
        return
    g.add_argument("--session", metavar="HOW",
                   help="sessions: ua (client IP + user agent, rebuilt with --session-gap; the "
                        "default), client (IP alone), cookie:NAME, field:NAME")
    g.add_argument("--session-gap", metavar="T",
                   help="idle time that ends a rebuilt session (default: 30m; 90s, 1h work)")
    g.add_argument("--strict", action="store_true",
                   help="stop at the first rejected line (default: count and report them)")


def _updater(bar: Any) -> Any:
    return bar.update if bar is not None else None


def _trace_progress(desc: str) -> Any:
    """A tqdm bar of requests read and their rate, on a terminal only."""
    from tqdm import tqdm

    return tqdm(total=None, desc=desc, unit=" req", unit_scale=True, leave=False,
                file=sys.stderr, disable=None, dynamic_ncols=True)


# -- trace -----------------------------------------------------------------
def cmd_trace_inspect(args: argparse.Namespace) -> int:
    from .datasets import open_trace
    from .datasets.summary import summarize_trace
    from .records import TraceSummary, make_report
    from .reports import write_json

    requests = _count(args.requests, "--requests") if args.requests else None
    trace = open_trace(args.file, requests, args.seed, **_read_kwargs(args))
    if "session" in getattr(trace, "available", ()):
        trace.with_columns("session")
    bar = None if args.quiet else _trace_progress(f"inspect {trace.label}")
    try:
        summary = summarize_trace(trace, top=args.top, progress=_updater(bar))
    finally:
        if bar is not None:
            bar.close()
    print(_inspect_text(summary, args.top))
    if args.json:
        path = write_json(args.json, make_report("trace-inspect", [TraceSummary.of(summary)],
                                                 {"file": args.file, "top": args.top}))
        _say(args, f"wrote {path}")
    return 0


def _fmt_span(seconds: float) -> str:
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def _inspect_text(s: dict[str, Any], top: int) -> str:
    from datetime import UTC, datetime

    from .reports import format_table

    def when(t: float) -> str:
        try:
            return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            return f"{t:g}"

    d = s.get("describe", {})
    lines = [f"trace:      {s['trace']}"]
    if d.get("name") == "file":
        lines.append(f"format:     {d.get('format')}, compression {d.get('compression')}")
    else:
        lines.append(f"synthetic:  {d.get('name')} {d.get('params')}, seed {d.get('seed')}")
    r = s.get("read")
    if r:
        hdr = f", {r['header_lines']} header line" if r["header_lines"] else ""
        lines.append(f"lines:      {r['lines_read']:,} read, {r['used']:,} used, "
                     f"{r['rejected']:,} rejected{hdr}")
    lines.append(f"requests:   {s['requests']:,}")
    t = s.get("time")
    if t:
        rate = f"{t['rate_per_s']:,.2f} requests/s" if t.get("rate_per_s") else "-"
        lines.append(f"time:       {when(t['first'])} .. {when(t['last'])} "
                     f"(span {_fmt_span(t['span_s'])}, {rate})")
    else:
        lines.append("time:       no timestamps in this trace")
    dist = ", ".join(f"{c} {v['count']:,}" + ("" if v["exact"] else " (estimate)")
                     for c, v in s["distinct"].items())
    lines.append(f"distinct:   {dist}")
    lines.append(f"route on:   {s['route_on']}   (columns: {', '.join(s['columns'])})")
    sk = s.get("skew")
    if sk:
        lines.append("skew:       top key {:.2%} of requests, top 10 {:.2%}, top 100 {:.2%}, "
                     "top 1000 {:.2%}".format(sk["top1_share"], sk["top10_share"],
                                             sk["top100_share"], sk["top1000_share"]))
    out = "\n".join(lines)
    tops = s["top"]
    for col, title in ((s["route_on"], f"top {top} {s['route_on']} keys"),
                       ("client", f"largest client-IP groups (top {top} by requests)"),
                       ("client24", f"largest /24 clusters (top {top} by requests)")):
        rows = tops.get(col)
        if not rows or (col == "client" and s["route_on"] == "client" and title.startswith(
                "largest")):
            continue
        approx = " (approximate counts)" if tops.get(col + "_approximate") else ""
        headers = [col, "requests", "share"]
        extra = "distinct_clients" if col == "client24" else (
            "distinct_users" if col == "client" and rows and
            "distinct_users" in rows[0] else None)
        if extra:
            headers.append({"distinct_clients": "client IPs",
                            "distinct_users": "users"}[extra])
        table = [[x["key"], f"{x['requests']:,}", f"{x['share']:.2%}"]
                 + ([f"{x[extra]:,}"] if extra else []) for x in rows]
        out += f"\n\n{title}{approx}:\n" + format_table(headers, table, "simple")
    nat = s.get("nat_hints")
    if nat:
        table = [[x["client"], f"{x['requests']:,}", f"{x['distinct_users']:,}"]
                 for x in nat]
        out += ("\n\nNAT hints: client IPs with the most distinct users (IP + user agent in "
                "access logs; several users behind one address?):\n"
                + format_table(["client", "requests", "users"], table, "simple"))
    if r and r["rejected"]:
        reasons = [[str(c), why] for why, c in r["rejected_by_reason"].items()]
        out += "\n\nrejected lines by reason:\n" + format_table(["lines", "reason"], reasons,
                                                                   "simple")
        ex = r["rejected_examples"]
        if ex:
            out += "\nfirst rejected lines:\n" + "\n".join(
                f"  line {e['line']}: {e['reason']}: {e['text']!r}" for e in ex)
    return out


def cmd_trace_generate(args: argparse.Namespace) -> int:
    from .datasets import SYNTHETIC, open_trace
    from .datasets.writers import format_for_path, write_trace
    from ._params import parse_spec

    name, _ = parse_spec(args.name)
    if name not in SYNTHETIC:
        raise RoutebenchError(f"unknown trace {name!r}; available: {choices(SYNTHETIC)}")
    requests = _count(args.requests, "--requests")
    trace = open_trace(args.name, requests, args.seed)
    fmt = args.to or format_for_path(args.output) or (
        "access-log" if name == "access-log" else "csv")
    bar = None if args.quiet else _trace_progress(f"generate {trace.label}")
    try:
        info = write_trace(trace, args.output, fmt, progress=_updater(bar))
    finally:
        if bar is not None:
            bar.close()
    _say(args, f"wrote {args.output}: {info['requests']:,} requests of {trace.label} "
               f"(seed {args.seed}) as {info['format']}")
    return 0


def cmd_trace_convert(args: argparse.Namespace) -> int:
    from .datasets import open_trace
    from .datasets.writers import format_for_path, write_trace

    requests = _count(args.requests, "--requests") if args.requests else None
    trace = open_trace(args.file, requests, 0, **_read_kwargs(args))
    fmt = args.to or format_for_path(args.output)
    if fmt is None:
        raise RoutebenchError(
            f"-o {args.output!r}: cannot tell the output format from the name; give --to "
            "access-log, csv, tsv or jsonl"
        )
    cols = [c.strip() for c in args.keep.split(",") if c.strip()] if args.keep else None
    if hasattr(trace, "with_columns"):
        if cols is None:
            cols = list(trace.format.raw)
        trace.with_columns(*cols)
    bar = None if args.quiet else _trace_progress(f"convert {trace.label}")
    try:
        info = write_trace(trace, args.output, fmt, columns=cols,
                           progress=_updater(bar))
    finally:
        if bar is not None:
            bar.close()
    stats = getattr(trace, "stats", None)
    _say(args, f"wrote {args.output}: {info['requests']:,} requests as {info['format']}"
               + (f" ({stats.summary()})" if stats else ""))
    return 0


def cmd_trace_formats(args: argparse.Namespace) -> int:
    from .datasets.readers import BUILTIN_LOG_FORMATS, FORMATS
    from .datasets.writers import WRITE_FORMATS
    from .reports import format_table

    print("trace file formats (read; --trace-format, detected by default):")
    print(format_table(["name", "description"], [[f.name, f.summary] for f in FORMATS.values()],
                       "simple"))
    print("\naccess-log formats (--log-format NAME, or an nginx log_format string):")
    print(format_table(["name", "format"], [[k, v] for k, v in BUILTIN_LOG_FORMATS.items()],
                       "simple"))
    print(f"\nwritten by trace generate / convert (--to): {choices(WRITE_FORMATS)}")
    print("compression (read by magic bytes, written by extension): gzip .gz, bz2 .bz2, "
          "xz .xz, zstd .zst; '-' is standard input")
    return 0


# -- list ------------------------------------------------------------------
def _param_text(params: Sequence[Any]) -> str:
    return ", ".join(f"{p.name}={p.default}" for p in params) or "-"


def _accepted(p: Any) -> str:
    if p.choices is not None:
        return choices(p.choices)
    if p.minimum is not None:
        return f"{p.type.__name__} >= {p.minimum:g}"
    return p.type.__name__


def _describe(name: str, fmt: str) -> int:
    """One strategy or trace in full: each parameter's meaning and accepted values."""
    from .datasets import SYNTHETIC
    from .registry import registry
    from .reports import format_table

    if name in SYNTHETIC:
        obj: Any = SYNTHETIC[name]
        print(f"trace {name}: {obj.summary}")
    elif name not in registry.names():
        raise RoutebenchError(
            f"unknown strategy or trace {name!r}; strategies: {choices(registry.names())}; "
            f"traces: {choices(SYNTHETIC)}"
        )
    else:
        obj = registry.get(name)
        print(f"{obj.kind} strategy {name} ({registry.origin(name)}): {obj.summary}")
    if obj.params:
        rows = [[p.name, p.default, _accepted(p), p.help] for p in obj.params]
        print(format_table(["parameter", "default", "accepts", "meaning"], rows, fmt))
    else:
        print("no parameters")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .datasets import SYNTHETIC
    from .registry import registry
    from .reports import FORMATS, format_table

    if args.name:
        return _describe(args.name, args.format)
    kinds = [args.kind] if args.kind else ["keyed", "balancer"]
    for kind in kinds:
        classes = registry.classes(kind)
        if not classes and kind == "balancer" and not args.kind:
            continue
        rows = [[c.name, _param_text(c.params), c.summary, registry.origin(c.name)]
                for c in classes]
        print(f"{kind} strategies:")
        print(format_table(["name", "parameters (defaults)", "description", "from"], rows,
                           args.format))
        print()
    if not args.kind:
        rows = [[t.name, _param_text(t.params), t.summary] for t in SYNTHETIC.values()]
        print("synthetic traces (--trace NAME[:param=value,...]):")
        print(format_table(["name", "parameters (defaults)", "description"], rows, args.format))
        print()
        from .datasets.readers import FORMATS as TRACE_FORMATS
        from .harness.sim.scenarios import PRESETS

        rows = [[p.name, p.summary, ", ".join(p.balancers)] for p in PRESETS.values()]
        print("scenario presets (routebench simulate --scenario NAME):")
        print(format_table(["name", "description", "balancers compared"], rows, args.format))
        print()
        print(f"trace files (--trace FILE): {choices(TRACE_FORMATS)}; gzip, bz2, xz, zstd "
              "(see routebench trace formats)")
        print(f"hash functions (hash=): {choices(HASH_NAMES)}")
        print(f"output formats (--format): {choices(FORMATS)}")
    if registry.broken:
        print()
        print("broken plugins (skipped):")
        for b in registry.broken:
            print(f"  {b}")
    return 0


# -- lookup ----------------------------------------------------------------
def _stdin_batches(size: int = 1 << 16) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in sys.stdin.buffer:
        batch.append(line.rstrip(b"\r\n") if line.endswith(b"\n") else line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def cmd_lookup(args: argparse.Namespace) -> int:
    from ._params import parse_spec
    from .registry import registry

    name, params = parse_spec(args.strategy)
    if args.hash is not None:
        cls = registry.get(name)
        if not any(p.name == "hash" for p in cls.params):
            raise RoutebenchError(
                f"strategy {name!r} has a fixed hash function; --hash is not accepted for it"
            )
        params["hash"] = args.hash
    s = registry.create_keyed(name, _node_list(args.nodes), **params)
    names = [n.encode() for n in s.nodes]
    out = sys.stdout.buffer
    # the bytes as given: an argument that is not UTF-8 is hashed as its raw bytes, like stdin
    batches: Any = [[os.fsencode(k) for k in args.keys]] if args.keys else _stdin_batches()
    try:
        for batch in batches:
            idx = s.lookup_many(s.digest(batch)).tolist()
            out.write(b"".join(k + b"\t" + names[i] + b"\n" for k, i in zip(batch, idx)))
        out.flush()
    except BrokenPipeError:  # `routebench lookup ... | head` is fine
        sys.stderr.close()
    return 0


# -- simulate --------------------------------------------------------------
DEFAULT_SIM_JSON = "routebench-simulate.json"


def _positive(text: str, flag: str, allow_zero: bool = False) -> float:
    try:
        v = float(text)
    except ValueError:
        raise RoutebenchError(f"{flag} {text!r}: expected a number") from None
    if not (v >= 0 if allow_zero else v > 0) or v != v or v == float("inf"):
        raise RoutebenchError(f"{flag} {text!r}: must be {'>= 0' if allow_zero else 'above 0'}")
    return v


def _time(text: str, flag: str, allow_zero: bool = False) -> float:
    from .harness.sim._simdist import parse_time

    v = parse_time(text, flag)
    if v <= 0 and not allow_zero:
        raise RoutebenchError(f"{flag} {text!r}: must be above 0")
    return v


def _scenario_fields(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The preset's scenario fields and balancers, overridden by the options given."""
    from .datasets.synthetic import parse_sizes
    from .harness.sim._simdist import Dist, Event, load_times, parse_event
    from .harness.sim.scenarios import get_preset

    preset = get_preset(args.scenario or "default")
    f: dict[str, Any] = dict(preset.fields)
    if args.backends is not None:
        f["backends"] = _count(args.backends, "--backends")
    if args.workers is not None:
        f["workers"] = _count(args.workers, "--workers")
    if args.clients is not None:
        f["clients"] = _count(args.clients, "--clients")
    for flag, key, allow_file in (("--service", "service", True),
                                  ("--session-length", "session_length", False),
                                  ("--think", "think", False)):
        text = getattr(args, key)
        if text is not None:
            f[key] = Dist.parse(text, flag, allow_file=allow_file)
    if args.speed:
        speeds: dict[str, float] = {}
        for item in args.speed:
            name, eq, value = item.partition("=")
            if not eq or not name.strip():
                raise RoutebenchError(f"--speed {item!r}: expected BACKEND=FACTOR, "
                                      "e.g. backend-0=0.25")
            name = name.strip()
            name = f"backend-{name}" if name.isdigit() else name
            speeds[name] = _positive(value, f"--speed {name}=")
        f["speeds"] = speeds
    if args.nat is not None:
        f["nat"] = parse_sizes(args.nat, "--nat") if args.nat.strip() not in ("", "0") else ()
    if args.session_rate is not None:
        f["session_rate"] = _positive(args.session_rate, "--session-rate")
    if args.load is not None:
        f["load"] = _positive(args.load, "--load")
        f.pop("session_rate", None)
    if args.requests is not None:
        f["requests"] = None if args.requests.strip() == "0" else _count(args.requests,
                                                                          "--requests")
    if args.duration is not None:
        f["duration"] = _time(args.duration, "--duration")
        if args.requests is None:
            f["requests"] = None
    if args.warmup is not None:
        f["warmup"] = _time(args.warmup, "--warmup", allow_zero=True)
    kinds = ("crash", "recover", "join", "drain")
    if any(getattr(args, k) for k in kinds):
        events = []
        n = f.get("backends", 10)
        for kind in kinds:
            for text in getattr(args, kind) or []:
                name, t = parse_event(kind, text)
                if name is None:
                    name = f"backend-{n}"
                elif name.isdigit():
                    name = f"backend-{name}"
                if kind == "join":
                    n += 1
                events.append(Event(kind, name, t))
        f["events"] = tuple(events)
    if args.store is not None:
        f["store"] = args.store
    if args.store_rtt is not None:
        f["store_rtt"] = _time(args.store_rtt, "--store-rtt", allow_zero=True)
    if args.ttl is not None:
        f["ttl"] = _time(args.ttl, "--ttl")
    if args.ip_change_rate is not None:
        f["ip_change_rate"] = _positive(args.ip_change_rate, "--ip-change-rate", allow_zero=True)
    if args.keys is not None:
        f["keys"] = args.keys
    if args.queue_limit is not None:
        f["queue_limit"] = _count(args.queue_limit, "--queue-limit") \
            if args.queue_limit.strip() != "0" else 0
    if args.window is not None:
        f["window"] = _time(args.window, "--window")
    if args.no_warm_start:
        f["warm_start"] = False
    if args.arrivals is not None:
        text = args.arrivals.strip()
        if text != "poisson":
            if not text.startswith("file:"):
                raise RoutebenchError(f"--arrivals {text!r}: expected poisson or file:PATH "
                                      "(arrival times in seconds, one a line)")
            f["arrivals"] = load_times(text[5:])
    if getattr(args, "trace", None):
        if args.arrivals is not None:
            raise RoutebenchError("--trace and --arrivals both give arrival times; use one")
        f["arrivals"] = _trace_arrivals(args)
    from_file = args.arrivals is not None and args.arrivals.strip() != "poisson"
    if from_file or getattr(args, "trace", None):
        if args.load is None and args.session_rate is None:
            f["load"] = None
            f.pop("session_rate", None)
        if args.requests is None and args.duration is None:
            f["requests"] = None
    return f, list(args.balancer or preset.balancers)


def _trace_arrivals(args: argparse.Namespace) -> Any:
    """A trace's request times (seconds), sorted: the session arrivals of ``--trace``.

    Access logs are written in completion order, so their times go back and forth
    a little; the simulator wants them in order. 8 bytes a request are held.
    """
    import numpy as np

    from .datasets import open_trace

    trace = open_trace(args.trace, None, args.seed, **_read_kwargs(args))
    parts = []
    for chunk in trace.chunks():
        if chunk.ts is None:
            raise RoutebenchError(f"--trace {args.trace!r}: no request times in this trace; "
                                  "arrivals need a time column")
        parts.append(chunk.ts)
    stats = getattr(trace, "stats", None)
    if stats is not None:
        _say(args, f"{trace.label}: {stats.summary()}; its request times are the arrivals")
    times = np.sort(np.concatenate(parts), kind="stable")
    return times - times[0]


def cmd_simulate(args: argparse.Namespace) -> int:
    from .registry import registry
    from .harness.sim.scenarios import scenario_flags
    from .harness.sim.simulator import Scenario, make_balancer, simulate
    from .records import make_report
    from .reports import sim_table, write_json

    fields, balancers = _scenario_fields(args)
    if args.seed < 0:
        raise RoutebenchError(f"--seed {args.seed}: expected a whole number >= 0")
    sc = Scenario(**fields)
    for spec in balancers:  # every name and parameter checked before the first run
        try:
            make_balancer(spec, sc.names, registry).policy()
        except RoutebenchError as e:
            raise RoutebenchError(f"--balancer {spec!r}: {e}") from None
    label = args.scenario or "default"
    stop = (f"{sc.requests:,} requests" if sc.requests else
            f"{sc.duration:g} s" if sc.duration else "every arrival")
    _say(args, f"routebench simulate: scenario {label}, {len(balancers)} balancer(s), "
               f"{sc.backends} backends, {stop}, seed {args.seed}")
    results = []
    t0 = time.perf_counter()
    for spec in balancers:
        bar = None
        if not args.quiet:
            from tqdm import tqdm

            bar = tqdm(total=sc.requests or (math.ceil(sc.duration) if sc.duration else None),
                       desc=spec, unit=" req" if sc.requests else " sim-s", unit_scale=True,
                       leave=False, file=sys.stderr, disable=None, dynamic_ncols=True)
        try:
            r = simulate(sc, spec, seed=args.seed, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        results.append(r.record(label))
    elapsed = time.perf_counter() - t0
    print(sim_table([r.to_json() for r in results], args.format))
    not_reached = {(e.kind, e.backend, e.time) for e in sc.events} - {
        (e["event"], e["backend"], e["time"]) for r in results for e in r.events}
    for kind, backend, t in sorted(not_reached, key=lambda x: x[2]):
        _say(args, f"note: {kind} {backend}@{t:g}s was not reached: the run ended first")
    if args.json:
        config = {"scenario": label, "seed": args.seed, "balancers": balancers,
                  "scenario_params": sc.describe(),
                  "reproduce": "routebench simulate " + scenario_flags(sc, balancers, args.seed),
                  "elapsed_s": round(elapsed, 2)}
        path = write_json(args.json, make_report("simulate", results, config))
        _say(args, f"wrote {path} ({len(results)} results, {elapsed:.1f} s)")
    return 0


# -- claims ------------------------------------------------------------------
def cmd_claims(args: argparse.Namespace) -> int:
    from .harness.experiments.claims import CLAIMS, run_claims
    from .records import make_report
    from .reports import write_json
    from .reports.claims_md import write_claims

    only = None
    if args.only:
        try:
            only = sorted({int(p) for p in args.only.split(",") if p.strip()})
        except ValueError:
            raise RoutebenchError(f"--only {args.only!r}: expected claim numbers such as 1,3") \
                from None
        bad = [n for n in only if n not in CLAIMS]
        if bad or not only:
            raise RoutebenchError(f"--only {args.only!r}: no claim {bad[0] if bad else ''}; "
                                  f"claims: {choices(CLAIMS)}")
    if args.seed < 0:
        raise RoutebenchError(f"--seed {args.seed}: expected a whole number >= 0")
    _say(args, f"routebench claims: {len(only or CLAIMS)} claim(s), size {args.size}, "
               f"seed {args.seed}")
    t0 = time.perf_counter()
    results = run_claims(only, size=args.size, seed=args.seed,
                         say=None if args.quiet else lambda m: _say(args, m))
    elapsed = time.perf_counter() - t0
    path = write_claims(args.output, results, size=args.size, seed=args.seed, elapsed=elapsed)
    for r in results:
        print(f"{r.number}. {r.verdict}: {r.claim}")
    _say(args, f"wrote {path} ({elapsed:.0f} s)")
    if args.json:
        records = [r.record() for r in results]
        write_json(args.json, make_report("claims", records,
                                          {"size": args.size, "seed": args.seed}))
    return 0


# -- the parser ------------------------------------------------------------
EPILOG = """\
examples:
  routebench run                                  the default comparison (every keyed
                                                  strategy, N=10 and 100, three traces)
  routebench run --strategy ring:vnodes=200 --strategy jump --nodes 5,50 --trace zipf:s=1.2
  routebench list                                 strategies, parameters, traces
  echo user:42 | routebench lookup --strategy maglev --nodes a,b,c
  routebench simulate --scenario sticky-vs-p2c    live traffic through balancers
  routebench claims                               measure the seed claims -> reports/claims.md
  routebench trace inspect access.log.gz          what is in a recorded trace
  routebench run --trace access.log --route-on client24
  routebench compare base.json new.json --gate 'peak_to_mean: +2%'
                                                  what changed; exit 1 if a gate fails
  routebench run --json new.json --baseline base.json
                                                  run and compare in one step
  routebench ab --base-python /tmp/base/bin/python --strategy ring
                                                  time two versions interleaved, gate timing
  routebench report run.json -o out/              Markdown + HTML report with plots
"""


def build_parser(light: bool = False) -> argparse.ArgumentParser:
    """The parser; ``light`` skips what only trace-reading commands' help needs."""
    def read_options(parser: argparse.ArgumentParser, **kw: Any) -> None:
        _add_read_options(parser, light=light, **kw)

    p = _Parser(
        prog="routebench",
        description="Benchmark and compare request-routing strategies: how evenly they "
                    "spread keys, how many keys move when nodes join or leave, how they "
                    "treat users behind one NAT, and how fast they look up.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"routebench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

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
    r.add_argument("--format", default="github", choices=_formats(), metavar="FMT",
                   help=f"table format: {choices(_formats())} (default: github)")
    r.add_argument("--json", default=DEFAULT_JSON, metavar="PATH",
                   help=f"write the JSON report here (default: {DEFAULT_JSON})")
    r.add_argument("--no-json", dest="json", action="store_const", const=None,
                   help="do not write a JSON report")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    read_options(r)
    g = r.add_argument_group(
        "regression gate", "compare this run with a baseline report and exit 1 when a gate fails")
    g.add_argument("--baseline", metavar="BASE.json",
                   help="a report of the same run from the base version; prints the "
                        "comparison (see routebench compare)")
    g.add_argument("--base-python", metavar="PY",
                   help="the base version's interpreter (e.g. base-venv/bin/python): time it "
                        "and this version interleaved, so timing gates apply")
    _gate_options(g)
    _ab_options(g, keys=False)
    r.set_defaults(func=cmd_run)

    cp = sub.add_parser(
        "compare", help="compare two reports and gate on the changes (exit 1 on a failed gate)",
        description=_wrap(
            "Print every metric that changed between two reports (old, new, delta, ratio), "
            "grouped by strategy, trace and node count, and apply the gates: per metric, a "
            "relative (+2%) or absolute (+0.005) threshold in the bad direction (+ for an "
            "increase, - for a decrease). Quality metrics are deterministic for a seed and are "
            "gated exactly. Timing metrics (" + ", ".join(sorted(_timing_metrics()[0])) + ") "
            "are shown but gated only when both reports carry rounds timed in one job "
            "(routebench ab, or run --baseline --base-python, which time "
            + ", ".join(_timing_metrics()[1]) + "): then a gate fails only when the whole "
            "bootstrap confidence interval of new/base lies beyond the threshold. A gated "
            "metric that is a number in the base and missing or not a number in the new "
            "report fails."),
        epilog="gates in pyproject.toml (found from the working directory up):\n"
               "  [tool.routebench.gate]\n"
               "  peak_to_mean = \"+2%\"\n"
               "  remap_leave = \"+0.005\"\n"
               "  batch_ns_per_key = \"+10%\"\n"
               "exit status: 0 all gates passed, 1 a gate failed, 2 bad input\n"
               "example: routebench compare main.json pr.json --gate 'peak_to_mean: +2%'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cp.add_argument("base", metavar="BASE.json", help="the report to compare against")
    cp.add_argument("new", metavar="NEW.json", help="the candidate's report")
    _gate_options(cp)
    cp.add_argument("--format", default="github", choices=_formats(), metavar="FMT",
                   help=f"table format: {choices(_formats())} (default: github)")
    cp.set_defaults(func=cmd_compare)

    ab = sub.add_parser(
        "ab", help="time two versions interleaved in one job and gate on the intervals",
        description=_wrap(
            "Time the same strategies in two interpreters (the base version's environment and "
            "this one, or --new-python) in one job: in every round each scenario is measured on "
            "both sides back to back, alternating who goes first, and the rounds are spread "
            "over several fresh worker pairs. Prints new/base with a bootstrap confidence "
            "interval per metric (batch_ns_per_key, lookup_ns_p50, build_ms) and exits 1 when a "
            "timing gate's whole interval lies beyond its threshold."),
        epilog="example (CI):\n"
               "  python -m venv /tmp/base && /tmp/base/bin/pip install 'routebench @ "
               "git+https://...@main'\n"
               "  routebench ab --base-python /tmp/base/bin/python --strategy ring "
               "--nodes 100 --gate 'batch_ns_per_key: +10%'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ab.add_argument("--base-python", required=True, metavar="PY",
                    help="the base version's interpreter, e.g. /tmp/base/bin/python")
    ab.add_argument("--new-python", metavar="PY",
                    help="the candidate's interpreter (default: the one running routebench)")
    ab.add_argument("--strategy", action="append", metavar="NAME[:param=value,...]",
                    help="a strategy to time; repeat for more (default: every keyed strategy)")
    ab.add_argument("--nodes", metavar="N,...", help="node counts (default: 10,100)")
    ab.add_argument("--seed", type=int, default=0, help="seed of the timed keys (default: 0)")
    _ab_options(ab, keys=True)
    ab.add_argument("--json", metavar="PATH", help="write the candidate's timings here")
    ab.add_argument("--json-base", metavar="PATH", help="write the base's timings here")
    _gate_options(ab)
    ab.add_argument("--format", default="github", choices=_formats(), metavar="FMT",
                    help=f"table format: {choices(_formats())} (default: github)")
    ab.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    ab.set_defaults(func=cmd_ab)

    rp = sub.add_parser(
        "report", help="write a Markdown and a self-contained HTML report with plots",
        description="Turn run (and simulate) reports into a published report: Markdown with "
                    "PNG (or SVG) plots beside it, and one self-contained HTML page with the "
                    "plots embedded. Tables per trace, the environment measured on, and plots: "
                    "keys per node, peak-to-mean vs virtual nodes, remap fraction vs N against "
                    "the ideal, lookup ns vs N; load over time and latency percentiles per "
                    "balancer when simulation results are given. Needs matplotlib "
                    "(pip install 'routebench[report]').",
        epilog="example: routebench run --json run.json && routebench report run.json -o out/",
    )
    rp.add_argument("results", nargs="+", metavar="RESULTS.json", help="routebench reports")
    rp.add_argument("-o", "--output", required=True, metavar="DIR",
                    help="directory to write report.md, report.html and the images to")
    rp.add_argument("--title", default="routebench report", help="the report's title")
    rp.add_argument("--baseline", metavar="BASE.json",
                    help="also show what changed between this report and the last RESULTS "
                         "file, gated like compare: exit 1 when a gate fails (the report is "
                         "written all the same)")
    rp.add_argument("--image-format", default="png", choices=("png", "svg"),
                    help="plot image format (default: png)")
    rp.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")
    _gate_options(rp)
    rp.set_defaults(func=cmd_report)

    tr = sub.add_parser(
        "trace", help="inspect, generate and convert trace files",
        description="Recorded traces: inspect a file, write synthetic traces to files, convert "
                    "between formats. Files may be gzip, bz2, xz or zstd compressed; '-' reads "
                    "standard input.",
        epilog="examples:\n"
               "  routebench trace inspect access.log.gz\n"
               "  routebench trace generate access-log --requests 1M -o access.log\n"
               "  routebench trace convert access.log -o requests.csv\n"
               "  routebench run --trace access.log --route-on client24",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    tsub = tr.add_subparsers(dest="trace_command", metavar="SUBCOMMAND", parser_class=_Parser)
    tsub.required = True
    ti = tsub.add_parser(
        "inspect", help="what is in a trace: requests, distinct keys and clients, time span, "
                        "skew, NAT hints, parse errors",
        description="Read a trace once (streamed, any length) and show the format detected, "
                    "lines read/used/rejected, requests, distinct keys and clients, the time "
                    "span and request rate, the top keys and their share of requests (skew), "
                    "the largest client-IP groups and /24 clusters and IPs with many users "
                    "(NAT hints), and the first rejected lines with their line numbers.")
    ti.add_argument("file", metavar="FILE", help="a trace file ('-': stdin) or a synthetic "
                                                 "NAME[:param=value,...]")
    ti.add_argument("--top", type=int, default=10, metavar="K", help="rows in each top list "
                                                                    "(default: 10)")
    ti.add_argument("--requests", metavar="N", help="read at most N requests (default: all; "
                                                    "synthetic: 200k)")
    ti.add_argument("--seed", type=int, default=0, help="seed of a synthetic trace (default: 0)")
    ti.add_argument("--json", metavar="PATH", help="also write the summary as JSON")
    ti.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    read_options(ti)
    ti.set_defaults(func=cmd_trace_inspect)

    tg = tsub.add_parser(
        "generate", help="write a synthetic trace to a file",
        description="Write a synthetic trace (uniform, zipf, nat, access-log) to a file: the "
                    "access-log trace as an NCSA combined log, the others as CSV with a header "
                    "(or JSON lines / TSV by --to or the file name). The same name, parameters, "
                    "requests and seed give the same file. A .gz/.bz2/.xz/.zst name compresses.")
    tg.add_argument("name", metavar="NAME[:param=value,...]",
                    help="a synthetic trace, e.g. access-log or zipf:s=1.2 (see routebench list)")
    tg.add_argument("--requests", "-n", default="1M", metavar="N",
                    help="requests to write (default: 1M)")
    tg.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    tg.add_argument("-o", "--output", required=True, metavar="FILE", help="the file ('-': stdout)")
    tg.add_argument("--to", metavar="FMT", choices=("access-log", "csv", "tsv", "jsonl"),
                    help="output format: access-log, csv, tsv, jsonl (default: by the file "
                         "name; access-log for the access-log trace, else csv)")
    tg.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    tg.set_defaults(func=cmd_trace_generate)

    tc = tsub.add_parser(
        "convert", help="convert a trace file to another format",
        description="Read a trace (any readable format) and write it as an access log, CSV, "
                    "TSV or JSON lines. Rejected lines are counted and reported, not written.")
    tc.add_argument("file", metavar="FILE", help="the trace to read ('-': stdin)")
    tc.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write")
    tc.add_argument("--to", metavar="FMT", choices=("access-log", "csv", "tsv", "jsonl"),
                    help="output format (default: by the output name)")
    tc.add_argument("--keep", metavar="COLS", help="the columns to write, e.g. client,path "
                                                   "(default: every raw column)")
    tc.add_argument("--requests", metavar="N", help="convert at most N requests")
    tc.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    read_options(tc, route=False)
    tc.set_defaults(func=cmd_trace_convert)

    tf = tsub.add_parser("formats", help="the file formats read and written",
                         description="List the trace file formats routebench reads and writes.")
    tf.set_defaults(func=cmd_trace_formats)

    ls = sub.add_parser("list", help="show strategies, their parameters, traces and hashes",
                        description="Show every registered strategy (built-in and plugin) with "
                                    "its kind, parameters and defaults, and the traces, hash "
                                    "functions and output formats there are.")
    ls.add_argument("name", nargs="?", metavar="NAME",
                    help="one strategy or trace: its parameters, defaults and meaning")
    ls.add_argument("--kind", choices=("keyed", "balancer"), help="only strategies of this kind")
    ls.add_argument("--format", default="simple", choices=_formats(), metavar="FMT",
                    help=f"table format: {choices(_formats())} (default: simple)")
    ls.set_defaults(func=cmd_list)

    lk = sub.add_parser(
        "lookup", help="print the node of each key (key<TAB>node a line)",
        description="Route keys through one keyed strategy and print key<TAB>node a line. "
                    "Keys come from the command line or, with none given, from standard "
                    "input, one a line (streamed: a million keys take a few seconds).",
        epilog="example: printf 'user:1\\nuser:2\\n' | routebench lookup --strategy ring "
               "--nodes cache-a,cache-b,cache-c",
    )
    lk.add_argument("--strategy", required=True, metavar="NAME[:param=value,...]",
                    help="a keyed strategy, e.g. jump or ring:vnodes=200")
    lk.add_argument("--nodes", required=True, metavar="A,B,C",
                    help="node names in order (name=weight gives a weight, e.g. a=2,b,c)")
    lk.add_argument("--hash", metavar="H", choices=HASH_NAMES,
                    help=f"key hash: {choices(HASH_NAMES)} (default: xxh3)")
    lk.add_argument("keys", nargs="*", metavar="KEY", help="keys to route (default: stdin)")
    lk.set_defaults(func=cmd_lookup)

    _add_simulate(sub, light)
    _add_claims(sub)
    return p


SIM_EPILOG = """\
Options given override the scenario preset's (event options replace its events;
--duration without --requests runs for that time only). Times take s, ms, m or h
(30, 30s, 500ms, 2m); distributions are fixed:value=V, exp:mean=M,
lognormal:mean=M,sigma=S or pareto:mean=M,alpha=A (a bare number is fixed).

examples:
  routebench simulate                                  the default preset
  routebench simulate --scenario crash-failover --store external
  routebench simulate --balancer p2c --balancer cookie-sticky:base=p2c --backends 50 \\
      --requests 1M --nat 50,500 --ip-change-rate 0.01
  routebench simulate --balancer ip-hash-sticky:keyed=ring --crash backend-3@30s \\
      --join 45s --duration 60
"""


def _add_simulate(sub: Any, light: bool = False) -> None:
    s = sub.add_parser(
        "simulate", help="simulate live traffic through balancers (affinity, failover, load)",
        description="Discrete-event simulation of clients, sessions and backends behind a load "
                    "balancer. Reports per balancer: load imbalance (max/mean of outstanding "
                    "requests and of requests served per window, time-averaged and worst), "
                    "response time p50/p99/p99.9, failed requests, sessions that lose their "
                    "state (on a crash, a re-route, an IP change, a TTL), IP-change survival "
                    "and where NAT users land.",
        epilog=SIM_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = s.add_argument
    a("--scenario", metavar="NAME", help="a preset (see routebench list); default: default")
    a("--balancer", action="append", metavar="NAME[:param=value,...]",
      help="a balancer, e.g. p2c:d=3 or ip-hash-sticky:keyed=ring; repeat to compare "
           "(default: the preset's)")
    g = s.add_argument_group("backends")
    g.add_argument("--backends", metavar="N", help="initial backends, backend-0 ... (default 10)")
    g.add_argument("--workers", metavar="W", help="workers a backend (default 4)")
    g.add_argument("--service", metavar="DIST",
                   help="service time in seconds: a distribution or file:PATH of times "
                        "(default exp:mean=0.01)")
    g.add_argument("--speed", action="append", metavar="BACKEND=FACTOR",
                   help="a backend's speed, e.g. backend-0=0.25 (four times slower); repeatable")
    g.add_argument("--queue-limit", metavar="N", help="queue length a backend; more fail "
                   "(default 0: unlimited)")
    g = s.add_argument_group("clients and sessions")
    g.add_argument("--clients", metavar="C", help="distinct clients (default 10000)")
    g.add_argument("--nat", metavar="SIZES", help="NAT groups: clients sharing one address, "
                   "e.g. 50 or 500,200,50")
    g.add_argument("--load", metavar="RHO", help="target utilisation of all workers, sets the "
                   "session rate (default 0.7)")
    g.add_argument("--session-rate", metavar="R", help="sessions a second (instead of --load)")
    g.add_argument("--trace", metavar="FILE",
                   help="session arrivals at the request times of a recorded trace (an access "
                        "log, CSV or JSON lines with a time column; '-' for stdin), sorted")
    g.add_argument("--arrivals", metavar="poisson|file:PATH",
                   help="session arrival times, seconds, one a line (default poisson)")
    g.add_argument("--session-length", metavar="DIST",
                   help="requests a session (default lognormal:mean=10,sigma=1)")
    g.add_argument("--think", metavar="DIST", help="think time between a response and the "
                   "next request (default exp:mean=1)")
    g.add_argument("--ip-change-rate", metavar="R", help="address changes a session-second "
                   "(default 0)")
    g.add_argument("--keys", metavar="zipf:s=S,universe=U", help="content keys of requests, "
                   "for balancers hashing on=key (default zipf:s=1,universe=100000)")
    g = s.add_argument_group("session state")
    g.add_argument("--store", choices=("local", "external"),
                   help="local: on the backend (lost on crash or re-route); external: a shared "
                        "store (default local)")
    g.add_argument("--store-rtt", metavar="T", help="external store round trip a request "
                   "(default 0.5ms)")
    g.add_argument("--ttl", metavar="T", help="idle time after which state expires "
                   "(default 30m)")
    g = s.add_argument_group("run and events")
    g.add_argument("--requests", metavar="N", help="stop issuing after N requests (default "
                   "200k; 1M works; 0 for no limit)")
    g.add_argument("--duration", metavar="T", help="stop issuing at T (simulated time)")
    g.add_argument("--warmup", metavar="T", help="measure from T on (default 0: the run "
                   "starts warm)")
    g.add_argument("--no-warm-start", action="store_true",
                   help="start with no sessions instead of a steady-state population")
    for kind, text in (("crash", "a backend crashes: in-flight requests fail"),
                       ("recover", "a crashed backend comes back (or a draining one undrains)"),
                       ("join", "a new backend joins (JOIN: [NAME@]T)"),
                       ("drain", "a backend takes no new sessions; cookies still reach it")):
        g.add_argument(f"--{kind}", action="append", metavar="BACKEND@T",
                       help=f"{text}; repeatable")
    g.add_argument("--window", metavar="T", help="imbalance window (default: 1/100 of the run)")
    o = s.add_argument_group("output")
    o.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    o.add_argument("--format", default="github", choices=_formats(), metavar="FMT",
                   help=f"table format: {choices(_formats())} (default: github)")
    o.add_argument("--json", default=DEFAULT_SIM_JSON, metavar="PATH",
                   help=f"write the JSON report here (default: {DEFAULT_SIM_JSON})")
    o.add_argument("--no-json", dest="json", action="store_const", const=None,
                   help="do not write a JSON report")
    o.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    _add_read_options(s, route=False, sessions=False, light=light)
    s.set_defaults(func=cmd_simulate)


def _add_claims(sub: Any) -> None:
    c = sub.add_parser(
        "claims", help="measure the eight seed claims and write reports/claims.md",
        description="Run one experiment for each of the seed claims (sticky imbalance, crash "
                    "losses, IP changes, NAT, ring remap, virtual nodes, rendezvous vs ring, "
                    "power of two choices) and write the claim, scenario, numbers, verdict, "
                    "seed and reproducing command of each to a Markdown report.")
    c.add_argument("--size", choices=("small", "full"), default="full",
                   help="full: the committed report's sizes (a few minutes); small: CI-sized")
    c.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    c.add_argument("--only", metavar="N,...", help="only these claims, e.g. 1,3")
    c.add_argument("--output", default="reports/claims.md", metavar="PATH",
                   help="Markdown report (default: reports/claims.md)")
    c.add_argument("--json", metavar="PATH", help="also write the numbers as a JSON report")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    c.set_defaults(func=cmd_claims)


def _gate_options(p: Any) -> None:
    p.add_argument("--gate", action="append", metavar="'METRIC: +N%'",
                   help="a gate, e.g. 'peak_to_mean: +2%%' (relative), 'remap_leave: +0.005' "
                        "(absolute), 'chi2_p: -50%%' (a fall); repeat for more; overrides "
                        "pyproject.toml's [tool.routebench.gate] for that metric")
    p.add_argument("--config", metavar="PYPROJECT",
                   help="read [tool.routebench.gate] from this file (default: the nearest "
                        "pyproject.toml from the working directory up)")
    p.add_argument("--no-config", action="store_true", help="ignore pyproject.toml's gates")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help="compare only this metric; repeat for more")
    p.add_argument("--all", action="store_true", help="show unchanged metrics too")
    p.add_argument("--confidence", type=_confidence, default=0.95, metavar="C",
                   help="confidence level of timing intervals (default: 0.95)")


def _ab_options(p: Any, keys: bool) -> None:
    p.add_argument("--rounds", type=_positive_int, default=20, metavar="R",
                   help="interleaved timing rounds (default: 20)")
    p.add_argument("--processes", type=_positive_int, default=None, metavar="P",
                   help="fresh worker pairs the rounds are spread over (default: 4, or R "
                        "when there are fewer rounds)")
    if keys:
        p.add_argument("--keys", default="20k", metavar="K",
                       help="digests in each batch lookup (default: 20k)")
        p.add_argument("--reps", type=_positive_int, default=5, metavar="N",
                       help="measurements a round on each side, the best kept (default: 5)")


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is below 1")
    return v


def _confidence(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.5 <= v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not in [0.5, 1), e.g. 0.95")
    return v


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, 78)


def _timing_metrics() -> tuple[frozenset[str], tuple[str, ...]]:
    """Every timing metric, and the ones routebench ab times in interleaved rounds."""
    from .reports.compare import INTERLEAVED_METRICS, TIMING_METRICS

    return TIMING_METRICS, INTERLEAVED_METRICS


def _formats() -> tuple[str, ...]:
    from .reports.table import FORMATS

    return FORMATS


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any,
                      **__: Any) -> str:
    return f"routebench: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning  # e.g. a broken plugin: one line, no source
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(light=bool(argv) and argv[0] in _LIGHT_COMMANDS)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RoutebenchError as exc:
        sub_cmd = getattr(args, "trace_command", None)
        where = f"{args.command} {sub_cmd}" if sub_cmd else args.command
        print(f"routebench {where}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"routebench {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `routebench trace inspect ... | head`: the reader left
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
