"""The static runner and its metrics, through the harness API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chisquare

from routebench.datasets import open_trace, synthetic_trace
from routebench.datasets._distinct import DistinctSample
from routebench.harness import metrics
from routebench.harness.static import StrategySpec, run_static
from routebench.hashing import get_hasher


def test_balance_metrics_match_their_definitions():
    counts = [90, 110, 100, 100]
    b = metrics.balance(counts)
    ref = chisquare(counts)
    assert b["chi2"] == pytest.approx(ref.statistic) and b["chi2_p"] == pytest.approx(ref.pvalue)
    assert b["peak_to_mean"] == pytest.approx(1.1)
    assert b["cov"] == pytest.approx(np.std([0.9, 1.1, 1.0, 1.0]))
    assert (b["min_share"], b["max_share"]) == (0.225, 0.275)


def test_balance_against_weights():
    b = metrics.balance([100, 300], weights=[1, 3])
    assert b["chi2"] == pytest.approx(0.0) and b["peak_to_mean"] == pytest.approx(1.0)


def test_balance_without_load_or_with_one_node():
    assert metrics.balance([0, 0])["peak_to_mean"] is None
    one = metrics.balance([42])
    assert one["chi2"] is None and one["peak_to_mean"] == 1.0


def test_ideal_remap():
    assert metrics.remap_ideal_join([1] * 10) == pytest.approx(1 / 11)
    assert metrics.remap_ideal_leave([1] * 10, 3) == pytest.approx(1 / 10)
    assert metrics.remap_ideal_leave([1, 3], 1) == pytest.approx(0.75)


@pytest.fixture(scope="module")
def results():
    specs = [StrategySpec("modulo"), StrategySpec("ring", {"vnodes": 200}), StrategySpec("jump"),
             StrategySpec("rendezvous"), StrategySpec("maglev")]
    traces = [open_trace("uniform", 40_000, seed=3), open_trace("nat", 40_000, seed=3)]
    return [r.to_json() for r in run_static(specs, [10, 50], traces, seed=3)]


def by(results, strategy, trace, n):
    return next(r for r in results if r["strategy"] == strategy and r["trace"] == trace
                and r["nodes"] == n)


@pytest.mark.parametrize("strategy", ["ring", "jump", "rendezvous"])
@pytest.mark.parametrize("n", [10, 50])
def test_consistent_strategies_remap_near_the_ideal(results, strategy, n):
    m = by(results, strategy, "uniform", n)["metrics"]
    assert m["remap_join"] == pytest.approx(m["remap_join_ideal"], rel=0.25)
    assert m["remap_leave"] == pytest.approx(m["remap_leave_ideal"], rel=0.35)
    assert m["monotonicity_violations"] == 0


def test_modulo_remaps_most_keys(results):
    m = by(results, "modulo", "uniform", 10)["metrics"]
    assert m["remap_join"] > 0.8 and m["remap_leave"] > 0.8
    assert m["monotonicity_violations"] > 0.5 * 40_000


def test_maglev_violations_are_a_sliver(results):
    m = by(results, "maglev", "uniform", 50)["metrics"]
    assert 0 < m["monotonicity_violations"] < 0.02 * 2 * 40_000


def test_nat_groups_skew_ip_routing(results):
    # the default nat trace: 10,000 users, NATs of 500, 200 and 50 users
    for strategy in ("modulo", "ring", "jump", "rendezvous", "maglev"):
        m = by(results, strategy, "nat", 50)["metrics"]
        assert m["nat_peak_to_mean_ip"] > 2.0 > 1.5 > m["nat_peak_to_mean_user"]


def test_results_are_deterministic_for_a_seed(results):
    again = run_static([StrategySpec("ring", {"vnodes": 200})], [10],
                       [open_trace("uniform", 40_000, seed=3)], seed=3)[0].to_json()
    first = by(results, "ring", "uniform", 10)
    assert again["counts"] == first["counts"]
    quality = ("chi2", "peak_to_mean", "remap_join", "remap_leave", "monotonicity_violations")
    assert {k: again["metrics"][k] for k in quality} == {k: first["metrics"][k] for k in quality}


def test_leave_removes_the_last_node_for_jump(results):
    r = by(results, "jump", "uniform", 10)
    assert r["events"] == {"join": "node-10", "leave": "node-9"}


def test_timing_and_memory_are_measured(results):
    for r in results:
        m = r["metrics"]
        assert m["lookup_ns_p50"] > 0 and m["batch_ns_per_key"] > 0
        assert m["build_ms"] > 0 and m["memory_bytes"] > 0
        # per-call p99 is no longer measured: a sub-microsecond call timed alone times the clock
        assert "lookup_ns_p99" not in m


# -- scalar timing: calibrated loops, the clock outside them -------------------------
def test_scalar_latency_times_loops_not_single_calls(monkeypatch):
    # a fake clock that ticks 1 us a read: timing each call alone would see the clock;
    # timing loops of calls sees the calls (here: each costs 100 ns of fake time)
    from routebench.harness import timing

    now = [0.0]

    def clock():
        now[0] += 1e-6
        return now[0]

    def call(key):
        now[0] += 100e-9

    monkeypatch.setattr(timing, "_scalar_clock", clock)
    ns = timing.scalar_latency_ns(call, [b"k%d" % i for i in range(500)], min_time=0.001)
    assert ns == pytest.approx(100, rel=0.05)


def test_scalar_latency_takes_the_median_of_round_medians(monkeypatch):
    # per-call ns of each timed loop, in the order they are taken: warm-up, per-call
    # estimate and calibration, then 5 rounds of (discarded warm-up value, 3 values)
    from routebench.harness import timing

    ns_per_call = iter([100, 100, 100,
                        5000, 100, 100, 900,    # a slow warm-up value, discarded
                        100, 100, 900, 100,
                        100, 900, 900, 900,     # a round under load: its median is 900
                        100, 100, 100, 100,
                        100, 110, 100, 105])

    def fake_loop(fn, keys, loops):
        return next(ns_per_call) * loops * len(keys) * 1e-9

    monkeypatch.setattr(timing, "_loop_seconds", fake_loop)
    ns = timing.scalar_latency_ns(lambda k: None, [1] * 10, min_time=0.0, rounds=5, values=3)
    assert ns == pytest.approx(100.0)  # median of (100, 100, 900, 100, 105)
    assert next(ns_per_call, None) is None  # every value was taken


def test_reports_with_the_retired_p99_still_load_render_and_compare(tmp_path):
    from routebench.records import METRICS, make_report
    from routebench.reports import compare, read_json, run_table, write_json

    data = Path(__file__).parent / "data"
    v1 = read_json(data / "run-v1.json")  # /1, written with lookup_ns_p99
    assert all("lookup_ns_p99" in r["metrics"] for r in v1["results"])
    table = run_table(v1["results"], "github")
    assert "lookup ns" in table and "p99" not in table
    # an old /2 file that carries it
    old = [dict(r, metrics={**r["metrics"], "lookup_ns_p99": 912.0}) for r in v1["results"]]
    path = write_json(tmp_path / "old-v2.json", make_report("run", old, {}))
    v2 = read_json(path)
    assert v2["results"][0]["metrics"]["lookup_ns_p99"] == 912.0
    assert run_table(v2["results"], "csv").splitlines()[0].count("lookup_ns_p99") == 1
    assert compare(v1, v2, {}).passed
    assert "RETIRED" in METRICS["lookup_ns_p99"].help and METRICS["lookup_ns_p99"].timing


# -- the distinct-key sample ---------------------------------------------------
@given(st.integers(1, 3000), st.integers(1, 5))
def test_distinct_sample_is_exact_below_capacity(n, repeats):
    keys = [b"k%d" % (i % n) for i in range(n * repeats)]
    xxh3, md5 = get_hasher("xxh3"), get_hasher("md5")
    s = DistinctSample([md5], capacity=4096)
    for start in range(0, len(keys), 777):
        chunk = keys[start:start + 777]
        s.add(lambda h, c=chunk: h.many(c))
    assert not s.sampled and s.size == s.estimate() == n
    assert sorted(s.digests["md5"].tolist()) == sorted(md5.many(sorted(set(keys))).tolist())
    assert s.ref is md5 or s.ref is xxh3


def test_distinct_sample_bounds_memory_and_estimates_count():
    h = get_hasher("xxh3")
    s = DistinctSample([h], capacity=5000)
    for c in range(20):
        chunk = [b"%d-%d" % (c, i) for i in range(5000)]
        s.add(lambda hh, cc=chunk: hh.many(cc))
    assert s.sampled and s.size == 5000
    assert s.estimate() == pytest.approx(100_000, rel=0.05)


# -- synthetic traces -------------------------------------------------------------
@pytest.mark.parametrize("name", ["uniform", "zipf", "nat"])
def test_synthetic_traces_are_reproducible(name):
    def keys(seed):
        t = synthetic_trace(name, 1000, seed, chunk_size=300)
        return [k for c in t.chunks() for k in c.columns[t.route_on].keys()]
    a, b, c = keys(1), keys(1), keys(2)
    assert len(a) == 1000 and a == b and a != c


def test_zipf_popularity_follows_the_exponent():
    t = synthetic_trace("zipf", 200_000, 0, s=1.0, universe=1000)
    ids = np.concatenate([c.columns["key"].ids for c in t.chunks()])
    top = np.bincount(ids, minlength=1000)[0] / ids.size
    harmonic = np.sum(1.0 / np.arange(1, 1001))
    assert top == pytest.approx(1 / harmonic, rel=0.03)


def test_nat_trace_puts_groups_behind_one_ip():
    t = synthetic_trace("nat", 50_000, 0, users=2000, groups="300,50")
    users_per_ip = np.bincount(t.user_ip)
    assert sorted(users_per_ip)[-2:] == [50, 300]
    assert np.sum(users_per_ip == 1) == 2000 - 350
