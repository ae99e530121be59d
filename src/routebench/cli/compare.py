"""``routebench compare``: what changed between two reports, gated (exit 1 on a failed gate)."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_format, add_gate_options, gates, print_comparison, timing_metrics, wrap


def add_parser(sub: Any, light: bool = False) -> None:
    timing, interleaved = timing_metrics()
    cp = sub.add_parser(
        "compare", help="compare two reports and gate on the changes (exit 1 on a failed gate)",
        description=wrap(
            "Print every metric that changed between two reports (old, new, delta, ratio), "
            "grouped by strategy, trace and node count, and apply the gates: per metric, a "
            "relative (+2%) or absolute (+0.005) threshold in the bad direction (+ for an "
            "increase, - for a decrease). Quality metrics are deterministic for a seed and are "
            "gated exactly. Timing metrics (" + ", ".join(sorted(timing)) + ") "
            "are shown but gated only when both reports carry rounds timed in one job "
            "(routebench ab, or run --baseline --base-python, which time "
            + ", ".join(interleaved) + "): then a gate fails only when the whole "
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
    add_gate_options(cp)
    add_format(cp)
    cp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..reports import read_json

    gated = gates(args)  # a bad gate is reported before the files are read
    base, new = read_json(args.base), read_json(args.new)
    return print_comparison(args, base, new, gated)
