"""``routebench live``: the failure story on real software (HAProxy, backends, Redis)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .._errors import RoutebenchError
from ._common import add_format, add_json, add_quiet, say

DEFAULT_LIVE_JSON = "routebench-live.json"
DEFAULT_LIVE_DIR = "routebench-live"

LIVE_EPILOG = """\
What runs, all on free 127.0.0.1 ports and all stopped on exit, Ctrl-C or error:
  HAProxy       with the configuration of each balancer, written to --out:
                  round-robin        balance roundrobin
                  least-connections  balance leastconn
                  p2c                balance random(2)
                  cookie-sticky      + cookie LB_ROUTE insert indirect nocache
                  ip-hash-sticky     balance source (keyed=ring: hash-type consistent)
                  key-hash           balance uri / hdr(X-Session) / source, consistent
                  bounded-load       the same + hash-balance-factor 125
  backends      routebench's small asyncio HTTP servers, --workers slots each, service
                times drawn like simulate's; session state in their memory (--store local),
                in redis-server (--store redis) or memcached (--store memcached), TTL set on
                every write; a request whose state is missing is answered "session lost"
  clients       sessions as in simulate (lengths, think times, closed loop), each client
                from its own source address in 127.0.0.0/8 with its own cookies; the
                users of a --nat group share one address
  events        --crash kills a backend (SIGKILL); --recover starts it again; --drain and
                --join go through HAProxy's runtime API (stats socket); --store-crash kills
                the session store (SIGKILL), --store-recover starts it again, empty

The table has simulate's columns; "crash: lost of pinned" counts the sessions last
served by the crashed backend that came back, and how many found their state gone.
Times take s, ms, m (30, 30s, 500ms); distributions as in simulate.

examples:
  routebench live                                       crash-failover, local state
  routebench live --store redis                         the same with sessions in Redis
  routebench live --scenario nat                        50 users behind one NAT address
  routebench live --balancer p2c --store memcached --requests 20000 --rate 2000
  routebench live --balancer ip-hash-sticky:keyed=ring --crash backend-2@3s --recover 2@6s
  routebench live --store redis --store-crash 3s --store-recover 6s
  routebench live --store dynamodb --store-rtt 2ms      sessions in dynalite, 2 ms away
  routebench live --lb nginx --balancer p2c             nginx: random two least_conn
  routebench live --lb-config haproxy.cfg:app           your backend section, our servers
