"""Caches over time and in reports (issue 14): simulate's windowed hit ratio with the dip
and recovery around each event, libCacheSim's policies in simulate, the run's kept
series, the report's cache plots and columns, byte hit ratios on a trace with sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from routebench.cli import main
from routebench.harness.sim import Event
from routebench.harness.sim.simulator import Scenario, simulate

libcachesim = pytest.importorskip("libcachesim")

EPS = (0.05, 1.0)
BALANCERS = ["round-robin", "p2c", "key-hash:on=key", *(f"bounded-load:on=key,eps={e:g}"
                                                        for e in EPS)]
KEYS = {"zipf": "zipf:s=1,universe=20000", "hot-key": "zipf:s=1.2,universe=2000"}


def _simulate_json(tmp_path: Path, name: str, keys: str, *extra: str) -> Path:
    out = tmp_path / f"{name}.json"
    args = ["simulate", "--backends", "8", "--requests", "12000", "--cache", "LRU:size=2%",
            "--keys", keys, "--load", "0.6", "--store", "external", "--json", str(out), "-q"]
    for b in BALANCERS:
        args += ["--balancer", b]
    assert main([*args, *extra]) == 0
    return out


@pytest.fixture(scope="module")
def locality_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("locality")
    return [_simulate_json(d, name, keys) for name, keys in KEYS.items()]


def test_locality_plot_renders_and_its_points_are_the_json_numbers(locality_runs, tmp_path,
                                                                   capsys):
    from routebench.reports import _plots

    out = tmp_path / "report"
    assert main(["report", *map(str, locality_runs), "-o", str(out), "-q"]) == 0
    png = out / "img" / "locality-vs-balance.png"
    assert png.stat().st_size > 10_000
    assert "locality-vs-balance.png" in (out / "report.md").read_text()
    assert (out / "img" / "sim-hit-over-time.png").stat().st_size > 10_000
    results = [r for p in locality_runs for r in json.loads(p.read_text())["results"]]
    fig = _plots.locality_figure(results, _plots.Colors([]))
    axes = fig.axes
    assert len(axes) == 2  # one panel a content-key distribution
    drawn: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for ax in axes:
        keys = next(k for k in KEYS.values() if k in ax.get_title())
        for line in ax.get_lines():
            xy = line.get_xydata()
            drawn[(keys, str(line.get_label()))] = [(float(x), float(y)) for x, y in xy]
    want: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in results:
        m = r["metrics"]
        label = "bounded-load:on=key" if r["strategy"] == "bounded-load" else r["label"]
        want.setdefault((r["scenario_params"]["keys"], label), []).append(
            (m["outstanding_imbalance_avg"], m["hit_ratio"]))
    assert set(drawn) == set(want)
    for k, pts in want.items():
        assert drawn[k] == pts  # the JSON's order: bounded-load's eps ascending
    # four balancer kinds in each panel, bounded-load a curve of its eps values
    for keys in KEYS.values():
        assert len(drawn[(keys, "bounded-load:on=key")]) == len(EPS)


def test_simulate_table_shows_hit_ratio_and_a_split_cache(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["simulate", "--backends", "4", "--requests", "3000", "--balancer", "p2c",
                 "--cache", "LRU:size=400", "--cache-total", "--json", str(out), "-q"]) == 0
    table = capsys.readouterr().out
    rec = json.loads(out.read_text())["results"][0]
    assert rec["metrics"]["cache_capacity_total"] == 400
    assert rec["metrics"]["cache_capacity_node"] == 100
    assert "100 (LRU, total 400 split)" in table
    assert f"{rec['metrics']['hit_ratio']:.3f}" in table


# -- simulate: windows, dip, recovery -----------------------------------------------------
def _events_sim(cache: str = "LRU:size=2%", balancer: str = "key-hash:on=key"):
    sc = Scenario(backends=8, requests=40_000, cache=cache, keys="zipf:s=1.1,universe=10000",
                  events=[Event("crash", "backend-2", 4.0), Event("recover", "backend-2", 9.0),
                          Event("join", "backend-8", 12.0)])
    return simulate(sc, balancer, seed=5)


@pytest.fixture(scope="module")
def with_events():
    return _events_sim()


def test_simulate_windows_cover_the_run(with_events):
    r = with_events
    s = r.series["cache"]
    w, ratios, t = s["window"], np.asarray(s["hit_ratio"]), np.asarray(s["t"])
    # never every backend down: each request was routed to one and looked up in its cache
    n = r.metrics["requests"]
    assert ratios.size == t.size == n // w
    hits = r.metrics["hit_ratio"] * n
    assert abs(ratios.sum() * w - hits) <= w  # the full windows hold all but the last's hits
    assert np.all(np.diff(t) >= 0) and t[-1] <= r.metrics["sim_time"]


def test_simulate_dip_and_recovery_by_the_stated_rule(with_events):
    s = with_events.series["cache"]
    w, r = s["window"], np.asarray(s["hit_ratio"])
    evs = s["events"]
    assert [e["event"] for e in evs] == ["crash", "recover", "join"]
    for i, e in enumerate(evs):
        at = e["request"] // w
        later = [x["request"] // w for x in evs[i + 1:] if x["request"] // w > at]
        end = max(at + 1, later[0]) if later else r.size
        before = r[max(0, at - 5):at].mean()
        after = r[at:end]
        assert e["hit_ratio_before"] == pytest.approx(before)
        assert e["hit_ratio_dip"] == pytest.approx(after.min())
        assert e["hit_ratio_drop"] == pytest.approx(max(0.0, before - after.min()))
        d = int(np.argmin(after))
        if after[d] >= before - 0.01:
            assert e["recovery_requests"] == 0 and e["recovery_s"] == 0
        else:
            back = [k for k in range(d + 1, after.size) if after[k] >= before - 0.01]
            if not back:
                assert e["recovery_requests"] is None and e["recovery_s"] is None
            else:
                k = at + back[0]
                assert e["recovery_requests"] == (k + 1) * w - e["request"]
                assert e["recovery_s"] == pytest.approx(s["t"][k] - e["time"], abs=1e-5)
    m = with_events.metrics
    assert m["cache_event_dip"] == min(e["hit_ratio_dip"] for e in evs)
    assert m["cache_event_drop"] == max(e["hit_ratio_drop"] for e in evs)


def test_a_crash_costs_hashing_hits_that_recover():
    """A crash empties the backend's cache and hashes its keys onto the others, cold."""
    s = _events_sim().series["cache"]
    crash = s["events"][0]
    assert crash["hit_ratio_dip"] < crash["hit_ratio_before"] - 0.02
    none = simulate(Scenario(backends=8, requests=40_000, cache="LRU:size=2%",
                             keys="zipf:s=1.1,universe=10000"), "key-hash:on=key", seed=5)
    assert none.series["cache"]["events"] == [] and none.metrics["cache_event_dip"] is None


