"""``routebench lookup``: the node of each key, ``key<TAB>node`` a line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any

from .._errors import RoutebenchError, choices
from ..hashing import HASH_NAMES
from ._common import refuse_with, wrap

LOOKUP_EPILOG = """\
examples:
  printf 'user:1\\nuser:2\\n' | routebench lookup --strategy ring --nodes cache-a,cache-b,cache-c
  routebench lookup --strategy maglev --nodes a=2,b,c user:42

Your own load balancer (--lb-config FILE[:NAME]): give what the configuration
hashes, and get the server as the configuration names it (HAProxy: the server
name; nginx: the address as written), or "(round robin)" where the product would
not hash the request (an empty header, a missing URL parameter):
  routebench lookup --lb-config haproxy.cfg:app '/users/42?tab=1'
      balance uri: the request URI (HAProxy stops at the '?', unless `whole`)
  routebench lookup --lb-config nginx.conf:cache '/users/42?tab=1'
      hash $request_uri: the request URI, query string kept
  routebench lookup --lb-config haproxy.cfg:users alice
      balance hdr(X-User): the header's value
  routebench lookup --lb-config nginx.conf:clients 192.0.2.7
      ip_hash / balance source: the client address
  cut -d' ' -f1 access.log | routebench lookup --lb-config nginx.conf:clients
  routebench lookup --lb-config haproxy.cfg:app --show-key '/a?x=1' '/a?x=2'
      also print the bytes the product hashes
"""


def add_parser(sub: Any, light: bool = False) -> None:
    lk = sub.add_parser(
        "lookup", help="print the node of each key (key<TAB>node a line)",
        description=wrap("Route keys through one keyed strategy and print key<TAB>node a line. "
                    "Keys come from the command line or, with none given, from standard "
                    "input, one a line (streamed: a million keys take a few seconds). With "
                    "--lb-config, route request values through an nginx upstream or HAProxy "
                    "backend exactly as the product does."),
        epilog=LOOKUP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lk.add_argument("--strategy", metavar="NAME[:param=value,...]",
                    help="a keyed strategy, e.g. jump or ring:vnodes=200 (required unless "
                         "--lb-config)")
    lk.add_argument("--nodes", metavar="A,B,C",
                    help="node names in order (name=weight gives a weight, e.g. a=2,b,c; "
                         "required unless --lb-config)")
    lk.add_argument("--hash", metavar="H", choices=HASH_NAMES,
                    help=f"key hash: {choices(HASH_NAMES)} (default: xxh3)")
    lk.add_argument("--lb-config", metavar="FILE[:NAME]",
                    help="an nginx upstream or HAProxy backend (e.g. haproxy.cfg:app): keys "
                         "are what it hashes (request URI, header value, URL, client "
                         "address), servers are named as it names them")
    lk.add_argument("--show-key", action="store_true",
                    help="with --lb-config: print value<TAB>hashed key<TAB>server, the key "
                         "as the product hashes it (\\xNN for bytes that are not printable)")
    lk.add_argument("keys", nargs="*", metavar="KEY", help="keys to route (default: stdin)")
    lk.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.lb_config is not None:
        return _run_lb_config(args)
    missing = [f for f, v in (("--strategy", args.strategy), ("--nodes", args.nodes)) if not v]
    if missing:
        raise RoutebenchError(f"give {' and '.join(missing)} (e.g. --strategy ring --nodes "
                              "a,b,c), or --lb-config FILE[:NAME] to route as your nginx or "
                              "HAProxy configuration does")
    if args.show_key:
        raise RoutebenchError("--show-key prints the key an --lb-config configuration hashes; "
                              "give --lb-config FILE[:NAME]")
    from .._params import parse_spec
    from ..registry import registry

    name, params = parse_spec(args.strategy)
    if args.hash is not None:
        if "hash" in params:
            raise RoutebenchError(
                f"the key hash is given twice: --strategy {args.strategy!r} and --hash "
                f"{args.hash}; give it once")
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


ROUND_ROBIN = b"(round robin)"


def _shown(key: bytes | None) -> bytes:
    """A hashed key for people: printable ASCII as it is, other bytes as \\xNN."""
    if key is None:
        return b"-"
    return "".join(chr(c) if 0x20 < c < 0x7F and c != 0x5C else f"\\x{c:02x}"
                   for c in key).encode()


def _run_lb_config(args: argparse.Namespace) -> int:
    """``lookup --lb-config``: value<TAB>server as the configuration names it."""
    refuse_with("--lb-config", (("--strategy", args.strategy), ("--nodes", args.nodes),
                                ("--hash", args.hash)),
                "the configuration gives the strategy, its servers and its hash")
    from ..lbconfig import read_lb_spec

    cfg = read_lb_spec(args.lb_config)
    cfg.strategy  # noqa: B018 - a configuration routebench cannot build is refused now
    out = sys.stdout.buffer
    batches: Any = [[os.fsencode(k) for k in args.keys]] if args.keys else _stdin_batches()
    try:
        for batch in batches:
            servers = cfg.route(batch)
            shown = [ROUND_ROBIN if s is None else s.encode() for s in servers]
            if args.show_key:
                keys = [_shown(cfg.key(v)) for v in batch]
                out.write(b"".join(v + b"\t" + k + b"\t" + s + b"\n"
                                   for v, k, s in zip(batch, keys, shown)))
            else:
                out.write(b"".join(v + b"\t" + s + b"\n" for v, s in zip(batch, shown)))
        out.flush()
    except BrokenPipeError:
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
    """Keys from standard input, one a line; empty lines are skipped (and counted on
    stderr at the end): an empty key is almost always a stray blank line."""
    batch: list[bytes] = []
    empty = 0
    for line in sys.stdin.buffer:
        key = line.rstrip(b"\r\n") if line.endswith(b"\n") else line
        if not key:
            empty += 1
            continue
        batch.append(key)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
    if empty:
        print(f"routebench lookup: note: {empty:,} empty line{'s' if empty > 1 else ''} "
              "skipped (no key to route)", file=sys.stderr)