"""

_EVENTS = (("crash", "kill a backend with SIGKILL: requests in flight there fail"),
           ("recover", "start a crashed backend again (or undrain one)"),
           ("drain", "HAProxy sends it no new sessions (runtime API: state drain)"),
           ("join", "a new backend joins (JOIN: [NAME@]T): started, then set ready"))


def add_parser(sub: Any, light: bool = False) -> None:
    s = sub.add_parser(
        "live", help="run balancers on real software: HAProxy, backends, Redis/memcached",
        description="Run the failure story on real processes on loopback: HAProxy in front "
                    "of K backend processes that keep session state locally or in Redis or "
                    "memcached, driven by synthetic sessions from many client addresses, with "
                    "backends killed, recovered, drained or joined on the way. Measures what "
                    "routebench simulate reports (requests per backend, latency percentiles, "
                    "failed requests, sessions lost by cause, NAT groups' shares) on the real "
                    "thing, one balancer at a time.",
        epilog=LIVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--scenario", metavar="NAME",
                   help="a preset: crash-failover (default), nat, throughput")
    s.add_argument("--balancer", action="append", metavar="NAME[:param=value,...]",
                   help="a balancer with an HAProxy equivalent (see below); repeat to compare "
                        "(default: the preset's)")
    g = s.add_argument_group("backends")
    g.add_argument("--backends", metavar="N", type=int, help="backend processes (default 4)")
    g.add_argument("--workers", metavar="W", type=int,
                   help="requests a backend serves at once (default 8)")
    g.add_argument("--service", metavar="DIST", help="service time (default exp:mean=0.005)")
    g.add_argument("--store", choices=("local", "redis", "memcached", "dynamodb"),
                   help="where session state lives (default local: the backend's memory)")
    g.add_argument("--ttl", metavar="T", help="state expires T after its last write "
                   "(default 30m)")
    _add_store_options(g)
    g = s.add_argument_group("clients and sessions")
    g.add_argument("--clients", metavar="C", type=int, help="distinct clients (default 1000)")
    g.add_argument("--nat", metavar="SIZES",
                   help="NAT groups: users sharing one source address, e.g. 50 or 50,20")
    g.add_argument("--rate", metavar="R", type=float,
                   help="target requests a second (sessions arrive at R / mean length; "
                        "default 1000)")
    g.add_argument("--session-length", metavar="DIST",
                   help="requests a session (default lognormal:mean=10,sigma=1)")
    g.add_argument("--think", metavar="DIST",
                   help="think time between a response and the next request "
                        "(default exp:mean=0.1)")
    g.add_argument("--trace", metavar="FILE",
                   help="replay a recorded trace (access log, CSV, JSON lines with time and "
                        "client columns) instead of synthetic sessions: each request at its "
                        "time, each trace client from its own 127.x address, a session's "
                        "requests in order with its user's cookies")
    g = s.add_argument_group("run and events")
    g.add_argument("--requests", metavar="N", help="requests a balancer (default 10000)")
    g.add_argument("--duration", metavar="T", help="at most T a balancer (default 50s)")
    for kind, text in _EVENTS:
        g.add_argument(f"--{kind}", action="append", metavar="BACKEND@T",
                       help=f"{text}; repeatable")
    g.add_argument("--store-crash", metavar="T",
                   help="kill the session store (redis-server, memcached, dynalite) with "
                        "SIGKILL at T: the backends' store calls fail, requests fail (503) "
                        "and sessions with state are lost (cause store)")
    g.add_argument("--store-recover", metavar="T",
                   help="start the killed store again at T, empty: sessions find their "
                        "state gone")
    g = s.add_argument_group("balancer")
    g.add_argument("--port", type=int, metavar="PORT",
                   help="HAProxy's port on 127.0.0.1 (default: a free one)")
    g.add_argument("--haproxy-line", action="append", metavar="LINE", default=[],
                   help="a line appended to HAProxy's backend section (repeatable)")
    _add_lb_options(g)
    _add_sim_options(s)
    o = s.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", default=DEFAULT_LIVE_DIR,
                   help=f"where the HAProxy configurations go (default {DEFAULT_LIVE_DIR}/)")
    o.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_format(o)
    add_json(o, DEFAULT_LIVE_JSON)
    add_quiet(o)
    s.set_defaults(func=run)


# -- the balancer software: --lb, --lb-config ----------------------------------------------
def _add_lb_options(g: Any) -> None:
    g.add_argument("--lb", choices=("haproxy", "nginx"),
                   help="the balancer software (default haproxy); nginx takes round-robin, "
                        "least-connections, random, p2c, ip-hash-sticky, key-hash; its drain, "
                        "join and recover are configuration reloads")
    g.add_argument("--lb-config", metavar="FILE[:NAME]",
                   help="run your own HAProxy backend section or nginx upstream (the file's "
                        "kind picks the balancer) with its servers rewritten to the backends; "
                        "the configuration run is written to --out")


def _lb_fields(args: argparse.Namespace, f: dict[str, Any]) -> None:
    """--lb-config: as many backends as its servers, unless --backends says otherwise."""
    if args.lb_config is None:
        return
    from ._common import refuse_with

    refuse_with("--lb-config", [("--balancer", args.balancer), ("--lb", args.lb)],
                "the configuration is the balancer")
    from ..harness.live.runner import balancer_lines

    _, _, user = balancer_lines("", lb_config=args.lb_config)
    if args.backends is None:
        f["backends"] = len(user.server_names)


# -- session store options (dynamodb endpoint and table, a store round trip) -----------------
def _add_store_options(g: Any) -> None:
    g.add_argument("--store-endpoint", metavar="URL",
                   help="--store dynamodb: a real DynamoDB endpoint (credentials from boto3's "
                        "chain; the table must exist); default: a local dynalite")
    g.add_argument("--store-table", metavar="NAME",
                   help="--store dynamodb: the table (hash key id, type S; default "
                        "routebench-sessions)")
    g.add_argument("--store-client", choices=("http", "boto3"),
                   help="--store dynamodb: how the backends call it: signed HTTP requests in "
                        "their event loop (default) or boto3 in threads (~5x the CPU a call)")
    g.add_argument("--store-rtt", metavar="T",
                   help="wait T before every store call: the network round trip a loopback "
                        "store does not have (e.g. 2ms)")


def _store_fields(args: argparse.Namespace, f: dict[str, Any]) -> None:
    from .._units import parse_duration

    if args.store_endpoint is not None:
        f["store_endpoint"] = args.store_endpoint
    if args.store_table is not None:
        f["store_table"] = args.store_table
    if args.store_client is not None:
        f["store_client"] = args.store_client
    if args.store_rtt is not None:
        f["store_rtt"] = parse_duration(args.store_rtt, "--store-rtt", allow_zero=True)
    for k in ("store_crash", "store_recover"):
        if getattr(args, k, None) is not None:
            f[k] = parse_duration(getattr(args, k), "--" + k.replace("_", "-"),
                                  allow_zero=True)
# -- the simulator side by side, IP changes (one block) ------------------------------------
def _add_sim_options(s: Any) -> None:
    g = s.add_argument_group("the simulator, side by side")
    g.add_argument("--compare-sim", action="store_true",
                   help="also run the same scenario through the simulator (routebench "
                        "simulate: same backends, workers, service times, sessions, think "
                        "times, events, NAT groups) and print both with their difference")
    g.add_argument("--ip-change-rate", metavar="R",
                   help="a session's address changes R times a session-second (simulate's "
                        "meaning): it reconnects from a new address of its own, keeping its "
                        "cookies (default 0)")


def _sim_fields(args: argparse.Namespace, f: dict[str, Any]) -> None:
    from .._units import check_positive

    if getattr(args, "ip_change_rate", None) is not None:
        f["ip_change_rate"] = check_positive(args.ip_change_rate, "--ip-change-rate",
                                             allow_zero=True)


def _compare_sim(args: argparse.Namespace, sc: Any, spec: str, rec: Any) -> dict[str, Any]:
    """The simulator's run of what ``rec`` ran; printed beside it; what the JSON keeps."""
    from ..harness.live._compare import compare_rows, compare_table, simulate_like

    res = simulate_like(sc, spec, seed=args.seed)
    sim = res.record(rec.scenario).to_json()
    rows = compare_rows(rec.to_json(), sim)
    print(compare_table(rec.label, rows, args.format))
    print()
    return {"balancer": rec.label, "sim": sim, "rows": rows}


