"""``routebench simulate``: live traffic through balancers, in a discrete-event simulation."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
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

Your own load balancer (--lb-config FILE[:NAME]): the backends are the serving
servers of an nginx upstream or HAProxy backend, named as it names them (HAProxy:
server names; nginx: addresses; backend-0, backend-1, ... still work), and
ip-hash-sticky and key-hash route through its own hashing: its servers, weights,
hash and key. A backend that crashes or drains is what the product does with a
failed server (nginx keeps its weight in the total and rehashes past it, HAProxy
takes it out of the tree or map and keeps every id); one that joins is a new
server line at the end. Weights shape the hashing only: every backend has
--workers workers. ip-hash-sticky:keyed=NAME or key-hash:keyed=NAME still run
that strategy over the same servers, for comparison. Without --balancer: the
balancer that routes what the configuration hashes (ip-hash-sticky for balance
source / ip_hash, key-hash:on=user for a header or cookie, key-hash:on=key for
a URI or URL parameter) and the preset's free-routing balancers.
  routebench simulate --lb-config haproxy.cfg:app --crash s2@30s --duration 60
  routebench simulate --lb-config nginx.conf:clients --scenario nat \\
      --balancer ip-hash-sticky --balancer ip-hash-sticky:keyed=maglev --balancer p2c
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
    g.add_argument("--lb-config", metavar="FILE[:NAME]",
                   help="an nginx upstream or HAProxy backend: its serving servers are the "
                        "backends, and ip-hash-sticky / key-hash route as it does (instead "
                        "of --backends)")
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
    g.add_argument("--cache", metavar="POLICY:size=S",
                   help="a cache on every backend: LRU, FIFO or a libCacheSim policy "
                        "(S3FIFO, ARC, ...; an unknown name lists them), size in objects or a "
                        "share of the content keys, e.g. LRU:size=1%%; a crash empties it, a "
                        "recover or join starts cold (hit ratio, miss balance, and per window "
                        "the dip and recovery around each event reported)")
    g.add_argument("--cache-total", action="store_true",
                   help="the --cache size is the total of all backends' caches")
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

    lb = _LbBackends.setup(args) if args.lb_config is not None else None
    fields, balancers = scenario_fields(vars(args), lambda spec: _trace_times(args, spec))
    if args.seed < 0:
        raise RoutebenchError(f"--seed {args.seed}: expected a whole number >= 0")
    if lb is not None:
        balancers = lb.balancers(args.balancer, balancers)
        sc = lb.scenario(Scenario, fields)
    else:
        sc = Scenario(**fields)
    _check_balancers(sc, balancers, lb)
    label = args.scenario or "default"
    stop = (f"{sc.requests:,} requests" if sc.requests else
            f"{sc.duration:g} s" if sc.duration else "every arrival")
    say(args, f"routebench simulate: scenario {label}, {len(balancers)} balancer(s), "
              f"{sc.backends} backends, {stop}, seed {args.seed}")
    if lb is not None:
        for line in lb.describe():
            say(args, line)
    t0 = time.perf_counter()
    results = [_simulate(args, sc, spec, lb).record(label) for spec in balancers]
    elapsed = time.perf_counter() - t0
    if lb is not None:
        results = [lb.rename_record(r) for r in results]
    print(sim_table([r.to_json() for r in results], args.format))
    not_reached = {(e.kind, e.backend, e.time) for e in sc.events} - {
        (e["event"], e["backend"] if lb is None else lb.internal(e["backend"]), e["time"])
        for r in results for e in r.events}
    for kind, backend, t in sorted(not_reached, key=lambda x: x[2]):
        shown = backend if lb is None else lb.shown(backend)
        say(args, f"note: {kind} {shown}@{t:g}s was not reached: the run ended first")
    _note_idle(args, sc, results)
    if args.json:
        flags = scenario_flags(sc, balancers, args.seed)
        if lb is not None:
            flags = lb.flags(flags)
        config = {"scenario": label, "seed": args.seed, "balancers": balancers,
                  "scenario_params": sc.describe() if lb is None else lb.rename(sc.describe()),
                  "reproduce": "routebench simulate " + flags,
                  "elapsed_s": round(elapsed, 2)}
        if lb is not None:
            config["lb_config"] = lb.cfg.label
        path = write_json(args.json, make_report("simulate", results, config))
        say(args, f"wrote {path} ({len(results)} results, {elapsed:.1f} s)")
    return 0


class _LbBackends:
    """``--lb-config``: the configuration's serving servers as the simulated backends
    (``backend-i`` is the i-th), names translated both ways."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.servers = [s.name for s in cfg.serving]
        self.to_backend = {n: f"backend-{i}" for i, n in enumerate(self.servers)}
        self.to_server = {b: n for n, b in self.to_backend.items()}

    @classmethod
    def setup(cls, args: argparse.Namespace) -> _LbBackends:
        """Read the configuration and rewrite the options that name its servers."""
        from ..lbconfig import read_lb_spec

        if args.backends is not None:
            raise RoutebenchError("--lb-config and --backends cannot be combined: the "
                                  "configuration's servers are the backends; drop --backends")
        cfg = read_lb_spec(args.lb_config)
        cfg.strategy  # noqa: B018 - a configuration routebench cannot build is refused now
        lb = cls(cfg)
        if not lb.servers:
            raise RoutebenchError(f"{cfg.label}: no server takes requests")
        args.backends = str(len(lb.servers))
        for kind, _ in _EVENTS:
            given = getattr(args, kind, None)
            if given:
                setattr(args, kind, [lb._event(t) for t in given])
        if args.speed:
            args.speed = [lb._speed(t) for t in args.speed]
        return lb

    def _event(self, text: str) -> str:
        name, at, t = text.rpartition("@")
        return f"{self.to_backend.get(name, name)}@{t}" if at else text

    def _speed(self, text: str) -> str:
        name, eq, v = text.partition("=")
        return f"{self.to_backend.get(name.strip(), name)}={v}" if eq else text

    def internal(self, name: str) -> str:
        return self.to_backend.get(name, name)

    def shown(self, name: str) -> str:
        return self.to_server.get(name, name)

    def rename(self, obj: Any) -> Any:
        """Every ``backend-i`` in strings of a JSON-like object, as its server's name."""
        import re

        if isinstance(obj, str):
            return re.sub(r"\bbackend-\d+\b", lambda m: self.to_server.get(m[0], m[0]), obj)
        if isinstance(obj, dict):
            return {k: self.rename(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.rename(v) for v in obj]
        return obj

    def rename_record(self, rec: Any) -> Any:
        from dataclasses import replace

        return replace(rec, backends=self.rename(rec.backends), events=self.rename(rec.events),
                       nat_groups=self.rename(rec.nat_groups), series=self.rename(rec.series),
                       scenario_params=self.rename(rec.scenario_params))

    def flags(self, flags: str) -> str:
        """``scenario_flags`` for ``--lb-config``: its servers by name, no --backends."""
        import re
        import shlex

        flags = re.sub(r"--backends \d+ ?", "", flags)
        return f"--lb-config {shlex.quote(self.cfg.label)} " + self.rename(flags)

    def balancers(self, given: list[str] | None, chosen: list[str]) -> list[str]:
        """Without --balancer: the configuration's own, then the preset's free routing."""
        from .._params import parse_spec
        from ..lbconfig._sim import CONFIG_BALANCERS, natural_balancer

        if given:
            return chosen
        rest = [b for b in chosen if parse_spec(b)[0] not in CONFIG_BALANCERS]
        return [natural_balancer(self.cfg), *rest]

    def scenario(self, scenario: Any, fields: dict[str, Any]) -> Any:
        try:
            return scenario(**fields)
        except RoutebenchError as exc:  # name the servers, not backend-i
            raise RoutebenchError(self.rename(str(exc))) from None

    def registry(self) -> Any:
        from ..lbconfig._sim import config_registry

        return config_registry(self.cfg, self.to_server)

    def balancer(self, spec: str) -> Any:
        """The balancer object for ``spec`` (routing through the configuration), or the
        spec itself when it runs as it is."""
        from ..lbconfig._sim import config_balancer

        return config_balancer(spec, self.cfg) or spec

    def describe(self) -> list[str]:
        c = self.cfg
        shown = ", ".join(f"{s.name} (weight {s.weight})" for s in c.serving)
        out = [f"{c.product} {c.label}: {c.strategy_name}, {c.key_expr}; backends: {shown}"]
        left = [s for s in c.servers if s not in c.serving]
        if left:
            out.append("not simulated (no hashed requests): " + ", ".join(
                f"{s.name} ({s.state})" for s in left))
        return out


def _trace_times(args: argparse.Namespace, spec: str) -> Any:
    """``--trace``: the trace's request times, with a note of what was read."""
    from ..harness.sim.arrivals import trace_arrivals

    times, trace = trace_arrivals(spec, args.seed, read_kwargs(args))
    if trace.stats is not None:
        say(args, f"{trace.label}: {trace.stats.summary()}; its request times are the arrivals")
    return times


def _check_balancers(sc: Any, balancers: list[str], lb: _LbBackends | None = None) -> None:
    """Every name and parameter, checked before the first run."""
    from ..harness.sim.simulator import make_balancer
    from ..registry import registry

    for spec in balancers:
        try:
            make_balancer(spec if lb is None else lb.balancer(spec), sc.names, registry).policy()
        except RoutebenchError as e:
            raise RoutebenchError(f"--balancer {spec!r}: {e}") from None


def _simulate(args: argparse.Namespace, sc: Any, spec: str, lb: _LbBackends | None = None
              ) -> Any:
    from ..harness.sim.simulator import simulate

    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=sc.requests or (math.ceil(sc.duration) if sc.duration else None),
                   desc=spec, unit=" req" if sc.requests else " sim-s", unit_scale=True,
                   leave=False, file=sys.stderr, disable=None, dynamic_ncols=True)
    try:
        if lb is None:
            return simulate(sc, spec, seed=args.seed, progress=bar)
        return simulate(sc, lb.balancer(spec), seed=args.seed, progress=bar, reg=lb.registry())
    finally:
        if bar is not None:
            bar.close()


#: below this utilisation the backends are so idle that every balancer looks alike
IDLE_UTILIZATION = 0.05


def _note_idle(args: argparse.Namespace, sc: Any, results: Sequence[Any]) -> None:
    """Say so when arrivals from a file or trace cannot load the modelled backends."""
    if sc.arrivals is None:
        return
    util = [r.metrics.get("utilization") for r in results]
    if not util or any(u is None or u >= IDLE_UTILIZATION for u in util):
        return
    print(f"routebench simulate: note: the arrivals given keep the {sc.backends} backends "
          f"{max(util):.1%} busy at most, too idle for balancers to differ; scale the "
          "backends to the traffic with --backends, --workers or --service (a longer "
          "service time)", file=sys.stderr)
