"""``routebench report``: a Markdown and a self-contained HTML report with plots."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_gate_options, add_quiet, gates, say


def add_parser(sub: Any, light: bool = False) -> None:
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
    add_quiet(rp, "no notes on stderr")
    add_gate_options(rp)
    rp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..reports import read_json
    from ..reports.publish import publish

    gated = gates(args)
    reports = [(path, read_json(path)) for path in args.results]
    base = read_json(args.baseline) if args.baseline else None
    done = publish(reports, args.output, title=args.title, baseline=base, gates=gated,
                   confidence=args.confidence, image_format=args.image_format,
                   baseline_name=args.baseline)
    for p in done.files:
        say(args, f"wrote {p}")
    if done.comparison is not None and not done.comparison.passed:
        for r in done.comparison.failures:
            print("FAIL " + r.describe(), file=sys.stderr)
        return 1  # gated like compare: the report is written, and the job fails
    return 0