def scenario_from_args(args: argparse.Namespace) -> tuple[Any, list[str], str]:
    """The ``LiveScenario``, the balancers and the preset's name the options ask for."""
    from .._errors import choices
    from .._units import parse_count, parse_duration
    from ..harness.live.runner import LIVE_PRESETS, LiveScenario
    from ..harness.sim._simdist import Event, parse_event

    name = args.scenario or "crash-failover"
    if name not in LIVE_PRESETS:
        raise RoutebenchError(f"unknown scenario {name!r}; available: {choices(LIVE_PRESETS)}")
    preset = LIVE_PRESETS[name]
    f: dict[str, Any] = dict(preset.fields)
    for k in ("backends", "workers", "service", "store", "clients", "rate", "session_length",
              "think"):
        v = getattr(args, k)
        if v is not None:
            f[k] = v
    if args.ttl is not None:
        f["ttl"] = parse_duration(args.ttl, "--ttl")
    _store_fields(args, f)
    _lb_fields(args, f)
    if args.nat is not None:
        from ..datasets.synthetic import parse_sizes

        f["nat"] = () if args.nat.strip() == "none" else parse_sizes(args.nat, "--nat")
    if args.requests is not None:
        f["requests"] = parse_count(args.requests, "--requests", 0) or None
    if args.duration is not None:
        f["duration"] = parse_duration(args.duration, "--duration")
        if args.requests is None:
            f["requests"] = None
    given = [(k, t) for k, _ in _EVENTS for t in (getattr(args, k) or ())]
    if given:
        events, n = [], int(f.get("backends", 4))
        for kind, text in given:
            b, at = parse_event(kind, text)
            if b is None:
                b, n = f"backend-{n}", n + 1
            elif b.isdigit():
                b = f"backend-{b}"
            events.append(Event(kind, b, at))
        f["events"] = tuple(events)
    _sim_fields(args, f)
    if args.trace is not None:
        from ._common import refuse_with

        refuse_with("--trace", [(f"--{k.replace('_', '-')}", getattr(args, k, None)) for k in
                                ("clients", "nat", "rate", "session_length", "think",
                                 "ip_change_rate", "compare_sim")],
                    "the trace gives the clients, sessions and times")
        f["trace"] = args.trace
        for k in ("nat", "ip_change_rate"):
            f.pop(k, None)
    return LiveScenario(**f), list(args.balancer or preset.balancers), name


