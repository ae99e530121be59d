"""``routebench ab``: time two versions interleaved in one job and gate on the intervals."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._units import parse_count
from ._common import (
    add_ab_options,
    add_format,
    add_gate_options,
    add_quiet,
    gates,
    node_counts,
    print_comparison,
    progress,
    say,
    strategy_specs,
    wrap,
)


def add_parser(sub: Any, light: bool = False) -> None:
    ab = sub.add_parser(
        "ab", help="time two versions interleaved in one job and gate on the intervals",
        description=wrap(
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
    add_ab_options(ab, keys=True)
    ab.add_argument("--json", metavar="PATH", help="write the candidate's timings here")
    ab.add_argument("--json-base", metavar="PATH", help="write the base's timings here")
    add_gate_options(ab)
    add_format(ab)
    add_quiet(ab)
    ab.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..harness.ab.baseline import ABPlan
    from ..reports import write_json
    from ..reports.compare import INTERLEAVED_METRICS

    gated = gates(args, INTERLEAVED_METRICS, "that routebench ab times")
    plan = ABPlan(strategy_specs(args.strategy), node_counts(args.nodes), args.base_python,
                  args.new_python or sys.executable, rounds=args.rounds,
                  processes=args.processes, keys=parse_count(args.keys, "--keys"),
                  reps=args.reps, seed=args.seed)
    say(args, f"routebench ab: {len(plan.specs)} strategies x {len(plan.nodes)} node counts, "
              f"{plan.rounds} rounds on {plan.pairs} worker pairs; base {plan.base_python}, "
              f"new {plan.new_python}")
    ab = plan.run(progress(args.quiet))
    for path, rep in ((args.json_base, ab.base), (args.json, ab.new)):
        if path:
            say(args, f"wrote {write_json(path, rep)}")
    return print_comparison(args, ab.base, ab.new, gated, show_all=True)
