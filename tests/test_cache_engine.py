"""Per-node caches in the engines (issue 14): run_static and the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from routebench._errors import RoutebenchError
from routebench.caches import NodeCaches
from routebench.datasets import open_trace
from routebench.harness.static import StrategySpec, run_static
from routebench.harness.static.cache import EventPhase, TraceCaches, _first
from routebench.hashing import get_hasher
from routebench.records import METRICS

CACHE_METRICS = ("hit_ratio", "byte_hit_ratio", "miss_load_peak_to_mean", "hit_ratio_shared",
                 "hit_ratio_random", "join_dip", "join_drop", "join_recovery_requests",
                 "join_extra_misses", "leave_dip", "leave_recovery_requests")


def _run(strategies, n=10, requests=120_000, cache="LRU:size=1%", seed=0, trace="zipf", **kw):
    tr = open_trace(trace, requests, seed=seed)
    return {r.label: r for r in run_static([StrategySpec(s) for s in strategies], [n], [tr],
                                           seed=seed, cache=cache, **kw)}


@pytest.fixture(scope="module")
def zipf_results():
    return _run(["ring", "modulo", "jump", "maglev"], n=10)


def test_cache_metrics_are_written_and_catalogued(zipf_results):
    for r in zipf_results.values():
        for m in CACHE_METRICS:
            assert m in r.metrics, m
            assert m in METRICS, m
        assert r.metrics["byte_hit_ratio"] is None  # the Zipf trace has no object sizes
        assert r.trace_params["cache"]["policy"] == "LRU"
        assert r.trace_params["cache"]["distinct_keys"] > 0


def test_hashing_keeps_locality_random_routing_does_not(zipf_results):
    """A key always at one node: its cache is as good as one shared cache of the total
    size (LRU over a hash partition); random routing spreads every key over all caches."""
    for r in zipf_results.values():
        m = r.metrics
        assert m["hit_ratio"] > m["hit_ratio_random"] + 0.1
        assert abs(m["hit_ratio"] - m["hit_ratio_shared"]) < 0.02
        assert 1.0 <= m["miss_load_peak_to_mean"] < 1.5


def test_a_join_costs_modulo_far_more_than_consistent_hashing(zipf_results):
    ring, mod = zipf_results["ring"].metrics, zipf_results["modulo"].metrics
    assert mod["join_drop"] > 3 * ring["join_drop"]
    assert mod["join_dip"] < ring["join_dip"]
    assert mod["leave_drop"] > 3 * ring["leave_drop"]
    for m in (ring, mod):
        assert m["join_dip"] <= m["join_hit_ratio_before"]
        assert m["join_recovery_requests"] is not None


def test_references_are_the_same_for_every_strategy(zipf_results):
    shared = {r.metrics["hit_ratio_shared"] for r in zipf_results.values()}
    rand = {r.metrics["hit_ratio_random"] for r in zipf_results.values()}
    assert len(shared) == 1 and len(rand) == 1


def test_deterministic_for_a_seed():
    a = _run(["ring", "rendezvous"], requests=60_000, seed=3)
    b = _run(["ring", "rendezvous"], requests=60_000, seed=3)
    for label in a:
        for m in CACHE_METRICS:
            assert a[label].metrics[m] == b[label].metrics[m]
    c = _run(["ring"], requests=60_000, seed=4)
    assert c["ring"].metrics["hit_ratio"] != a["ring"].metrics["hit_ratio"]


def test_a_joins_moved_keys_miss_once_where_they_land():
    """Caches that hold every key: after the join exactly the keys that moved to the new
    node miss (once each, at the new node); every other request hits."""
    tr = open_trace("zipf:universe=2000", 50_000, seed=1)
    from routebench.harness.static.runner import StaticScenario, _ChunkDigests

    sc = StaticScenario(StrategySpec("ring"), 8, tr, 0)
    tc = TraceCaches("LRU:size=100%", tr, [sc], window=1_000)
    for chunk in tr.chunks():
        digests = _ChunkDigests(chunk)
        sc.update(digests)
        tc.update(chunk, digests)
    caches = tc.per[0].caches
    assert caches.stats().misses.sum() > 0
    lead = 10_000
    ph = EventPhase(caches, "join", lead, 1_000, sc.base.lookup_many, sc.join.lookup_many,
                    lambda: caches.event("join"))
    h = get_hasher("xxh3")
    after_keys, after_nodes = [], []
    seen = 0
    for chunk, digests in _first(tr, 40_000):
        keys, _ = tc.keys(chunk, digests)
        d = digests(sc.route_on, sc.hasher)
        ph.feed(d, keys, None)
        cut = max(0, lead - seen)
        after_keys.append(keys[cut:])
        after_nodes.append(sc.join.lookup_many(d[cut:]))
        seen += keys.size
    keys, nodes = np.concatenate(after_keys), np.concatenate(after_nodes)
    moved = np.unique(keys[nodes == 8])
    assert moved.size > 0 and h.name == "xxh3"
    assert ph.misses_after == moved.size  # each moved key missed exactly once
    assert ph.control_misses == 0  # the control (no join) hit every request
    assert ph.result()["extra_misses"] == moved.size
    assert caches.stats().hits[8] == int((nodes == 8).sum()) - moved.size


def test_cache_total_splits_the_size():
    per = _run(["ring"], requests=30_000, cache="LRU:size=100")
    tot = _run(["ring"], requests=30_000, cache="LRU:size=1000", cache_total=True)
    assert per["ring"].metrics["cache_capacity_total"] == 1000
    assert tot["ring"].metrics["cache_capacity_total"] == 1000
    assert per["ring"].metrics["hit_ratio"] == tot["ring"].metrics["hit_ratio"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_short_trace_has_no_event_figures():
    r = _run(["ring"], requests=500, cache="LRU:size=10", cache_window=400)["ring"]
    assert r.metrics["hit_ratio"] is not None
    assert r.metrics["join_dip"] is None and r.metrics["join_recovery_requests"] is None


@pytest.mark.parametrize("cache,message", [
    ("LRU:size=0", "is 0"),
    ("LRU:size=0.0001%", "0 objects"),
    ("NoSuchPolicy:size=10", "available: "),
    ("LRU:size=64MiB", "needs object sizes"),
    ("LRU:size=10000000000000", "choose a smaller size"),
])
def test_bad_cache_input_is_one_line_before_any_work(cache, message):
    with pytest.raises(RoutebenchError, match=message) as e:
        _run(["ring"], requests=20_000, cache=cache)
    assert "\n" not in str(e.value)


def test_every_node_count_gets_its_own_references():
    tr = open_trace("zipf", 40_000, seed=0)
    rs = run_static([StrategySpec("ring")], [2, 20], [tr], cache="LRU:size=0.5%")
    by_n = {r.nodes: r.metrics for r in rs}
    # more nodes of the same size each: more memory in total, a better shared reference
    assert by_n[20]["hit_ratio_shared"] > by_n[2]["hit_ratio_shared"]
    # and random routing falls further behind hashing with more nodes
    gap = {n: m["hit_ratio"] - m["hit_ratio_random"] for n, m in by_n.items()}
    assert gap[20] > gap[2]


def test_nodecaches_copy_is_independent():
    nc = NodeCaches("LRU:size=10", 2)
    nc.request_chunk(np.zeros(5, np.int64), np.arange(5))
    import copy

    c = copy.deepcopy(nc)
    c.request_chunk(np.zeros(20, np.int64), np.arange(100, 120))
    assert nc.request_chunk(np.zeros(5, np.int64), np.arange(5)).all()


# -- the simulator ----------------------------------------------------------------------
def _sim(balancer, cache="LRU:size=1%", **kw):
    from routebench.harness.sim.simulator import Scenario, simulate

    base = {"backends": 10, "requests": 30_000, "keys": "zipf:s=1.1,universe=10000"}
    return simulate(Scenario(cache=cache, **{**base, **kw}), balancer, seed=2)


def test_simulator_key_hash_keeps_locality_round_robin_does_not():
    rr = _sim("round-robin").metrics
    kh = _sim("key-hash:on=key").metrics
    assert kh["hit_ratio"] > rr["hit_ratio"] + 0.1
    assert rr["miss_load_peak_to_mean"] < 1.2


def test_simulator_caches_do_not_change_routing():
    """The content key is drawn from its own random stream: with caches on, every
    other figure of a run is what it was without them."""
    on, off = _sim("p2c").metrics, _sim("p2c", cache=None).metrics
    assert "hit_ratio" in on and "hit_ratio" not in off
    for k in ("latency_p99", "served_imbalance_total", "completed", "outstanding_peak"):
        assert on[k] == off[k]


def test_simulator_crash_empties_a_backends_cache():
    from routebench.harness.sim import Event

    crash = (Event("crash", "backend-3", 1.0), Event("recover", "backend-3", 2.0))
    kh = _sim("key-hash:on=key", events=crash, requests=None, duration=4.0)
    plain = _sim("key-hash:on=key", requests=None, duration=4.0)
    row = next(b for b in kh.backends if b["name"] == "backend-3")
    assert row["hit_ratio"] is not None
    assert kh.metrics["hit_ratio"] < plain.metrics["hit_ratio"]


def test_simulator_cache_bad_input():
    from routebench.harness.sim.simulator import Scenario

    with pytest.raises(RoutebenchError, match="needs object sizes"):
        Scenario(cache="LRU:size=1MiB")
    with pytest.raises(RoutebenchError, match="available: "):
        Scenario(cache="Nope:size=10")
    with pytest.raises(RoutebenchError, match="is 0"):
        Scenario(cache="LRU:size=0")


def test_simulator_cache_option_round_trips():
    from routebench.harness.sim import scenario_flags
    from routebench.harness.sim.scenarios import scenario_fields
    from routebench.harness.sim.simulator import Scenario

    f, _ = scenario_fields({"cache": "LRU:size=500", "cache_total": True})
    sc = Scenario(**f)
    assert sc.cache.split and sc.describe()["cache"] == "LRU:total=500"
    flags = scenario_flags(sc)
    assert "--cache LRU:total=500" in flags
    again, _ = scenario_fields({"cache": "LRU:total=500"})
    assert Scenario(**again).cache == sc.cache
    with pytest.raises(RoutebenchError, match="--cache-total needs --cache"):
        scenario_fields({"cache_total": True})