def test_simulate_libcachesim_lru_is_the_compiled_lru_request_for_request():
    """The loop's log reaches libCacheSim in order, a crash's emptying between the right two
    requests: its LRU hits exactly where the compiled one does."""
    a = _events_sim("LRU:size=2%")
    b = _events_sim("LRU:size=2%,engine=libcachesim")
    assert a.metrics["hit_ratio"] == b.metrics["hit_ratio"]
    assert [x.get("hit_ratio") for x in a.backends] == [x.get("hit_ratio") for x in b.backends]
    assert a.series["cache"]["hit_ratio"] == b.series["cache"]["hit_ratio"]


def test_simulate_runs_libcachesim_policies(tmp_path, capsys):
    out = tmp_path / "s3.json"
    assert main(["simulate", "--backends", "6", "--requests", "8000", "--cache",
                 "S3FIFO:size=2%", "--keys", "zipf:s=1.1,universe=5000", "--balancer",
                 "round-robin", "--balancer", "key-hash:on=key", "--json", str(out), "-q"]) == 0
    rr, kh = (r["metrics"]["hit_ratio"] for r in json.loads(out.read_text())["results"])
    assert 0 < rr < kh < 1


# -- run --cache: the phases' windowed series kept and plotted ----------------------------
def test_run_keeps_the_event_phases_series_and_report_plots_it(tmp_path):
    out = tmp_path / "run.json"
    assert main(["run", "--strategy", "ring", "--strategy", "modulo", "--nodes", "8",
                 "--trace", "zipf", "--keys", "60000", "--cache", "LRU:size=1%",
                 "--json", str(out), "-q"]) == 0
    for r in json.loads(out.read_text())["results"]:
        s = r["series"]["cache"]
        w = s["window"]
        replay = np.asarray(s["replay"]["hit_ratio"])  # the whole trace, from cold caches
        assert replay.size == 60_000 // w
        assert replay.sum() * w == pytest.approx(r["metrics"]["hit_ratio"] * 60_000, abs=w)
        assert replay[0] < replay[-5:].mean()  # warming up
        for kind in ("join", "leave"):
            ph = s[kind]
            at = ph["at"] // w
            ratios, ctl = np.asarray(ph["hit_ratio"]), np.asarray(ph["control"])
            assert ph["at"] % w == 0 and 1 <= at < ratios.size
            assert ctl.size == ratios.size - at  # the control runs from the event on
            assert r["metrics"][f"{kind}_dip"] == pytest.approx(ratios[at:].min(), abs=1e-6)
            assert r["metrics"][f"{kind}_hit_ratio_before"] == pytest.approx(
                ratios[max(0, at - 5):at].mean(), abs=1e-6)
            assert r["metrics"][f"{kind}_drop"] == pytest.approx(
                max(0.0, (ctl - ratios[at:]).max()), abs=1e-5)
    rep = tmp_path / "report"
    assert main(["report", str(out), "-o", str(rep), "-q"]) == 0
    assert (rep / "img" / "cache-hit-over-time.png").stat().st_size > 10_000


