"""What the commands share: the parser class, progress bars, notes and option groups.

Nothing here imports more than argparse and routebench's ground floor at import
time: ``routebench compare --help`` must stay quick.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from .._errors import RoutebenchError, choices

__all__ = ["Parser", "Progress", "progress", "trace_progress", "bar_updates", "say",
           "formats", "add_format", "add_quiet", "add_json", "wrap", "timing_metrics",
           "add_read_options", "read_kwargs", "open_traces",
           "add_gate_options", "gates", "print_comparison", "add_ab_options", "positive_int",
           "confidence", "strategy_specs", "node_counts"]

#: a progress bar factory: (description, total or None) -> a tqdm-like bar
Progress = Callable[[str, int | None], Any]


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming what went wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- progress and notes ---------------------------------------------------------------------
def progress(quiet: bool) -> Progress | None:
    """A tqdm bar factory on stderr, shown only on a terminal."""
    if quiet:
        return None
    from tqdm import tqdm

    def make(desc: str, total: int | None) -> Any:
        # a recorded trace's length is unknown until read: the bar counts requests and rate
        unit = " req" if desc.endswith("replay") else "it"
        return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False,
                    file=sys.stderr, disable=None, dynamic_ncols=True)
    return make


def trace_progress(quiet: bool, desc: str) -> Any:
    """A tqdm bar of requests read and their rate, on a terminal only (None when quiet)."""
    if quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=None, desc=desc, unit=" req", unit_scale=True, leave=False,
                file=sys.stderr, disable=None, dynamic_ncols=True)


@contextmanager
def bar_updates(bar: Any) -> Iterator[Callable[[int], Any] | None]:
    """``with bar_updates(bar) as update:`` the bar's ``update`` (None without a bar);
    the bar is closed afterwards, whatever happens."""
    try:
        yield bar.update if bar is not None else None
    finally:
        if bar is not None:
            bar.close()


def say(args: argparse.Namespace, msg: str) -> None:
    """A note on stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(msg, file=sys.stderr)


# -- small option groups --------------------------------------------------------------------
def formats() -> tuple[str, ...]:
    from ..reports.table import FORMATS

    return FORMATS


def add_format(p: Any, default: str = "github") -> None:
    p.add_argument("--format", default=default, choices=formats(), metavar="FMT",
                   help=f"table format: {choices(formats())} (default: {default})")


def add_quiet(p: Any, help: str = "no progress or notes on stderr") -> None:
    p.add_argument("-q", "--quiet", action="store_true", help=help)


def add_json(p: Any, default: str) -> None:
    p.add_argument("--json", default=default, metavar="PATH",
                   help=f"write the JSON report here (default: {default})")
    p.add_argument("--no-json", dest="json", action="store_const", const=None,
                   help="do not write a JSON report")


def wrap(text: str) -> str:
    return textwrap.fill(text, 78)


def timing_metrics() -> tuple[frozenset[str], tuple[str, ...]]:
    """Every timing metric, and the ones routebench ab times in interleaved rounds."""
    from ..reports.compare import INTERLEAVED_METRICS, TIMING_METRICS

    return TIMING_METRICS, INTERLEAVED_METRICS


