"""``routebench simulate``: live traffic through balancers, in a discrete-event simulation."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from .._errors import RoutebenchError
from ._common import add_format, add_json, add_quiet, add_read_options, read_kwargs, say

DEFAULT_SIM_JSON = "routebench-simulate.json"

SIM_EPILOG = """\
Options given override the scenario preset's (event options replace its events;
--duration without --requests runs for that time only). Times take s, ms, m or h
(30, 30s, 500ms, 2m); distributions are fixed:value=V, exp:mean=M,
lognormal:mean=M,sigma=S or pareto:mean=M,alpha=A (a bare number is fixed).

examples:
  routebench simulate                                  the default preset
  routebench simulate --scenario crash-failover --store external
  routebench simulate --balancer p2c --balancer cookie-sticky:base=p2c --backends 50 \\
      --requests 1M --nat 50,500 --ip-change-rate 0.01
  routebench simulate --balancer ip-hash-sticky:keyed=ring --crash backend-3@30s \\
      --join 45s --duration 60
"""

_EVENTS = (("crash", "a backend crashes: in-flight requests fail"),
           ("recover", "a crashed backend comes back (or a draining one undrains)"),
           ("join", "a new backend joins (JOIN: [NAME@]T)"),
           ("drain", "a backend takes no new sessions; cookies still reach it"))


def add_parser(sub: Any, light: bool = False) -> None:
    s = sub.add_parser(
        "simulate", help="simulate live traffic through balancers (affinity, failover, load)",
        description="Discrete-event simulation of clients, sessions and backends behind a load "
                    "balancer. Reports per balancer: load imbalance (max/mean of outstanding "
                    "requests and of requests served per window, time-averaged and worst), "
                    "response time p50/p99/p99.9, failed requests, sessions that lose their "
                    "state (on a crash, a re-route, an IP change, a TTL), IP-change survival "
                    "and where NAT users land.",
        epilog=SIM_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--scenario", metavar="NAME",
                   help="a preset (see routebench list); default: default")
    s.add_argument("--balancer", action="append", metavar="NAME[:param=value,...]",
                   help="a balancer, e.g. p2c:d=3 or ip-hash-sticky:keyed=ring; repeat to "
                        "compare (default: the preset's)")
    _add_backends(s.add_argument_group("backends"))
    _add_sessions(s.add_argument_group("clients and sessions"))
    _add_state(s.add_argument_group("session state"))
    _add_run(s.add_argument_group("run and events"))
    o = s.add_argument_group("output")
    o.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_format(o)
    add_json(o, DEFAULT_SIM_JSON)
    add_quiet(o)
    add_read_options(s, route=False, sessions=False, light=light)
    s.set_defaults(func=run)


def _add_backends(g: Any) -> None:
    g.add_argument("--backends", metavar="N", help="initial backends, backend-0 ... (default 10)")
    g.add_argument("--workers", metavar="W", help="workers a backend (default 4)")
    g.add_argument("--service", metavar="DIST",
                   help="service time in seconds: a distribution or file:PATH of times "
                        "(default exp:mean=0.01)")
    g.add_argument("--speed", action="append", metavar="BACKEND=FACTOR",
                   help="a backend's speed, e.g. backend-0=0.25 (four times slower); repeatable")
    g.add_argument("--queue-limit", metavar="N", help="queue length a backend; more fail "
                   "(default 0: unlimited)")


def _add_sessions(g: Any) -> None:
    g.add_argument("--clients", metavar="C", help="distinct clients (default 10000)")
    g.add_argument("--nat", metavar="SIZES", help="NAT groups: clients sharing one address, "
                   "e.g. 50 or 500,200,50; none: no groups (to switch off a preset's)")
    g.add_argument("--load", metavar="RHO", help="target utilisation of all workers, sets the "
                   "session rate (default 0.7)")
    g.add_argument("--session-rate", metavar="R", help="sessions a second (instead of --load)")
    g.add_argument("--trace", metavar="FILE",
                   help="session arrivals at the request times of a recorded trace (an access "
                        "log, CSV or JSON lines with a time column; '-' for stdin), sorted")
    g.add_argument("--arrivals", metavar="poisson|file:PATH",
                   help="session arrival times, seconds, one a line (default poisson)")
    g.add_argument("--session-length", metavar="DIST",
                   help="requests a session (default lognormal:mean=10,sigma=1)")
    g.add_argument("--think", metavar="DIST", help="think time between a response and the "
                   "next request (default exp:mean=1)")
    g.add_argument("--ip-change-rate", metavar="R", help="address changes a session-second "
                   "(default 0)")
    g.add_argument("--keys", metavar="zipf:s=S,universe=U", help="content keys of requests, "
                   "for balancers hashing on=key (default zipf:s=1,universe=100000)")


def _add_state(g: Any) -> None:
    g.add_argument("--store", choices=("local", "external"),
                   help="local: on the backend (lost on crash or re-route); external: a shared "
                        "store (default local)")
    g.add_argument("--store-rtt", metavar="T", help="external store round trip a request "
                   "(default 0.5ms)")
    g.add_argument("--ttl", metavar="T", help="idle time after which state expires "
                   "(default 30m)")


def _add_run(g: Any) -> None:
    g.add_argument("--requests", metavar="N", help="stop issuing after N requests (default "
                   "200k; 1M works; 0 for no limit)")
    g.add_argument("--duration", metavar="T", help="stop issuing at T (simulated time)")
    g.add_argument("--warmup", metavar="T", help="measure from T on (default 0: the run "
                   "starts warm)")
    g.add_argument("--no-warm-start", action="store_true",
                   help="start with no sessions instead of a steady-state population")
    for kind, text in _EVENTS:
        g.add_argument(f"--{kind}", action="append", metavar="BACKEND@T",
                       help=f"{text}; repeatable")
    g.add_argument("--window", metavar="T", help="imbalance window (default: 1/100 of the run)")


def run(args: argparse.Namespace) -> int:
    from ..harness.sim.scenarios import scenario_fields, scenario_flags
    from ..harness.sim.simulator import Scenario
    from ..records import make_report
    from ..reports import sim_table, write_json

    fields, balancers = scenario_fields(vars(args), lambda spec: _trace_times(args, spec))
    if args.seed < 0:
        raise RoutebenchError(f"--seed {args.seed}: expected a whole number >= 0")
    sc = Scenario(**fields)
    _check_balancers(sc, balancers)
    label = args.scenario or "default"
    stop = (f"{sc.requests:,} requests" if sc.requests else
            f"{sc.duration:g} s" if sc.duration else "every arrival")
    say(args, f"routebench simulate: scenario {label}, {len(balancers)} balancer(s), "
              f"{sc.backends} backends, {stop}, seed {args.seed}")
    t0 = time.perf_counter()
    results = [_simulate(args, sc, spec).record(label) for spec in balancers]
    elapsed = time.perf_counter() - t0
    print(sim_table([r.to_json() for r in results], args.format))
    not_reached = {(e.kind, e.backend, e.time) for e in sc.events} - {
        (e["event"], e["backend"], e["time"]) for r in results for e in r.events}
    for kind, backend, t in sorted(not_reached, key=lambda x: x[2]):
        say(args, f"note: {kind} {backend}@{t:g}s was not reached: the run ended first")
    if args.json:
        config = {"scenario": label, "seed": args.seed, "balancers": balancers,
                  "scenario_params": sc.describe(),
                  "reproduce": "routebench simulate " + scenario_flags(sc, balancers, args.seed),
                  "elapsed_s": round(elapsed, 2)}
        path = write_json(args.json, make_report("simulate", results, config))
        say(args, f"wrote {path} ({len(results)} results, {elapsed:.1f} s)")
    return 0


def _trace_times(args: argparse.Namespace, spec: str) -> Any:
    """``--trace``: the trace's request times, with a note of what was read."""
    from ..harness.sim.arrivals import trace_arrivals

    times, trace = trace_arrivals(spec, args.seed, read_kwargs(args))
    if trace.stats is not None:
        say(args, f"{trace.label}: {trace.stats.summary()}; its request times are the arrivals")
    return times


def _check_balancers(sc: Any, balancers: list[str]) -> None:
    """Every name and parameter, checked before the first run."""
    from ..harness.sim.simulator import make_balancer
    from ..registry import registry

    for spec in balancers:
        try:
            make_balancer(spec, sc.names, registry).policy()
        except RoutebenchError as e:
            raise RoutebenchError(f"--balancer {spec!r}: {e}") from None


def _simulate(args: argparse.Namespace, sc: Any, spec: str) -> Any:
    from ..harness.sim.simulator import simulate

    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=sc.requests or (math.ceil(sc.duration) if sc.duration else None),
                   desc=spec, unit=" req" if sc.requests else " sim-s", unit_scale=True,
                   leave=False, file=sys.stderr, disable=None, dynamic_ncols=True)
    try:
        return simulate(sc, spec, seed=args.seed, progress=bar)
    finally:
        if bar is not None:
            bar.close()
