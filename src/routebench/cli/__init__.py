"""The ``routebench`` command line: one module per command, each holding its parser
(``add_parser(sub, light)``) next to its ``run(args)``; this module only dispatches."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .._errors import RoutebenchError
from . import ab, claims, compare, listing, live, lookup, report, run, simulate, sweep, trace
from ._common import Parser, check_common_options

__all__ = ["main", "build_parser"]

#: in the order ``routebench --help`` lists them
COMMANDS = (run, compare, ab, report, trace, listing, lookup, simulate, claims, sweep, live)
#: commands that read no trace files: their parser skips importing the readers
_LIGHT_COMMANDS = ("compare", "report", "ab")

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
    p = Parser(
        prog="routebench",
        description="Benchmark and compare request-routing strategies: how evenly they "
                    "spread keys, how many keys move when nodes join or leave, how they "
                    "treat users behind one NAT, and how fast they look up.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"routebench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub, light)
    for name in ("run", "lookup", "simulate"):  # the commands that build structures
        sub.choices[name].add_argument(
            "--max-memory", metavar="SIZE",
            help="the most memory one strategy's structure may take before it is refused "
                 "(default: half the machine's memory, or $ROUTEBENCH_MAX_MEMORY), e.g. 16GiB")
    return p


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any,
                      **__: Any) -> str:
    return f"routebench: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning  # e.g. a broken plugin: one line, no source
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(light=bool(argv) and argv[0] in _LIGHT_COMMANDS)
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        if args.command != "list" or getattr(args, "quiet", False):
            # `routebench list` shows broken plugins; elsewhere a broken one is named
            # when it is asked for ("failed to load: ..."), not on every command
            warnings.filterwarnings("ignore", message=r"plugin .* skipped", category=RuntimeWarning)
        if getattr(args, "quiet", False):
            warnings.simplefilter("ignore", RuntimeWarning)
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    from ..strategies import set_memory_limit

    before: list[int | None] = []  # the limit to put back, once one was set
    try:
        if getattr(args, "max_memory", None):
            from .._units import parse_size

            before.append(set_memory_limit(parse_size(args.max_memory, "--max-memory")))
        check_common_options(args)
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
    finally:
        if before:  # a test or a program calling main() keeps its own limit
            set_memory_limit(before[0])
