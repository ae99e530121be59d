"""Issue 13 figures: the newest consistent hashes, batch lookup on 1M random digests, each next
to ``jump`` timed in the same run at the same N; add and remove times; memory.

    pytest benchmarks/test_bench_new_hashes.py --benchmark-only \
        --benchmark-columns=min,median,rounds

anchor, dx and memento are measured with 10% of their nodes removed, in random order.
Timings are the best of several rounds (other load only ever adds time).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from conftest import min_time

import routebench

DIGESTS = np.random.default_rng(2026).integers(0, 2**64 - 1, 1_000_000, dtype=np.uint64,
                                               endpoint=True)
BIG = 10**6
ANY = ("anchor", "dx", "memento")
#: ns/key bars at N = 10^6 (issue 13); jumpback also <= 0.3x jump's time at the same N
BARS = {"jumpback": 15, "flip": 15, "binomial": 20, "power": 30, "anchor": 40, "memento": 40,
        "dx": 60}
CASES = [("jumpback", 10**2), ("jumpback", 10**3), *((name, BIG) for name in BARS)]
ROUNDS = 15

_BUILT: dict[tuple[str, int], routebench.KeyedStrategy] = {}


def removal_order(n: int) -> np.ndarray:
    """The nodes that leave, in the order they leave: 10% of n, seeded."""
    return np.random.default_rng(13).permutation(n)[: n // 10]


def built(name: str, n: int) -> routebench.KeyedStrategy:
    """The strategy over n nodes (10% removed for the any-removal ones), built once a run."""
    if (name, n) not in _BUILT:
        s = routebench.create(name, n)
        if name in ANY:
            for i in removal_order(n).tolist():
                s.remove(f"node-{i}")
        s.lookup_many(DIGESTS[:1000])  # compile, and refresh the node map, outside the rounds
        _BUILT[(name, n)] = s
    return _BUILT[(name, n)]


def best_ns(s: routebench.KeyedStrategy) -> float:
    """Best of ROUNDS batch lookups of DIGESTS, ns a key (for jump, timed beside each case)."""
    best = float("inf")
    for _ in range(ROUNDS):
        t = time.perf_counter()
        s.lookup_many(DIGESTS)
        best = min(best, time.perf_counter() - t)
    return best / DIGESTS.size * 1e9


@pytest.mark.parametrize("name,n", CASES, ids=lambda v: str(v))
def test_batch_lookup_1m_digests(benchmark, figure, name, n):
    s = built(name, n)
    jump = built("jump", n)
    benchmark.group = f"batch lookup_many, 1M digests, N={n:,}"
    benchmark.pedantic(s.lookup_many, args=(DIGESTS,), rounds=ROUNDS, iterations=1,
                       warmup_rounds=1)
    ns = min_time(benchmark) / DIGESTS.size * 1e9
    jump_ns = best_ns(jump)
    removed = " (10% removed)" if name in ANY else ""
    figure(f"{name} batch lookup, N={n:,}{removed}", ns, "ns/key", BARS[name] if n == BIG else None)
    figure(f"  jump, same run, N={n:,}", jump_ns, "ns/key")
    if name == "jumpback":  # the bar: at most 0.3x jump's time
        figure(f"  jumpback's time as % of jump's, N={n:,}", 100 * ns / jump_ns, "%", 30)


def _picker(s: routebench.KeyedStrategy, name: str):
    """Which node goes next: a random one (seeded), or the last for the last-only ones."""
    rng = np.random.default_rng(7)
    nodes = s.nodes  # read once: after a change, reading nodes rebuilds the tuple (O(N))
    if name in ANY:
        return lambda: nodes[int(rng.integers(len(nodes)))]
    return lambda: nodes[-1]  # each round puts it back


@pytest.mark.parametrize("name", list(BARS))
def test_remove_one_node(benchmark, figure, name):
    """One remove at N = 10^6; each round first adds back the node the last round removed."""
    s = built(name, BIG)
    pick = _picker(s, name)
    gone: list[str] = []

    def setup():
        if gone:
            s.add(gone.pop())
        gone.append(pick())
        return (gone[-1],), {}

    benchmark.group = "remove one node, N=10^6"
    benchmark.pedantic(s.remove, setup=setup, rounds=1001, iterations=1)
    s.add(gone.pop())
    figure(f"{name} remove one node, N=10^6 (median)", benchmark.stats.stats.median * 1e6, "us")
    if name in ANY:  # the node map is refreshed once, by the first lookup after changes
        t = time.perf_counter()
        s.lookup_many(DIGESTS[:1])
        figure(f"  {name} first lookup after changes (map refresh)",
               (time.perf_counter() - t) * 1e3, "ms")


@pytest.mark.parametrize("name", list(BARS))
def test_add_one_node(benchmark, figure, name):
    """One add at N = 10^6: each round removes a node untimed, then times adding it back."""
    s = built(name, BIG)
    pick = _picker(s, name)

    def setup():
        node = pick()
        s.remove(node)
        return (node,), {}

    benchmark.group = "add one node, N=10^6"
    benchmark.pedantic(s.add, setup=setup, rounds=1001, iterations=1)
    s.lookup_many(DIGESTS[:1])
    figure(f"{name} add one node, N=10^6 (median)", benchmark.stats.stats.median * 1e6, "us")


def build_and_remove_10pct(name: str) -> routebench.KeyedStrategy:
    s = routebench.create(name, BIG)
    for i in removal_order(BIG).tolist():
        s.remove(f"node-{i}")
    s.lookup_many(DIGESTS[:1])
    return s


@pytest.mark.parametrize("name", ANY)
def test_mass_removal_and_memory(benchmark, figure, name):
    """Build N = 10^6, remove 10% one by one in random order, first lookup; then the memory
    of the same, traced (tracemalloc: numpy buffers, the names list, the dicts)."""
    benchmark.group = "build N=10^6 + remove 10% + first lookup"
    benchmark.pedantic(build_and_remove_10pct, args=(name,), rounds=1, iterations=1)
    figure(f"{name} build 10^6 + remove 10% one by one + lookup", min_time(benchmark), "s")
    tracemalloc.start()
    try:
        s = routebench.create(name, BIG)
        base = tracemalloc.get_traced_memory()[0]
        for i in removal_order(BIG).tolist():
            s.remove(f"node-{i}")
        s.lookup_many(DIGESTS[:1])
        total = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    parts = s.memory()  # type: ignore[attr-defined]
    figure(f"{name} memory, N=10^6, 10% removed: everything traced", total / 2**20, "MiB")
    figure(f"  {name} growth over the 10% removals", (total - base) / 2**20, "MiB")
    figure(f"  {name} algorithm state (its arrays)", parts["state"] / 2**20, "MiB")
    figure(f"  {name} bucket -> node map", parts["node_map"] / 2**20, "MiB")
