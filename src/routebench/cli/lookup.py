"""``routebench lookup``: the node of each key, ``key<TAB>node`` a line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any

from .._errors import RoutebenchError, choices
from ..hashing import HASH_NAMES


def add_parser(sub: Any, light: bool = False) -> None:
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
    lk.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._params import parse_spec
    from ..registry import registry

    name, params = parse_spec(args.strategy)
    if args.hash is not None:
        cls = registry.get(name)
        if not any(p.name == "hash" for p in cls.params):
            raise RoutebenchError(
                f"strategy {name!r} has a fixed hash function; --hash is not accepted for it"
            )
        params["hash"] = args.hash
    s = registry.create_keyed(name, node_list(args.nodes), **params)
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


def node_list(text: str) -> list[str] | dict[str, float]:
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


def _stdin_batches(size: int = 1 << 16) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in sys.stdin.buffer:
        batch.append(line.rstrip(b"\r\n") if line.endswith(b"\n") else line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
