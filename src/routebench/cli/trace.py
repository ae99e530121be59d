"""``routebench trace inspect|generate|convert|formats``: recorded and synthetic trace files."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._errors import RoutebenchError, choices
from .._units import parse_count
from ._common import (
    Parser,
    add_quiet,
    add_read_options,
    bar_updates,
    read_kwargs,
    say,
    trace_progress,
)

_WRITE_FORMATS = ("access-log", "csv", "tsv", "jsonl")


def add_parser(sub: Any, light: bool = False) -> None:
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
    tsub = tr.add_subparsers(dest="trace_command", metavar="SUBCOMMAND", parser_class=Parser)
    tsub.required = True
    _add_inspect(tsub, light)
    _add_generate(tsub)
    _add_convert(tsub, light)
    tf = tsub.add_parser("formats", help="the file formats read and written",
                         description="List the trace file formats routebench reads and writes.")
    tf.set_defaults(func=run_formats)


def _add_inspect(tsub: Any, light: bool) -> None:
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
    add_quiet(ti, "no progress on stderr")
    add_read_options(ti, light=light)
    ti.set_defaults(func=run_inspect)


def _add_generate(tsub: Any) -> None:
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
    tg.add_argument("--to", metavar="FMT", choices=_WRITE_FORMATS,
                    help="output format: access-log, csv, tsv, jsonl (default: by the file "
                         "name; access-log for the access-log trace, else csv)")
    add_quiet(tg)
    tg.set_defaults(func=run_generate)


def _add_convert(tsub: Any, light: bool) -> None:
    tc = tsub.add_parser(
        "convert", help="convert a trace file to another format",
        description="Read a trace (any readable format) and write it as an access log, CSV, "
                    "TSV or JSON lines. Rejected lines are counted and reported, not written.")
    tc.add_argument("file", metavar="FILE", help="the trace to read ('-': stdin)")
    tc.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write")
    tc.add_argument("--to", metavar="FMT", choices=_WRITE_FORMATS,
                    help="output format (default: by the output name)")
    tc.add_argument("--keep", metavar="COLS", help="the columns to write, e.g. client,path "
                                                   "(default: every raw column)")
    tc.add_argument("--requests", metavar="N", help="convert at most N requests")
    add_quiet(tc)
    add_read_options(tc, route=False, light=light)
    tc.set_defaults(func=run_convert)


def run_inspect(args: argparse.Namespace) -> int:
    from ..datasets import open_trace
    from ..datasets.summary import summarize_trace
    from ..records import TraceSummary, make_report
    from ..reports import inspect_text, write_json

    requests = parse_count(args.requests, "--requests") if args.requests else None
    trace = open_trace(args.file, requests, args.seed, **read_kwargs(args))
    if "session" in trace.available:
        trace.with_columns("session")
    with bar_updates(trace_progress(args.quiet, f"inspect {trace.label}")) as update:
        summary = summarize_trace(trace, top=args.top, progress=update)
    print(inspect_text(summary, args.top))
    if args.json:
        path = write_json(args.json, make_report("trace-inspect", [TraceSummary.of(summary)],
                                                 {"file": args.file, "top": args.top}))
        say(args, f"wrote {path}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from .._params import parse_spec
    from ..datasets import SYNTHETIC, open_trace
    from ..datasets.writers import format_for_path, write_trace

    name, _ = parse_spec(args.name)
    if name not in SYNTHETIC:
        raise RoutebenchError(f"unknown trace {name!r}; available: {choices(SYNTHETIC)}")
    requests = parse_count(args.requests, "--requests")
    trace = open_trace(args.name, requests, args.seed)
    fmt = args.to or format_for_path(args.output) or (
        "access-log" if name == "access-log" else "csv")
    with bar_updates(trace_progress(args.quiet, f"generate {trace.label}")) as update:
        info = write_trace(trace, args.output, fmt, progress=update)
    say(args, f"wrote {args.output}: {info['requests']:,} requests of {trace.label} "
              f"(seed {args.seed}) as {info['format']}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from ..datasets import open_trace
    from ..datasets.writers import format_for_path, write_trace

    requests = parse_count(args.requests, "--requests") if args.requests else None
    trace = open_trace(args.file, requests, 0, **read_kwargs(args))
    fmt = args.to or format_for_path(args.output)
    if fmt is None:
        raise RoutebenchError(
            f"-o {args.output!r}: cannot tell the output format from the name; give --to "
            "access-log, csv, tsv or jsonl"
        )
    cols = [c.strip() for c in args.keep.split(",") if c.strip()] if args.keep else None
    if cols is None:
        cols = list(trace.raw_columns)
    trace.with_columns(*cols)
    with bar_updates(trace_progress(args.quiet, f"convert {trace.label}")) as update:
        info = write_trace(trace, args.output, fmt, columns=cols, progress=update)
    stats = trace.stats
    say(args, f"wrote {args.output}: {info['requests']:,} requests as {info['format']}"
              + (f" ({stats.summary()})" if stats else ""))
    if info.get("escaped"):  # said even with -q: the file differs from the input
        print(f"routebench trace convert: note: {info['escaped']:,} values were not UTF-8 text "
              f"and were written with \\xNN escapes ({info['format']} is text); an access-log "
              "output (--to access-log) keeps the bytes as they were", file=sys.stderr)
    return 0


def run_formats(args: argparse.Namespace) -> int:
    from ..datasets.readers import BUILTIN_LOG_FORMATS, FORMATS
    from ..datasets.writers import WRITE_FORMATS
    from ..reports import format_table

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
