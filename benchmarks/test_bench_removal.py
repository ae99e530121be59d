"""Issue 13 figures, mass removal and resize cost at N = 10^6: every O(1) and O(log N)
strategy loses 10% of its nodes (random order; lifo for the last-only ones), gets them
back in reverse, and has one remove and one add timed (median of up to 51).

    pytest benchmarks/test_bench_removal.py --benchmark-only \
        --benchmark-columns=min,median,rounds

Lookups are timed over 1M random digests (the same as test_bench_new_hashes.py), best of
several rounds, after the map refresh the first lookup after changes pays.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import min_time

from routebench.harness.static import run_removals

BIG = 10**6
DIGESTS = np.random.default_rng(2026).integers(0, 2**64 - 1, 1_000_000, dtype=np.uint64,
                                               endpoint=True)
NAMES = ("jumpback", "flip", "binomial", "power", "jump", "anchor", "memento", "dx")
#: ns/key bars after 10% removals at N = 10^6 (issue 13)
BARS = {"anchor": 40, "memento": 40, "dx": 60}

_SECONDS: dict[str, float] = {}


@pytest.mark.filterwarnings("ignore:mass removal at N=:RuntimeWarning")  # 1 key a node
@pytest.mark.parametrize("name", NAMES)
def test_mass_removal_at_a_million(benchmark, figure, name):
    """Build, 10% out, back in reverse, resize cost: one strategy's ``run_removals``."""
    benchmark.group = "run_removals, N=10^6, 10% out and back"
    (r,) = benchmark.pedantic(run_removals, args=([name], [BIG], DIGESTS, (0.1,)),
                              rounds=1, iterations=1)
    start, out = r.steps[0], r.steps[1]
    assert out["step"] == "10% out" and out["moved_between_survivors"] == 0
    assert r.metrics["restored_share_final"] == 1.0
    how = "random order" if r.order == "random" else "lifo"
    figure(f"{name} batch lookup, N=10^6, 10% removed ({how})", out["batch_ns_per_key"],
           "ns/key", BARS.get(name))
    figure(f"  {name} batch lookup at the start, N=10^6", start["batch_ns_per_key"], "ns/key")
    figure(f"  {name} remove one node at N=10^6 (median of {r.metrics['resize_repeats']})",
           r.metrics["remove_ns_median"] / 1e3, "us")
    figure(f"  {name} add one node at N=10^6 (median of {r.metrics['resize_repeats']})",
           r.metrics["add_ns_median"] / 1e3, "us")
    if out["memory_bytes"] is not None:
        figure(f"  {name} memory(), all parts, 10% removed", out["memory_bytes"] / 2**20,
               "MiB")
        figure(f"  {name} algorithm state, growth over the 10% removals",
               (out["memory_state_bytes"] - start["memory_state_bytes"]) / 2**20, "MiB")
    _SECONDS[name] = min_time(benchmark)
    figure(f"  {name} run_removals (build, 10% out, back, resize)", _SECONDS[name], "s")
    if len(_SECONDS) == len(NAMES):  # issue 13: every O(1), O(log N) strategy at 10^6
        figure(f"run_removals, all {len(NAMES)} at N=10^6, 10% out and back",
               sum(_SECONDS.values()), "s", 60)
