"""The simulator through its public API: determinism, analytic checks, invariants, events."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from sim_strategies import balancers, scenarios

from routebench import RoutebenchError
from routebench.harness.sim import Event, Scenario, simulate
from routebench.registry import Registry
from routebench.strategies import Balancer, Policy


def _strip(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "wall_s"}


# -- determinism -------------------------------------------------------------
@pytest.mark.parametrize("bal", ["p2c", "cookie-sticky", "ip-hash-sticky:keyed=ring",
                                 "bounded-load"])
def test_same_seed_same_result(bal: str) -> None:
    sc = Scenario(backends=5, requests=5000, ip_change_rate=0.1, nat=(20,),
                  events=(Event("crash", "backend-1", 1.0),))
    a, b = simulate(sc, bal, seed=7), simulate(sc, bal, seed=7)
    assert _strip(a.metrics) == _strip(b.metrics)
    assert a.backends == b.backends
    c = simulate(sc, bal, seed=8)
    assert _strip(c.metrics) != _strip(a.metrics)


# -- analytic checks ------------------------------------------------------------
@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm1_mean_response_time(rho: float) -> None:
    """One backend, one worker, Poisson arrivals, exponential service: T = 1 / (mu - lambda)."""
    mean_s = 0.01
    sc = Scenario(backends=1, workers=1, service=f"exp:mean={mean_s}", load=rho,
                  session_length=1, requests=200_000)
    m = simulate(sc, "round-robin", seed=3).metrics
    expected = mean_s / (1 - rho)
    assert m["latency_mean"] == pytest.approx(expected, rel=0.04)
    # the response time of M/M/1 is exponential: quantiles from the log histogram
    assert m["latency_p50"] == pytest.approx(expected * math.log(2), rel=0.05)
    assert m["latency_p99"] == pytest.approx(expected * math.log(100), rel=0.08)
    assert m["utilization"] == pytest.approx(rho, rel=0.03)
    assert m["failed"] == 0


def _balls_into_bins(bal: str, n: int, seed: int) -> int:
    """n one-request sessions into n backends that never finish: the fullest bin."""
    sc = Scenario(backends=n, workers=1, service="fixed:value=1e9", session_rate=1.0,
                  session_length=1, requests=n, clients=n, warm_start=False)
    return simulate(sc, bal, seed=seed).metrics["outstanding_peak"]


def test_balls_into_bins_random_vs_two_choices() -> None:
    n, seeds = 2000, range(8)
    rand = [_balls_into_bins("random", n, s) for s in seeds]
    two = [_balls_into_bins("p2c", n, s) for s in seeds]
    # reference: the same experiment straight from numpy
    rng = np.random.default_rng(0)
    ref = [np.bincount(rng.integers(0, n, n)).max() for _ in range(200)]
    assert abs(np.mean(rand) - np.mean(ref)) <= 1.0
    # two choices: ln ln n / ln 2 + O(1) ~ 3, against ln n / ln ln n ~ 6 for one
    assert max(two) <= math.log(math.log(n)) / math.log(2) + 1.5
    assert min(rand) > max(two)


# -- invariants over random scenarios --------------------------------------------
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenarios(), bal=balancers)
def test_invariants(sc: Scenario, bal: str) -> None:
    assume(not (bal.endswith("d=3") and sc.backends < 3))  # d above the backends is refused
    r = simulate(sc, bal, seed=1)
    m = r.metrics
    assert m["requests"] == m["completed"] + m["failed"]
    assert m["requests"] <= sc.requests
    assert sum(b["served"] for b in r.backends) == m["completed"]
    assert sum(b["failed"] for b in r.backends) <= m["failed"]
    assert 0 <= m["sessions_lost"] <= m["sessions"]
    assert m["sessions_lost"] == sum(m[f"lost_{c}"] for c in ("crash", "reroute",
                                                              "ip_change", "ttl"))
    assert m["crash_lost"] <= m["crash_pinned"]
    if sc.store == "external":
        assert m["lost_crash"] == m["lost_reroute"] == m["lost_ip_change"] == 0
    if not any(e.kind == "crash" for e in sc.events):
        assert m["crash_pinned"] == 0
    if sc.ip_change_rate == 0:
        assert m["ip_change_sessions"] == 0 and m["lost_ip_change"] == 0
    for k in ("outstanding_imbalance_avg", "outstanding_imbalance_worst",
              "served_imbalance_avg", "served_imbalance_total"):
        assert m[k] is None or m[k] >= 1.0 - 1e-9
    if m["latency_p50"] is not None:
        assert 0 < m["latency_p50"] <= m["latency_p99"] <= m["latency_p999"] <= m["latency_max"]
    s = m["ip_change_survival"]
    assert s is None or 0.0 <= s <= 1.0
    for g, size in zip(r.nat_groups, sc.nat):
        assert g["size"] == size and g["backends_used"] <= len(r.backends)
    for b in r.backends:
        assert b["utilization"] is None or -1e-9 <= b["utilization"] <= 1.0 + 1e-9


# -- memory --------------------------------------------------------------------
def test_memory_does_not_grow_with_requests() -> None:
    def peak(n: int) -> int:
        sc = Scenario(backends=20, requests=n)
        simulate(sc, "p2c", seed=0)  # warm caches (numba, scipy)
        tracemalloc.start()
        simulate(sc, "p2c", seed=0)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    small, big = peak(20_000), peak(320_000)
    assert big < 1.5 * small + (1 << 20), (small, big)


# -- topology events and session state ---------------------------------------------
def _crash_scenario(store: str) -> Scenario:
    return Scenario(backends=6, requests=None, duration=20.0, store=store,
                    events=(Event("crash", "backend-2", 10.0),))


def test_crash_local_loses_every_pinned_session_external_none() -> None:
    loc = simulate(_crash_scenario("local"), "cookie-sticky", seed=2)
    ext = simulate(_crash_scenario("external"), "cookie-sticky", seed=2)
    assert loc.metrics["crash_pinned"] > 50
    assert loc.metrics["crash_lost_pct"] == 100.0
    assert loc.metrics["repins"] > 0
    assert ext.metrics["crash_pinned"] > 50 and ext.metrics["crash_lost"] == 0
    assert ext.metrics["sessions_lost"] == 0
    # the crashed backend serves nothing after t=10 of 20: about half its share
    served = [b["served"] for b in loc.backends]
    assert served[2] < 0.7 * np.mean(served[:2] + served[3:])
    assert loc.events == [{"event": "crash", "backend": "backend-2", "time": 10.0,
                           "applied": True}]


def test_modulo_ip_hash_reroutes_survivors_on_crash_ring_does_not() -> None:
    sc = _crash_scenario("local")
    mod = simulate(sc, "ip-hash-sticky", seed=2).metrics
    ring = simulate(sc, "ip-hash-sticky:keyed=ring", seed=2).metrics
    assert mod["lost_reroute"] > 10 * max(ring["lost_reroute"], 1)


def test_recover_and_join_take_traffic() -> None:
    sc = Scenario(backends=4, requests=None, duration=20.0, events=(
        Event("crash", "backend-0", 5.0), Event("recover", "backend-0", 10.0),
        Event("join", "backend-4", 10.0)))
    r = simulate(sc, "round-robin", seed=0)
    served = [b["served"] for b in r.backends]
    assert len(served) == 5 and not r.backends[4]["initial"]
    assert 0 < served[4] < served[1]  # joined half-way
    assert 0 < served[0] < served[1]  # down a quarter of the time


def test_drain_keeps_cookie_sessions_but_moves_hashed_ones() -> None:
    sc = Scenario(backends=5, requests=None, duration=20.0,
                  events=(Event("drain", "backend-1", 5.0),))
    cookie = simulate(sc, "cookie-sticky", seed=0)
    ring = simulate(sc, "ip-hash-sticky:keyed=ring", seed=0)
    assert cookie.metrics["sessions_lost"] == 0
    assert ring.metrics["lost_reroute"] > 0
    # the drained backend still serves its cookie sessions for a while, nothing new by hash
    assert cookie.backends[1]["served"] > ring.backends[1]["served"]


def test_ip_change_survival_cookie_vs_ip_hash() -> None:
    sc = Scenario(backends=10, requests=30_000, ip_change_rate=0.1)
    cookie = simulate(sc, "cookie-sticky", seed=0).metrics
    iph = simulate(sc, "ip-hash-sticky", seed=0).metrics
    assert cookie["ip_change_sessions"] > 100 and cookie["ip_change_survival"] == 1.0
    assert iph["ip_change_sessions"] > 100 and 0.02 < iph["ip_change_survival"] < 0.25
    assert iph["lost_ip_change"] > 0 and cookie["lost_ip_change"] == 0


def test_nat_group_lands_on_one_backend_under_ip_hash() -> None:
    sc = Scenario(backends=8, clients=500, nat=(50, 7), requests=20_000)
    for bal in ("ip-hash-sticky", "ip-hash-sticky:keyed=maglev"):
        groups = simulate(sc, bal, seed=0).nat_groups
        assert [g["backends_used"] for g in groups] == [1, 1]
        assert groups[0]["top_backend_load"] > 1.1
    spread = simulate(sc, "cookie-sticky", seed=0).nat_groups
    assert spread[0]["backends_used"] == 8


def test_ttl_expires_idle_state() -> None:
    sc = Scenario(backends=3, requests=5000, store="external", ttl=0.5, think="exp:mean=0.5")
    m = simulate(sc, "p2c", seed=0).metrics
    assert m["lost_ttl"] > 0 and m["lost_reroute"] == 0


def test_queue_limit_fails_requests() -> None:
    sc = Scenario(backends=2, workers=1, load=1.5, requests=5000, queue_limit=2)
    m = simulate(sc, "round-robin", seed=0).metrics
    assert m["failed"] > 0
    assert m["requests"] == m["completed"] + m["failed"]


def test_slow_backend_p2c_adapts_consistent_hashing_does_not() -> None:
    sc = Scenario(backends=5, load=0.6, speeds={"backend-0": 0.25}, store="external",
                  requests=30_000)
    p2c = simulate(sc, "p2c", seed=0)
    ch = simulate(sc, "key-hash:on=session", seed=0)
    assert p2c.metrics["latency_p99"] * 3 < ch.metrics["latency_p99"]
    share = [r.backends[0]["served"] / r.metrics["completed"] for r in (p2c, ch)]
    assert share[0] < share[1]


def test_bounded_load_without_bound_is_the_ring() -> None:
    sc = Scenario(backends=6, requests=10_000, events=(Event("crash", "backend-4", 1.0),))
    a = simulate(sc, "bounded-load:eps=1e9", seed=4)
    b = simulate(sc, "key-hash:on=session,keyed=ring", seed=4)
    assert [x["served"] for x in a.backends] == [x["served"] for x in b.backends]


def test_bounded_load_caps_the_hot_key() -> None:
    sc = Scenario(backends=8, load=0.6, store="external", keys="zipf:s=1.2,universe=1000",
                  requests=20_000)
    plain = simulate(sc, "key-hash:on=key", seed=0).metrics
    bounded = simulate(sc, "bounded-load:on=key", seed=0).metrics
    assert bounded["outstanding_imbalance_avg"] < plain["outstanding_imbalance_avg"]
    assert bounded["latency_p99"] < plain["latency_p99"]


def test_service_times_replayed_from_values() -> None:
    from routebench.harness.sim import Dist

    sc = Scenario(backends=1, workers=64, session_rate=5.0, session_length=1,
                  service=Dist.from_values([0.010, 0.030]), requests=2000)
    m = simulate(sc, "round-robin", seed=0).metrics
    assert m["latency_mean"] == pytest.approx(0.020, rel=1e-6)
    assert m["latency_p50"] == pytest.approx(0.010, rel=0.012)
    assert m["latency_max"] == pytest.approx(0.030)


def test_arrivals_from_timestamps() -> None:
    t = np.cumsum(np.full(500, 0.01))
    sc = Scenario(backends=2, arrivals=t, load=None, requests=None, session_length=1)
    m = simulate(sc, "p2c", seed=0).metrics
    assert m["sessions"] == 500 and m["requests"] == 500
    with pytest.raises(RoutebenchError, match="must not decrease"):
        simulate(Scenario(backends=2, arrivals=t[::-1], load=None, requests=None), "p2c")


# -- third-party balancers through the registry ---------------------------------------
class LeastLoadedPython(Balancer):
    name = "test-least-loaded"
    summary = "least outstanding, in Python"

    def pick(self, request, load):  # type: ignore[no-untyped-def]
        e = load.eligible
        return int(e[np.argmin(load.outstanding[e])]) if e.size else -1


class Bad(Balancer):
    name = "test-bad"

    def pick(self, request, load):  # type: ignore[no-untyped-def]
        return 99


class P2cThree(Balancer):
    name = "test-p2c3"

    def policy(self) -> Policy:
        return Policy("p2c", d=3)


def test_python_balancer_plugs_in_through_the_registry() -> None:
    reg = Registry(load_entry_points=False)
    reg.register(LeastLoadedPython)
    reg.register(P2cThree)
    assert "test-least-loaded" in reg.names("balancer")
    sc = Scenario(backends=4, requests=4000, events=(Event("crash", "backend-1", 0.5),))
    py = simulate(sc, "test-least-loaded", seed=0, reg=reg).metrics
    assert py["requests"] == py["completed"] + py["failed"]
    rand = simulate(sc, "random", seed=0).metrics
    assert py["outstanding_imbalance_avg"] < rand["outstanding_imbalance_avg"]
    a = simulate(sc, "test-p2c3", seed=0, reg=reg).metrics
    b = simulate(sc, "p2c:d=3", seed=0).metrics
    assert _strip(a) == _strip(b)


def test_python_balancer_bad_pick_is_a_clear_error() -> None:
    with pytest.raises(RoutebenchError, match="returned 99, which is not a live backend"):
        simulate(Scenario(backends=3, requests=100), Bad(), seed=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"backends": 0}, "backends 0"),
    ({"load": -1.0}, "load -1.0"),
    ({"events": (Event("crash", "backend-19", 1.0),)}, "no backend 'backend-19'"),
    ({"events": (Event("join", "backend-1", 1.0),)}, "already a backend"),
    ({"store": "redis"}, "store 'redis'"),
    ({"service": "weibull:mean=1"}, "unknown distribution 'weibull'"),
    ({"nat": (5000, 6000)}, "more than clients"),
    ({"speeds": {"backend-17": 0.5}}, "no backend 'backend-17'"),
    ({"requests": None, "duration": None}, "needs an end"),
])
def test_bad_scenarios_name_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(RoutebenchError, match=message):
        Scenario(**kwargs)


def test_keyed_strategy_is_not_a_balancer() -> None:
    with pytest.raises(RoutebenchError, match="not a balancer"):
        simulate(Scenario(requests=100), "ring")


# -- load over time ------------------------------------------------------------------
def _series(r) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = r.series
    t, load = np.array(s["t"]), np.array(s["load"])
    start = r.scenario.get("warmup", 0.0) or 0.0
    return t, load, np.diff(np.concatenate(([start], t)))


@pytest.mark.parametrize("window", [None, 0.01])
def test_load_series_averages_to_each_backends_mean_load(window) -> None:
    # 0.01 s windows over 20 s are 2,000 windows: the series merges them in pairs
    sc = Scenario(backends=6, requests=None, duration=20.0, window=window,
                  events=(Event("crash", "backend-2", 10.0),))
    r = simulate(sc, "least-connections", seed=3)
    t, load, length = _series(r)
    assert load.shape == (t.size, 6) and 2 <= t.size <= 256
    assert np.all(length > 0) and t[-1] == pytest.approx(20.0)
    mean = (load * length[:, None]).sum(axis=0) / length.sum()
    want = [b["mean_outstanding"] for b in r.backends]
    assert mean == pytest.approx(want, rel=1e-3, abs=1e-4)
    # the crashed backend holds nothing once the windows are past the crash
    assert np.all(load[t > 10.5, 2] == 0) and np.all(load[t < 9.5, 2] > 0)
    assert r.record().series["backends"] == [b["name"] for b in r.backends]