def test_run_table_shows_the_split_per_node_size(tmp_path, capsys):
    assert main(["run", "--strategy", "ring", "--nodes", "4", "--trace", "zipf", "--keys",
                 "5000", "--cache", "LRU:size=1000", "--cache-total", "--no-json", "-q"]) == 0
    assert "250 (LRU, total 1000 split)" in capsys.readouterr().out
    assert main(["run", "--strategy", "ring", "--nodes", "4", "--trace", "zipf", "--keys",
                 "5000", "--cache", "LRU:size=1000", "--no-json", "-q"]) == 0
    assert "1,000 (LRU)" in capsys.readouterr().out


# -- byte hit ratio on a trace with object sizes -----------------------------------------
def _twitter(path: Path, rows: list[tuple[str, int, int]]) -> Path:
    """A Twitter cache trace: timestamp, key, key size, value size, client, op, TTL."""
    path.write_text("".join(f"{i},{k},{ks},{vs},1,get,0\n" for i, (k, ks, vs) in
                            enumerate(rows)))
    return path


def _run_json(tmp_path: Path, trace: Path, cache: str, nodes: int = 1,
              strategy: str = "ring") -> dict:
    out = tmp_path / "r.json"
    assert main(["run", "--strategy", strategy, "--nodes", str(nodes), "--trace", str(trace),
                 "--cache", cache, "--json", str(out), "-q"]) == 0
    return json.loads(out.read_text())["results"][0]


def test_byte_hit_ratio_by_hand(tmp_path, capsys):
    """One LRU of 260 bytes; a=100, b=50, c=150 bytes (key + value sizes):
    a b a(hit) c[evicts b] b[evicts a] c(hit) a[evicts b] c(hit): 400 of 850 bytes hit."""
    size = {"a": (1, 99), "b": (1, 49), "c": (1, 149)}
    trace = _twitter(tmp_path / "cluster1.csv", [(k, *size[k]) for k in "abacbcac"])
    r = _run_json(tmp_path, trace, "LRU:size=260B")
    assert r["trace_params"]["cache"]["sizes"] == ["key_size", "value_size"]
    assert r["metrics"]["byte_hit_ratio"] == pytest.approx(400 / 850)
    assert r["metrics"]["hit_ratio"] == pytest.approx(3 / 8)
    table = capsys.readouterr().out
    assert "byte hit ratio" in table and f"{400 / 850:.3f}" in table


def test_byte_hit_ratio_is_libcachesims_on_each_node(tmp_path):
    """Random keys and sizes over 3 nodes: the run's byte hit ratio is libCacheSim's, fed
    each node's requests (routed by the strategy's own lookup) with their sizes."""
    from routebench.registry import registry

    rng = np.random.default_rng(7)
    keys = [f"k{int(x)}" for x in rng.zipf(1.3, 6000) % 700]
    sizes = {k: (len(k), int(rng.integers(10, 3000))) for k in set(keys)}
    trace = _twitter(tmp_path / "cluster2.csv", [(k, *sizes[k]) for k in keys])
    r = _run_json(tmp_path, trace, "LRU:size=40KB", nodes=3)
    names = [f"node-{i}" for i in range(3)]
    strategy = registry.create_keyed("ring", names)
    caches = {n: libcachesim.LRU(cache_size=40_000) for n in names}
    ids = {k: i for i, k in enumerate(sorted(sizes))}
    req = libcachesim.Request()
    hit_bytes = total = 0
    for k in keys:
        req.obj_id = ids[k]
        req.obj_size = sum(sizes[k])
        if caches[strategy.lookup(k)].get(req):
            hit_bytes += req.obj_size
        total += req.obj_size
    assert set(r["counts"]) != {0} and len(r["counts"]) == 3
    assert r["metrics"]["byte_hit_ratio"] == pytest.approx(hit_bytes / total)
    assert r["metrics"]["byte_hit_ratio"] != pytest.approx(r["metrics"]["hit_ratio"])


# -- claim 10 draws the plot beside reports/claims.md -------------------------------------
def test_claims_report_draws_claim_10s_plot(tmp_path, locality_runs):
    from routebench.harness.experiments.claims import CLAIMS, ClaimResult
    from routebench.reports.claims_md import write_claims

    recs = [r for p in locality_runs for r in json.loads(p.read_text())["results"]]
    res = ClaimResult(10, CLAIMS[10], "s", ["a"], [["1"]], ["f"], "holds", "rule", 0, [],
                      {"plot": recs})
    md = write_claims(tmp_path / "claims.md", [res], size="small", seed=0, elapsed=1.0)
    assert "![locality against balance](img/claim10-locality-vs-balance.png)" in md.read_text()
    assert (tmp_path / "img" / "claim10-locality-vs-balance.png").stat().st_size > 10_000
