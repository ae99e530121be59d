"""``routebench list``: strategies, their parameters, traces, presets and formats."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .._errors import RoutebenchError, choices
from ..hashing import HASH_NAMES
from ._common import add_format


def add_parser(sub: Any, light: bool = False) -> None:
    ls = sub.add_parser("list", help="show strategies, their parameters, traces and hashes",
                        description="Show every registered strategy (built-in and plugin) with "
                                    "its kind, parameters and defaults, and the traces, hash "
                                    "functions and output formats there are.")
    ls.add_argument("name", nargs="?", metavar="NAME",
                    help="one strategy or trace: its parameters, defaults and meaning")
    ls.add_argument("--kind", choices=("keyed", "balancer"), help="only strategies of this kind")
    add_format(ls, "simple")
    ls.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry import registry

    if args.name:
        return _describe(args.name, args.format)
    kinds = [args.kind] if args.kind else ["keyed", "balancer"]
    for kind in kinds:
        _strategies(kind, args.format, quiet_if_none=kind == "balancer" and not args.kind)
    if not args.kind:
        _everything_else(args.format)
    if registry.broken:
        print()
        print("broken plugins (skipped):")
        for b in registry.broken:
            print(f"  {b}")
    return 0


def _strategies(kind: str, fmt: str, quiet_if_none: bool) -> None:
    from ..registry import registry
    from ..reports import format_table

    classes = registry.classes(kind)
    if not classes and quiet_if_none:
        return
    rows = [[c.name, _param_text(c.params), c.summary, registry.origin(c.name)] for c in classes]
    print(f"{kind} strategies:")
    print(format_table(["name", "parameters (defaults)", "description", "from"], rows, fmt))
    print()


def _everything_else(fmt: str) -> None:
    """Traces, presets, trace file formats, hashes and output formats."""
    from ..datasets import SYNTHETIC
    from ..datasets.readers import FORMATS as TRACE_FORMATS
    from ..harness.sim.scenarios import PRESETS
    from ..reports import FORMATS, format_table

    rows = [[t.name, _param_text(t.params), t.summary] for t in SYNTHETIC.values()]
    print("synthetic traces (--trace NAME[:param=value,...]):")
    print(format_table(["name", "parameters (defaults)", "description"], rows, fmt))
    print()
    rows = [[p.name, p.summary, ", ".join(p.balancers)] for p in PRESETS.values()]
    print("scenario presets (routebench simulate --scenario NAME):")
    print(format_table(["name", "description", "balancers compared"], rows, fmt))
    print()
    print(f"trace files (--trace FILE): {choices(TRACE_FORMATS)}; gzip, bz2, xz, zstd "
          "(see routebench trace formats)")
    print(f"hash functions (hash=): {choices(HASH_NAMES)}")
    print(f"output formats (--format): {choices(FORMATS)}")


def _param_text(params: Sequence[Any]) -> str:
    return ", ".join(f"{p.name}={p.default}" for p in params) or "-"


def _accepted(p: Any) -> str:
    if p.choices is not None:
        return choices(p.choices)
    if p.minimum is not None:
        return f"{p.type.__name__} >= {p.minimum:g}"
    return str(p.type.__name__)


def _describe(name: str, fmt: str) -> int:
    """One strategy or trace in full: each parameter's meaning and accepted values."""
    from ..datasets import SYNTHETIC
    from ..registry import registry
    from ..reports import format_table

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
