"""Issue 14 figures in the engines: caches in ``run`` and in ``simulate``.

1. ``run_static`` with an LRU per node (1% of distinct keys each): 10M Zipf requests
   (s=1, a universe of 1M keys) through 6 keyed strategies at N=100, the whole run
   (distinct-key pass, replay, join and leave phases, timing) in a fresh process:
   wall time (bar: 90 s) and peak RSS at 10M and 30M requests (memory flat).
2. The simulator with caches on: 1M requests, 100 backends, p2c, against the same
   run without caches (bar: at most 2x the time). The loop logs each request's backend
   and content key; the log reaches the caches in batches (the compiled LRU, or
   libCacheSim's S3FIFO, printed for information: no bar).

    pytest benchmarks/test_bench_cache_engine.py -s      (opt-in: minutes)
    python benchmarks/test_bench_cache_engine.py run 10000000   (one run, printed)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

STRATEGIES = ("ring", "jump", "maglev", "rendezvous", "multiprobe", "modulo")
TRACE = "zipf:s=1.0,universe=1000000"
CACHE = "LRU:size=1%"


def run_once(requests: int) -> dict[str, float]:
    """One ``run_static`` with caches in this process: wall time, peak RSS, hit ratios."""
    import resource

    from routebench.datasets import open_trace
    from routebench.harness.static import StrategySpec, run_static

    t0 = time.perf_counter()
    rs = run_static([StrategySpec(s) for s in STRATEGIES], [100],
                    [open_trace(TRACE, requests, seed=0)], cache=CACHE)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"wall_s": wall, "peak_rss": rss,
            **{f"hit_{r.label}": r.metrics["hit_ratio"] for r in rs},
            "hit_random": rs[0].metrics["hit_ratio_random"],
            "hit_shared": rs[0].metrics["hit_ratio_shared"]}


def _fresh(requests: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "run", str(requests)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def warm() -> None:
    _fresh(300_000)  # numba's kernels compiled and cached on disk before timing


def test_run_10m_requests_6_strategies_n100(figure, warm) -> None:  # type: ignore[no-untyped-def]
    r = _fresh(10_000_000)
    print(json.dumps(r, indent=1))
    figure("run --cache LRU:size=1%: 10M Zipf requests, 6 strategies, N=100", r["wall_s"], "s",
           90.0)


def test_run_memory_flat_10m_vs_30m(figure, warm) -> None:  # type: ignore[no-untyped-def]
    a, b = _fresh(10_000_000), _fresh(30_000_000)
    figure("run --cache: peak RSS at 30M over 10M requests", b["peak_rss"] / a["peak_rss"],
           "x", 1.1)


def sim_once(cache: str | None, requests: int = 1_000_000) -> float:
    from routebench.harness.sim.simulator import Scenario, simulate

    sc = Scenario(backends=100, requests=requests, cache=cache)
    t0 = time.perf_counter()
    simulate(sc, "p2c", seed=0)
    return time.perf_counter() - t0


def test_simulate_1m_p2c_100_backends_with_caches(figure) -> None:  # type: ignore[no-untyped-def]
    sim_once(None, 20_000), sim_once("LRU:size=1%", 20_000)  # compile
    off = min(sim_once(None) for _ in range(3))
    on = min(sim_once("LRU:size=1%") for _ in range(3))
    print(f"simulate 1M p2c 100 backends: {off:.2f} s without caches, {on:.2f} s with")
    figure("simulate 1M, 100 backends, p2c: time with LRU caches over without", on / off, "x",
           2.0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        print(json.dumps(run_once(int(sys.argv[2]))))
    elif sys.argv[1:2] == ["sim"]:
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
        sim_once(None, 20_000), sim_once("LRU:size=1%", 20_000)
        off, on = sim_once(None, n), sim_once("LRU:size=1%", n)
        print(json.dumps({"off": off, "on": on, "ratio": on / off,
                          "s3fifo": sim_once("S3FIFO:size=1%", n)}))
