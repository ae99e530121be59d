"""The ``routebench`` command line: it parses, then calls the harness and reports."""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from . import __version__
from ._errors import RoutebenchError, choices
from .hashing import HASH_NAMES

__all__ = ["main"]

DEFAULT_TRACES = ("uniform", "zipf", "nat")
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

    def make(desc: str, total: int):
        return tqdm(total=total, desc=desc, unit_scale=True, leave=False, file=sys.stderr,
                    disable=None, dynamic_ncols=True)
    return make


def _say(args: argparse.Namespace, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(msg, file=sys.stderr)


# -- run -------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from .datasets import open_trace
    from .harness.registry import parse_spec, registry
    from .harness.runner import DEFAULT_NODES, StrategySpec, run_static
    from .reports import make_report, run_table, write_json

    specs = (
        [StrategySpec(*parse_spec(s)) for s in args.strategy]
        if args.strategy else [StrategySpec(n) for n in registry.names("keyed")]
    )
    for spec in specs:  # check names and parameters up front
        cls = registry.get(spec.name)
        cls.resolve_params(spec.params)
    nodes = _node_counts(args.nodes) if args.nodes else list(DEFAULT_NODES)
    keys = _count(args.keys, "--keys")
    traces = [open_trace(t, keys, args.seed) for t in (args.trace or DEFAULT_TRACES)]
    _say(args, f"routebench run: {len(specs)} strategies x {len(nodes)} node counts x "
               f"{len(traces)} traces, {keys:,} requests a trace, seed {args.seed}")
    t0 = time.perf_counter()
    results = run_static(specs, nodes, traces, seed=args.seed,
                         progress=_progress(args.quiet))
    elapsed = time.perf_counter() - t0
    defaults = {s.name: registry.get(s.name).resolve_params({}) for s in specs}
    print(run_table(results, args.format, defaults))
    if args.json:
        config = {"seed": args.seed, "nodes": nodes, "requests": keys,
                  "strategies": [s.label for s in specs],
                  "traces": [t.describe() for t in traces], "elapsed_s": round(elapsed, 2)}
        path = write_json(args.json, make_report("run", results, config))
        _say(args, f"wrote {path} ({len(results)} results, {elapsed:.1f} s)")
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
    from .harness.registry import registry
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
    from .harness.registry import registry
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
    from .harness.registry import parse_spec, registry

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
    batches: Any = [[k.encode() for k in args.keys]] if args.keys else _stdin_batches()
    try:
        for batch in batches:
            idx = s.lookup_many(s.digest(batch)).tolist()
            out.write(b"".join(k + b"\t" + names[i] + b"\n" for k, i in zip(batch, idx)))
        out.flush()
    except BrokenPipeError:  # `routebench lookup ... | head` is fine
        sys.stderr.close()
    return 0


# -- the parser ------------------------------------------------------------
EPILOG = """\
examples:
  routebench run                                  the default comparison (every keyed
                                                  strategy, N=10 and 100, three traces)
  routebench run --strategy ring:vnodes=200 --strategy jump --nodes 5,50 --trace zipf:s=1.2
  routebench list                                 strategies, parameters, traces
  echo user:42 | routebench lookup --strategy maglev --nodes a,b,c
"""


def build_parser() -> argparse.ArgumentParser:
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
    r.add_argument("--trace", action="append", metavar="NAME[:param=value,...]",
                   help="a synthetic trace, e.g. zipf:s=1.2 or nat:groups=50,users=2000; "
                        "repeat for more (default: uniform, zipf, nat)")
    r.add_argument("--keys", default=str(DEFAULT_KEYS), metavar="K",
                   help="requests a trace (default: 200k; 1M and 1e6 work)")
    r.add_argument("--seed", type=int, default=0, help="random seed for traces and leaves "
                   "(default: 0); the same seed gives the same quality metrics")
    r.add_argument("--format", default="github", choices=_formats(), metavar="FMT",
                   help=f"table format: {choices(_formats())} (default: github)")
    r.add_argument("--json", default=DEFAULT_JSON, metavar="PATH",
                   help=f"write the JSON report here (default: {DEFAULT_JSON})")
    r.add_argument("--no-json", dest="json", action="store_const", const=None,
                   help="do not write a JSON report")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    r.set_defaults(func=cmd_run)

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
    return p


def _formats() -> tuple[str, ...]:
    from .reports.table import FORMATS

    return FORMATS


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any,
                      **__: Any) -> str:
    return f"routebench: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning  # e.g. a broken plugin: one line, no source
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RoutebenchError as exc:
        print(f"routebench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"routebench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
