"""``routebench sweep CONFIG.toml``: a grid of runs, here or on a Dask cluster."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._errors import RoutebenchError
from ._common import add_quiet, positive_int, say

DEFAULT_JSON = "routebench-sweep.json"

EPILOG = """\
The TOML file names the grid (see examples/sweep.toml):

  engine = "run"                       # or "simulate" (balancers over scenarios)
  seed = 0                             # the sweep seed; cells' seeds derive from it
  seeds = [0, 1]                       # replicates
  nodes = [10, 100]
  traces = ["uniform", "zipf:s=1.2", "logs/*.log.gz"]
  strategies = ["jump", { name = "ring", vnodes = [50, 100, 200] }]
  [run]
  keys = "50k"

examples:
  routebench sweep examples/sweep.toml --dry-run     the cells and a cost estimate
  routebench sweep examples/sweep.toml               on a local Dask cluster, one worker a core
  routebench sweep examples/sweep.toml --workers 1   serially, in this process
  routebench sweep examples/sweep.toml --scheduler tcp://10.0.0.5:8786
  routebench sweep examples/sweep.toml --resume      run only the cells the JSON lacks
  routebench report routebench-sweep.json -o out/    metric against N, one line a strategy
"""


def add_parser(sub: Any, light: bool = False) -> None:
    s = sub.add_parser(
        "sweep", help="run a grid (strategies x parameters x N x traces x seeds) on Dask",
        description="Run every cell of the grid a TOML file names: `routebench run` cells "
                    "(keyed strategies over traces) or `routebench simulate` cells (balancers "
                    "over scenarios), on an embedded Dask LocalCluster, a running Dask "
                    "scheduler, or serially. Each cell's seed derives from the sweep seed and "
                    "the cell's trace and replicate, so quality metrics are the same whatever "
                    "the workers. Results stream into one JSON report and a CSV.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("config", metavar="CONFIG.toml", help="the sweep's grid")
    s.add_argument("--dry-run", action="store_true",
                   help="print the cells and a cost estimate; run nothing")
    s.add_argument("--workers", type=positive_int, default=None, metavar="W",
                   help="local Dask worker processes, one thread each (default: one a core); "
                        "1 runs serially in this process")
    s.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="a running Dask scheduler (default: $DASK_SCHEDULER_ADDRESS; without "
                        "either, a local cluster)")
    s.add_argument("--json", default=DEFAULT_JSON, metavar="PATH",
                   help=f"the JSON report, written as cells finish (default: {DEFAULT_JSON})")
    s.add_argument("--no-json", dest="json", action="store_const", const=None,
                   help="do not write a JSON report (nor resume)")
    s.add_argument("--csv", metavar="PATH",
                   help="the CSV, a line a cell (default: the JSON's path with .csv)")
    s.add_argument("--no-csv", action="store_true", help="do not write a CSV")
    s.add_argument("--resume", action="store_true",
                   help="keep the finished cells of the JSON report and run the others "
                        "(missing or failed)")
    s.add_argument("--overwrite", action="store_true",
                   help="start again even if the JSON report exists")
    add_quiet(s)
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..harness._dask import dask_target
    from ..harness.sweep import estimate, load_config, resume_state, run_sweep

    cfg = load_config(args.config)
    if args.resume and args.overwrite:
        raise RoutebenchError("--resume and --overwrite: give one")
    if args.resume and not args.json:
        raise RoutebenchError("--resume reads the JSON report: it cannot go with --no-json")
    workers, scheduler = dask_target(args.workers, args.scheduler)
    if args.overwrite and args.json and os.path.exists(args.json):
        os.remove(args.json)
    csv_path = None if args.no_csv else (args.csv or _csv_beside(args.json))
    if args.dry_run:
        kept = resume_state(cfg, args.json, True) if args.resume else {}
        return _dry_run(cfg, kept, workers, scheduler, estimate)
    where = f"scheduler {scheduler}" if scheduler else (
        "in this process" if workers == 1 else f"{workers} local workers")
    say(args, f"routebench sweep: {len(cfg.cells)} cells ({cfg.engine}), {where}, "
              f"seed {cfg.seed}")
    out = run_sweep(cfg, workers=workers, scheduler=scheduler, json_path=args.json,
                    csv_path=csv_path, resume=args.resume, progress=not args.quiet,
                    note=lambda m: say(args, m))
    kept_note = f", {out.kept} kept from {args.json}" if out.kept else ""
    print(f"{out.ran - out.failed} of {out.ran} cells ran ok, {out.failed} failed{kept_note} "
          f"({out.elapsed_s:.1f} s, {out.where})")
    for path in (args.json, csv_path):
        if path:
            say(args, f"wrote {path}")
    if out.failed:
        say(args, "failed cells are recorded with their error; --resume runs them again")
    return 1 if out.failed else 0


def _csv_beside(json_path: str | None) -> str | None:
    if not json_path:
        return None
    root, ext = os.path.splitext(json_path)
    return (root if ext.lower() == ".json" else json_path) + ".csv"


def _dry_run(cfg: Any, kept: dict[str, Any], workers: int, scheduler: str | None,
             estimate: Any) -> int:
    from tabulate import tabulate

    todo = [c for c in cfg.cells if c.id not in kept]
    rows = [(c.id, c.seed, f"{cfg.cost_s(c):.1f}", "done" if c.id in kept else "")
            for c in cfg.cells]
    print(tabulate(rows, headers=("cell", "seed", "est. s", "")))
    cpu, wall = estimate(cfg, todo, 1 if scheduler else workers)
    on = (f"on {workers} workers" if not scheduler else
          "on one worker of the scheduler (divide by its workers)")
    print(f"\n{len(cfg.cells)} cells, {len(todo)} to run; estimated {cpu:,.0f} CPU-s, about "
          f"{wall:,.0f} s {on} (a rough model: ~0.9 s a run cell for its timing, plus "
          "~3 us a request)")
    return 0
