"""``routebench claims``: measure the seed claims and write reports/claims.md."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .._errors import RoutebenchError, choices
from ._common import add_quiet, say


def add_parser(sub: Any, light: bool = False) -> None:
    c = sub.add_parser(
        "claims", help="measure the eight seed claims and write reports/claims.md",
        description="Run one experiment for each of the seed claims (sticky imbalance, crash "
                    "losses, IP changes, NAT, ring remap, virtual nodes, rendezvous vs ring, "
                    "power of two choices) and write the claim, scenario, numbers, verdict, "
                    "seed and reproducing command of each to a Markdown report.")
    c.add_argument("--size", choices=("small", "full"), default="full",
                   help="full: the committed report's sizes (a few minutes); small: CI-sized")
    c.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    c.add_argument("--only", metavar="N,...", help="only these claims, e.g. 1,3")
    c.add_argument("--output", default="reports/claims.md", metavar="PATH",
                   help="Markdown report (default: reports/claims.md)")
    c.add_argument("--json", metavar="PATH", help="also write the numbers as a JSON report")
    c.add_argument("--live", action="store_true",
                   help="claims 1-4 and 8 also on real software (HAProxy, backend processes, "
                        "Redis; routebench live, small runs): a live column; without the "
                        "software the column says which package is missing")
    add_quiet(c, "no progress on stderr")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..harness.experiments.claims import CLAIMS, run_claims
    from ..records import make_report
    from ..reports import write_json
    from ..reports.claims_md import write_claims

    only = _only(args.only, CLAIMS)
    if args.seed < 0:
        raise RoutebenchError(f"--seed {args.seed}: expected a whole number >= 0")
    say(args, f"routebench claims: {len(only or CLAIMS)} claim(s), size {args.size}, "
              f"seed {args.seed}")
    t0 = time.perf_counter()
    results = run_claims(only, size=args.size, seed=args.seed,
                         say=None if args.quiet else lambda m: say(args, m), live=args.live)
    elapsed = time.perf_counter() - t0
    path = write_claims(args.output, results, size=args.size, seed=args.seed, elapsed=elapsed)
    for r in results:
        print(f"{r.number}. {r.verdict}: {r.claim}")
    say(args, f"wrote {path} ({elapsed:.0f} s)")
    if args.json:
        records = [r.record() for r in results]
        write_json(args.json, make_report("claims", records,
                                          {"size": args.size, "seed": args.seed,
                                           "live": args.live}))
    return 0


def _only(text: str | None, claims: Any) -> list[int] | None:
    """``--only 1,3`` -> [1, 3] (None: every claim)."""
    if not text:
        return None
    try:
        only = sorted({int(p) for p in text.split(",") if p.strip()})
    except ValueError:
        raise RoutebenchError(f"--only {text!r}: expected claim numbers such as 1,3") from None
    bad = [n for n in only if n not in claims]
    if bad or not only:
        raise RoutebenchError(f"--only {text!r}: no claim {bad[0] if bad else ''}; "
                              f"claims: {choices(claims)}")
    return only