def run(args: argparse.Namespace) -> int:
    from ..harness.live.runner import balancer_lines, check_binaries, run_live
    from ..records import make_report
    from ..reports import sim_table, write_json

    if args.seed < 0:
        raise RoutebenchError(f"--seed {args.seed}: expected a whole number >= 0")
    sc, balancers, label = scenario_from_args(args)
    lb = args.lb or "haproxy"
    if args.lb_config is not None:
        balancers = [args.lb_config]
    elif lb == "nginx" and not args.balancer:  # the preset's balancers nginx has
        from ..harness.live._nginx import NGINX_BALANCERS

        balancers = [b for b in balancers if b.split(":")[0] in NGINX_BALANCERS] or \
            ["round-robin"]
    for spec in balancers:  # every balancer checked before anything starts
        _, lb, _ = balancer_lines(spec, lb, args.lb_config, sc)
    if args.haproxy_line and lb != "haproxy":
        raise RoutebenchError("--haproxy-line is for HAProxy; the balancer here is nginx")
    check_binaries(sc.store, sc.store_endpoint, lb)
    stop = (f"{sc.requests:,} requests" if sc.requests else f"{sc.duration:g} s")
    say(args, f"routebench live: scenario {label}, {len(balancers)} balancer(s), "
              f"{sc.backends} backends, store {sc.store}, {stop} a balancer at "
              f"{sc.rate:g} req/s, seed {args.seed}")
    t0 = time.perf_counter()
    results = []
    compared: list[dict[str, Any]] = []
    for spec in balancers:
        bar = _bar(args, spec, sc.requests)
        try:
            rec = run_live(sc, spec, seed=args.seed, out_dir=args.out, port=args.port,
                           extra=args.haproxy_line, scenario_label=label, lb=lb,
                           lb_config=args.lb_config,
                           progress=bar.update if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
        m = rec.metrics
        say(args, f"{rec.label}: {m['requests']:,} requests in {m['wall_s']:.1f} s "
                  f"({m['throughput'] or 0:,.0f}/s) after {m['startup_s']:.1f} s start-up; "
                  f"CPU client {m['cpu_client_pct'] or 0:.0f}%, {lb} "
                  f"{m['cpu_balancer_pct'] or 0:.0f}%, backends {m['cpu_backends_pct'] or 0:.0f}%"
                  f", store {m['cpu_store_pct'] or 0:.0f}%; config {rec.config_file}")
        results.append(rec)
    elapsed = time.perf_counter() - t0
    print(sim_table([r.to_json() for r in results], args.format))
    if getattr(args, "compare_sim", False):
        print()
        for spec, rec in zip(balancers, results):
            compared.append(_compare_sim(args, sc, spec, rec))
    if args.json:
        config = {"scenario": label, "seed": args.seed, "balancers": balancers,
                  "scenario_params": sc.describe(), "out": args.out,
                  "reproduce": "routebench " + " ".join(sys.argv[1:]),
                  "elapsed_s": round(elapsed, 2)}
        if compared:
            config["compare_sim"] = compared
        path = write_json(args.json, make_report("live", results, config))
        say(args, f"wrote {path} ({len(results)} results, {elapsed:.1f} s)")
    return 0


def _bar(args: argparse.Namespace, spec: str, total: int | None) -> Any:
    if args.quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=spec, unit=" req", unit_scale=True, leave=False,
                file=sys.stderr, disable=None, dynamic_ncols=True)