# -- trace files ----------------------------------------------------------------------------
def add_read_options(p: argparse.ArgumentParser, route: bool = True,
                     sessions: bool = True, light: bool = False) -> None:
    """Options for reading trace files (run, simulate, trace inspect, trace convert).

    ``light``: the command being run reads no traces, so its parser need not
    import the readers (their compiled kernels take ~0.5 s) to list formats.
    """
    if light:
        formats = log_formats = "see `routebench trace formats`"
    else:
        from ..datasets.readers import BUILTIN_LOG_FORMATS, FORMATS

        formats, log_formats = choices(FORMATS), choices(BUILTIN_LOG_FORMATS)
    g = p.add_argument_group("trace files")
    g.add_argument("--trace-format", metavar="FMT",
                   help=f"the file's format: {formats} (default: detected from the "
                        "name and content)")
    g.add_argument("--log-format", metavar="FMT",
                   help=f"access logs: {log_formats} or an nginx log_format "
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
    if sessions:
        g.add_argument("--session", metavar="HOW",
                       help="sessions: ua (client IP + user agent, rebuilt with --session-gap; "
                            "the default), client (IP alone), cookie:NAME, field:NAME")
        g.add_argument("--session-gap", metavar="T",
                       help="idle time that ends a rebuilt session (default: 30m; 90s, 1h work)")
    g.add_argument("--strict", action="store_true",
                   help="stop at the first rejected line (default: count and report them)")


#: read options on the command line -> ReadOptions fields
_READ_FIELDS = (("trace_format", "format"), ("log_format", "log_format"), ("columns", "columns"),
                ("route_on", "route_on"), ("session", "session"), ("session_gap", "session_gap"))


def read_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The trace-file options given on the command line (ReadOptions fields)."""
    out: dict[str, Any] = {}
    for opt, key in _READ_FIELDS:
        v = getattr(args, opt, None)
        if v is not None:
            out[key] = v
    if getattr(args, "strict", False):
        out["strict"] = True
    return out


def open_traces(specs: Sequence[str], requests: int | None,
                args: argparse.Namespace) -> list[Any]:
    """Synthetic specs and trace files alike; file options apply to the files."""
    from ..datasets import is_file_spec, open_trace

    read = read_kwargs(args)
    if sum(1 for s in specs if s == "-") > 1:
        raise RoutebenchError("--trace -: standard input can be given only once")
    traces = []
    for spec in specs:
        if is_file_spec(spec):
            traces.append(open_trace(spec, requests, args.seed, **read))
            continue
        traces.append(open_trace(spec, requests, args.seed, route_on=read.get("route_on")))
    return traces


# -- gates and comparisons ------------------------------------------------------------------
def add_gate_options(p: Any) -> None:
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
    p.add_argument("--confidence", type=confidence, default=0.95, metavar="C",
                   help="confidence level of timing intervals (default: 0.95)")


def gates(args: argparse.Namespace, known: Iterable[str] | None = None,
          what: str = "") -> dict[str, Any]:
    """The gates in force: pyproject.toml's, then the command line's on top.

    With ``known``, a gate given on the command line must name one of those
    metrics (``what`` says where they come from): checked before a long run.
    """
    from ..reports.compare import find_config, load_gates, merge_gates, parse_gate

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


def print_comparison(args: argparse.Namespace, base: Mapping[str, Any], new: Mapping[str, Any],
                     gates: Mapping[str, Any], show_all: bool | None = None) -> int:
    """Print the comparison table and summary; 0 when every gate passed, else 1."""
    from ..reports.compare import compare

    cmp = compare(base, new, gates, confidence=args.confidence,
                  show_all=args.all if show_all is None else show_all, metrics=args.metric)
    if cmp.rows:
        print(cmp.table(args.format))
        print()
    print(cmp.summary())
    return 0 if cmp.passed else 1


def add_ab_options(p: Any, keys: bool) -> None:
    p.add_argument("--rounds", type=positive_int, default=20, metavar="R",
                   help="interleaved timing rounds (default: 20)")
    p.add_argument("--processes", type=positive_int, default=None, metavar="P",
                   help="fresh worker pairs the rounds are spread over (default: 4, or R "
                        "when there are fewer rounds)")
    if keys:
        p.add_argument("--keys", default="20k", metavar="K",
                       help="digests in each batch lookup (default: 20k)")
        p.add_argument("--reps", type=positive_int, default=5, metavar="N",
                       help="measurements a round on each side, the best kept (default: 5)")


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is below 1")
    return v


def confidence(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.5 <= v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not in [0.5, 1), e.g. 0.95")
    return v


# -- strategies and node counts -------------------------------------------------------------
def strategy_specs(texts: Sequence[str] | None, check: bool = False) -> list[Any]:
    """``--strategy`` specs (default: every keyed strategy); ``check``: names and
    parameters are checked now, before any work."""
    from .._params import parse_spec
    from ..harness.static.runner import StrategySpec
    from ..registry import registry

    # by default every keyed strategy but the product models (nginx-*, haproxy-*, envoy-*),
    # whose node names are server addresses: name them, or use --lb-config
    specs = ([StrategySpec(*parse_spec(s)) for s in texts] if texts
             else [StrategySpec(c.name) for c in registry.classes("keyed")
                   if not getattr(c, "product", "")])
    if check:
        for spec in specs:
            registry.get(spec.name).resolve_params(spec.params)
    return specs


def refuse_with(flag: str, given: Sequence[tuple[str, Any]], why: str) -> None:
    """One line when ``flag`` meets options it replaces: ``given`` is (option, value) pairs;
    ``why`` says what ``flag`` already gives."""
    clash = [f for f, v in given if v]
    if clash:
        both = " and ".join(clash)
        raise RoutebenchError(f"{flag} and {both} cannot be combined: {why}; drop {both}")


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 trace``, ``3 traces``."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def check_common_options(args: argparse.Namespace) -> None:
    """Options many commands share, checked before any work: a bad one costs no run."""
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        raise RoutebenchError(f"--seed {seed}: expected a whole number >= 0")
    files = [("--json", getattr(args, "json", None)),
             ("--json-base", getattr(args, "json_base", None))]
    if getattr(args, "command", "") in ("trace", "claims"):  # report's --output is a folder
        files.append(("--output", getattr(args, "output", None)))
    for flag, path in files:
        if isinstance(path, str) and path != "-":
            check_output_file(path, flag)
    if getattr(args, "command", "") == "run" and getattr(args, "strategy", None):
        _check_sizes(args.strategy, node_counts(getattr(args, "nodes", None)))


def _check_sizes(texts: Sequence[str], counts: Sequence[int]) -> None:
    """Each keyed strategy's structure at the largest N fits the memory limit."""
    from ..registry import registry
    from ..strategies import KeyedStrategy

    for spec in strategy_specs(texts, check=True):
        cls = registry.get(spec.name)
        if issubclass(cls, KeyedStrategy):
            cls.check_size(max(counts), **spec.params)


def check_output_file(path: str, flag: str) -> None:
    """A file we are going to write: not a directory, and its folder exists or can be made."""
    import os

    if os.path.isdir(path):
        example = os.path.join(path, "out.json" if "json" in flag else "trace.csv")
        raise RoutebenchError(f"{flag} {path!r} is a directory; give a file name such as "
                              f"{example}")
    folder = os.path.dirname(os.path.abspath(path))
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.access(folder, os.W_OK):
        raise RoutebenchError(f"{flag} {path!r}: cannot write in {folder!r} (permission denied)")


def node_counts(text: str | None) -> list[int]:
    """``--nodes 10,100`` (default: the runner's node counts)."""
    if not text:
        from ..harness.static.runner import DEFAULT_NODES

        return list(DEFAULT_NODES)
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
        if n in out:
            raise RoutebenchError(f"--nodes {text!r}: node count {n} is given twice")
        out.append(n)
    return out
