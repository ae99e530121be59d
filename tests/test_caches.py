"""Per-node cache models (issue 14): exact to libCacheSim, properties, metrics, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routebench._errors import RoutebenchError
from routebench.caches import (
    CacheReferences,
    CacheSpec,
    HitWindows,
    NodeCaches,
    dip_and_recovery,
    miss_load_peak_to_mean,
    parse_size,
    policies,
    split_total,
)

try:
    import libcachesim as lcs
except ImportError:  # the compiled caches are tested anyway; the comparisons need it
    lcs = None
needs_lcs = pytest.mark.skipif(lcs is None, reason="libcachesim is not installed "
                                                   "(routebench[cache])")


def zipf_stream(n: int, universe: int, s: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.arange(1, universe + 1, dtype=np.float64) ** -s)
    return np.searchsorted(cdf / cdf[-1], rng.random(n)).astype(np.uint64)


def mix(keys: np.ndarray) -> np.ndarray:
    """A bijection of uint64 keys (MurmurHash3's finaliser): digests from ids."""
    x = keys.astype(np.uint64)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    return x


def libcachesim_hits(policy: str, caps, nodes, keys, sizes=None, clears=()) -> np.ndarray:
    """libCacheSim itself, one cache object a node, one Request a call: the reference.

    ``clears``: (request index, node) pairs; the node's cache is recreated empty
    before that request.
    """
    cls = getattr(lcs, policy)
    caches = [cls(cache_size=int(c), hashpower=12) for c in caps]
    req = lcs.Request()
    req.obj_size = 1
    pending = dict()
    for at, node in clears:
        pending.setdefault(at, []).append(node)
    out = np.empty(len(keys), bool)
    sz = sizes.tolist() if sizes is not None else None
    for i, (n, k) in enumerate(zip(np.asarray(nodes).tolist(), keys.tolist())):
        for c in pending.get(i, ()):
            caches[c] = cls(cache_size=int(caps[c]), hashpower=12)
        req.obj_id = k
        if sz is not None:
            req.obj_size = sz[i]
        out[i] = caches[n].get(req)
    return out


def ours(spec: str, n_nodes: int, nodes, keys, sizes=None, chunk: int = 4096, clears=(),
         **kw) -> tuple[np.ndarray, NodeCaches]:
    nc = NodeCaches(spec, n_nodes, has_sizes=sizes is not None, **kw)
    out = np.empty(len(keys), bool)
    cuts = sorted({0, len(keys), *range(0, len(keys), chunk), *(at for at, _ in clears)})
    todo = dict()
    for at, node in clears:
        todo.setdefault(at, []).append(node)
    for a, b in zip(cuts, cuts[1:]):
        for node in todo.get(a, ()):
            nc.event("crash", node)
        out[a:b] = nc.request_chunk(nodes[a:b], keys[a:b],
                                    None if sizes is None else sizes[a:b])
    return out, nc


# -- exact agreement with libCacheSim ------------------------------------------
@needs_lcs
@pytest.mark.parametrize("policy", ["LRU", "FIFO"])
@pytest.mark.parametrize("n_nodes,size", [(1, 1), (1, 50), (1, 2000), (7, 3), (7, 300),
                                          (100, 20)])
def test_exact_to_libcachesim_objects(policy, n_nodes, size):
    keys = mix(zipf_stream(60_000, 20_000, 1.0, seed=size))
    nodes = (keys % np.uint64(n_nodes)).astype(np.int64)
    mine, nc = ours(f"{policy}:size={size}", n_nodes, nodes, keys)
    ref = libcachesim_hits(policy, [size] * n_nodes, nodes, keys)
    assert np.array_equal(mine, ref)
    st_ = nc.stats()
    assert st_.hits.sum() == ref.sum() and st_.requests == keys.size
    assert np.all(st_.objects <= size)


@needs_lcs
@pytest.mark.parametrize("policy", ["LRU", "FIFO"])
def test_exact_to_libcachesim_bytes(policy):
    """Sizes fixed per key, some larger than a node's cache (missed, never admitted)."""
    keys = zipf_stream(80_000, 30_000, 0.9, seed=3)
    sizes = (mix(keys) % np.uint64(700) + np.uint64(1)).astype(np.int64)
    sizes[keys % np.uint64(97) == 0] = 6000  # larger than the cache
    nodes = (mix(keys + np.uint64(1)) % np.uint64(5)).astype(np.int64)
    mine, nc = ours(f"{policy}:size=5000B", 5, nodes, keys, sizes)
    ref = libcachesim_hits(policy, [5000] * 5, nodes, keys, sizes)
    assert np.array_equal(mine, ref)
    st_ = nc.stats()
    assert np.all(st_.used <= 5000)
    assert st_.hit_bytes.sum() == sizes[ref].sum()
    assert st_.miss_bytes.sum() == sizes[~ref].sum()


@needs_lcs
@pytest.mark.parametrize("policy", ["LRU", "FIFO"])
def test_exact_to_libcachesim_sizes_changing_and_table_growth(policy):
    """A key's size changes between requests (a hit keeps the stored size, as libCacheSim
    does), an object exactly the cache's size is admitted, and enough small objects are
    cached that the compiled table grows (rehash) several times mid-stream."""
    rng = np.random.default_rng(11)
    keys = zipf_stream(150_000, 120_000, 0.6, seed=4)
    sizes = rng.integers(1, 4, keys.size)
    sizes[::1000] = 150_000  # exactly one node's capacity
    nodes = rng.integers(0, 3, keys.size)
    mine, nc = ours(f"{policy}:size=150000B", 3, nodes, keys, sizes, chunk=30_000)
    assert nc.memory_bytes > (1 << 16) * 32  # it grew past its first table
    ref = libcachesim_hits(policy, [150_000] * 3, nodes, keys, sizes)
    assert np.array_equal(mine, ref)


@needs_lcs
@pytest.mark.parametrize("policy", ["LRU", "FIFO"])
def test_exact_to_libcachesim_with_crashes(policy):
    keys = mix(zipf_stream(40_000, 8_000, 1.1, seed=5))
    nodes = (keys % np.uint64(4)).astype(np.int64)
    clears = [(5_000, 1), (12_345, 0), (12_345, 3), (30_000, 1)]
    mine, _ = ours(f"{policy}:size=400", 4, nodes, keys, clears=clears, chunk=7_000)
    ref = libcachesim_hits(policy, [400] * 4, nodes, keys, clears=clears)
    assert np.array_equal(mine, ref)


@needs_lcs
@pytest.mark.parametrize("policy", ["LRU", "FIFO"])
def test_exact_to_libcachesim_on_the_arc_oltp_trace(policy, shared_datasets):
    from routebench.datasets import open_trace
    from routebench.hashing import get_hasher

    path = shared_datasets / "arc_oltp.lis.zst"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    h = get_hasher("xxh3")
    keys = np.concatenate([c.columns["key"].digest(h) for c in open_trace(str(path)).chunks()])
    assert keys.size == 914_145
    nodes = (keys % np.uint64(4)).astype(np.int64)
    spec = CacheSpec.parse(f"{policy}:size=1%")
    nc = NodeCaches(spec, 4, distinct_keys=186_880)
    assert list(nc.capacities) == [1869] * 4
    mine = np.concatenate([nc.request_chunk(nodes[a:a + 262_144], keys[a:a + 262_144])
                           for a in range(0, keys.size, 262_144)])
    ref = libcachesim_hits(policy, nc.capacities, nodes, keys)
    assert np.array_equal(mine, ref)
    assert 0.05 < mine.mean() < 0.95


@needs_lcs
@settings(derandomize=True, max_examples=30, deadline=None)
@given(policy=st.sampled_from(["LRU", "FIFO"]), n_nodes=st.integers(1, 6),
       size=st.integers(1, 40), n=st.integers(0, 600), universe=st.integers(1, 80),
       chunk=st.integers(1, 200), sized=st.booleans(), seed=st.integers(0, 2**16))
def test_exact_to_libcachesim_property(policy, n_nodes, size, n, universe, chunk, sized, seed):
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, universe, n).astype(np.uint64)
    nodes = rng.integers(0, n_nodes, n)
    sizes = rng.integers(1, 2 * size + 2, n) if sized else None
    spec = f"{policy}:size={size}{'B' if sized else ''}"
    clears = [(int(a), int(rng.integers(0, n_nodes))) for a in rng.integers(0, n + 1, 2)]
    mine, nc = ours(spec, n_nodes, nodes, keys, sizes, chunk=chunk, clears=clears)
    assert np.array_equal(mine, libcachesim_hits(policy, [size] * n_nodes, nodes, keys, sizes,
                                                 clears=clears))


@needs_lcs
def test_the_libcachesim_engine_matches_the_compiled_one():
    keys = mix(zipf_stream(20_000, 5_000, seed=8))
    nodes = (keys % np.uint64(3)).astype(np.int64)
    a, na = ours("LRU:size=100", 3, nodes, keys)
    b, nb = ours("LRU:size=100,engine=libcachesim", 3, nodes, keys)
    assert np.array_equal(a, b)
    sa, sb = na.stats(), nb.stats()
    for f in ("hits", "misses", "hit_bytes", "miss_bytes", "objects", "used"):
        assert np.array_equal(getattr(sa, f), getattr(sb, f)), f


@pytest.mark.parametrize("policy", ["LRU", "FIFO"])
def test_request_one_for_compiled_callers_matches_request_chunk(policy):
    """The per-request entry point (for a simulator's compiled loop), table growth included."""
    from routebench.caches import _kernels as K

    rng = np.random.default_rng(6)
    keys = rng.integers(0, 60_000, 80_000).astype(np.uint64)
    sizes = rng.integers(1, 5, keys.size)
    nodes = rng.integers(0, 3, keys.size)
    want, ref = ours(f"{policy}:size=100000B", 3, nodes, keys, sizes)
    nc = NodeCaches(f"{policy}:size=100000B", 3, has_sizes=True)
    c = nc.compiled
    got = np.empty(keys.size, bool)
    for i, (n, k, s) in enumerate(zip(nodes.tolist(), keys.view(np.int64).tolist(),
                                      sizes.tolist())):
        r = K.request_one(c.ent, c.nodes, c.glob, n, k, s, c.byte_mode, c.lru)
        if r < 0:
            c.grow()
            r = K.request_one(c.ent, c.nodes, c.glob, n, k, s, c.byte_mode, c.lru)
        got[i] = r == 1
    assert np.array_equal(got, want)
    assert np.array_equal(nc.stats().hits, ref.stats().hits)


# -- properties -----------------------------------------------------------------
streams = st.tuples(st.integers(1, 5), st.integers(1, 60), st.integers(0, 800),
                    st.integers(0, 2**16))


def _stream(n_nodes, universe, n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_nodes, n), rng.integers(0, universe, n).astype(np.uint64)


@settings(derandomize=True, deadline=None)
@given(stream=streams, size=st.integers(1, 30), policy=st.sampled_from(["LRU", "FIFO"]))
def test_hits_plus_misses_are_the_requests(stream, size, policy):
    nodes, keys = _stream(*stream)
    hits, nc = ours(f"{policy}:size={size}", stream[0], nodes, keys, chunk=97)
    s = nc.stats()
    per_node = np.bincount(nodes, minlength=stream[0])
    assert np.array_equal(s.hits + s.misses, per_node)
    assert np.array_equal(s.hits, np.bincount(nodes[hits], minlength=stream[0]))
    assert s.requests == keys.size == nc.requests


@settings(derandomize=True, deadline=None)
@given(stream=streams, policy=st.sampled_from(["LRU", "FIFO"]))
def test_a_cache_holding_every_key_misses_each_key_once(stream, policy):
    nodes, keys = _stream(*stream)
    hits, _ = ours(f"{policy}:size={stream[1]}", stream[0], nodes, keys, chunk=64)
    pairs = {(int(n), int(k)) for n, k in zip(nodes, keys)}
    assert int((~hits).sum()) == len(pairs)


@settings(derandomize=True, deadline=None)
@given(stream=streams, small=st.integers(1, 20), more=st.integers(1, 20))
def test_lru_inclusion_property(stream, small, more):
    """An LRU cache of size c holds a subset of one of size c + k: every hit at c is one
    at c + k, so the hit ratio never falls as the size grows."""
    nodes, keys = _stream(*stream)
    a, _ = ours(f"LRU:size={small}", stream[0], nodes, keys)
    b, _ = ours(f"LRU:size={small + more}", stream[0], nodes, keys)
    assert np.all(b[a])
    assert b.sum() >= a.sum()


@settings(derandomize=True, deadline=None)
@given(stream=streams, size=st.integers(1, 30), policy=st.sampled_from(["LRU", "FIFO"]),
       event=st.sampled_from(["crash", "leave", "recover"]))
def test_a_cleared_node_misses_next(stream, size, policy, event):
    nodes, keys = _stream(*stream)
    nc = NodeCaches(f"{policy}:size={size}", stream[0])
    nc.request_chunk(nodes, keys)
    victim = int(nodes[-1]) if nodes.size else 0
    nc.event(event, victim)
    assert nc.stats().objects[victim] == 0 and nc.stats().used[victim] == 0
    again = nc.request_chunk(nodes[::-1].copy(), keys[::-1].copy())
    first = np.nonzero(nodes[::-1] == victim)[0]
    if first.size:
        assert not again[first[0]]


def test_join_adds_an_empty_cache_and_events_are_recorded():
    nc = NodeCaches("LRU:size=10", 2)
    keys = np.arange(30, dtype=np.uint64)
    nc.request_chunk(np.zeros(30, np.int64), keys)
    assert nc.event("join") == 2
    assert list(nc.capacities) == [10, 10, 10]
    assert not nc.request_chunk(np.array([2]), np.array([29], np.uint64))[0]
    assert nc.request_chunk(np.array([0]), np.array([29], np.uint64))[0]
    nc.event("crash", 0)
    assert [(e.at, e.kind, e.node) for e in nc.events] == [(30, "join", 2), (32, "crash", 0)]
    tot = NodeCaches("FIFO:total=100", 3)
    assert list(tot.capacities) == [34, 33, 33]
    assert tot.add_node() == 3 and tot.capacities[3] == 33
    nc.set_capacity(1, 3)
    assert nc.capacities[1] == 3
    with pytest.raises(RoutebenchError, match="outside 0..2"):
        nc.event("crash", 5)


@pytest.mark.parametrize("spec", ["LRU:size=50", "FIFO:total=120",
                                  pytest.param("ARC:size=50", marks=needs_lcs)])
def test_reset_gives_the_same_answers_as_a_new_one(spec):
    keys = mix(zipf_stream(5_000, 2_000, seed=12))
    nodes = (keys % np.uint64(3)).astype(np.int64)
    nc = NodeCaches(spec, 3, window=100)
    first = nc.request_chunk(nodes, keys)
    nc.event("join")
    nc.event("crash", 1)
    nc.reset()
    assert nc.n_nodes == 3 and nc.requests == 0 and nc.events == []
    assert nc.stats().requests == 0 and nc.stats().objects.sum() == 0
    again = nc.request_chunk(nodes, keys)
    assert np.array_equal(first, again)
    assert nc.windows.requests == keys.size


def test_set_capacity_shrinks_from_the_tail():
    nc = NodeCaches("LRU:size=10", 1)
    nc.request_chunk(np.zeros(10, np.int64), np.arange(10, dtype=np.uint64))
    nc.request_chunk(np.zeros(1, np.int64), np.array([0], np.uint64))  # 0 is most recent
    nc.set_capacity(0, 3)
    assert list(nc.keys_of(0)) == [0, 9, 8]
    assert nc.stats().objects[0] == 3


@needs_lcs
def test_other_libcachesim_policies_run_through_the_same_interface():
    keys = mix(zipf_stream(3_000, 1_000, seed=2))
    nodes = (keys % np.uint64(3)).astype(np.int64)
    names = list(policies())
    assert {"LRU", "FIFO", "ARC", "S3FIFO", "Sieve", "WTinyLFU", "LFU"} <= set(names)
    for name in names:
        nc = NodeCaches(f"{name}:size=200", 3)
        hits = nc.request_chunk(nodes, keys)
        s = nc.stats()
        assert s.requests == keys.size and s.hits.sum() == hits.sum(), name
        assert 0 < s.hit_ratio < 1, name
        nc.event("crash", 1)
        assert nc.stats().objects[1] == 0, name
        if policies()[name].deterministic:
            again = NodeCaches(f"{name}:size=200", 3).request_chunk(nodes, keys)
            assert np.array_equal(hits, again), name
    s3 = CacheSpec.parse("s3-fifo:size=10,small_size_ratio=0.2")
    assert s3.policy == "S3FIFO" and s3.label == "S3FIFO:size=10,small_size_ratio=0.2"
    assert CacheSpec.parse("TinyLFU:size=5").policy == "WTinyLFU"
    assert NodeCaches("ARC:size=10", 1).compiled is None


def test_without_libcachesim_lru_and_fifo_still_run(monkeypatch):
    from routebench.caches import _spec

    monkeypatch.setattr(_spec, "_libcachesim_module", lambda: None)
    monkeypatch.setattr(_spec, "_POLICIES", None)
    assert list(policies()) == ["LRU", "FIFO"]
    assert CacheSpec.parse("LRU:size=10").engine == "numba"
    with pytest.raises(RoutebenchError, match=r"unknown cache policy 'ARC' \(it needs libcachesim: "
                                              r"pip install libcachesim, or routebench\[cache\]\); "
                                              r"available: LRU, FIFO"):
        CacheSpec.parse("ARC:size=10")
    with pytest.raises(RoutebenchError, match="engine=libcachesim needs libcachesim"):
        CacheSpec.parse("LRU:size=10,engine=libcachesim")


# -- references and metrics ------------------------------------------------------
def test_references_shared_cache_and_random_routing():
    keys = mix(zipf_stream(50_000, 20_000, seed=9))
    refs = CacheReferences("LRU:size=200", 8, seed=1)
    keyed = NodeCaches("LRU:size=200", 8)
    for a in range(0, keys.size, 10_000):
        k = keys[a:a + 10_000]
        refs.request_chunk(k)
        keyed.request_chunk((k % np.uint64(8)).astype(np.int64), k)
    shared, rnd, key = (refs.shared.stats().hit_ratio, refs.random.stats().hit_ratio,
                        keyed.stats().hit_ratio)
    assert refs.shared.capacities.tolist() == [1600]
    assert shared > key > rnd  # partitioning by key keeps locality; random routing loses it


def test_hit_windows_across_chunks():
    rng = np.random.default_rng(0)
    hits = rng.random(10_007) < 0.3
    w = HitWindows(100)
    for a, b in zip([0, 3, 3, 250, 999, 5000], [3, 3, 250, 999, 5000, 10_007]):
        w.add(hits[a:b])
    want = hits[:10_000].reshape(100, 100).mean(axis=1)
    assert np.allclose(w.ratios(), want)
    assert w.ratios(partial=True)[-1] == pytest.approx(hits[10_000:].mean())
    assert w.requests == 10_007


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 50), st.lists(st.integers(0, 80), min_size=1, max_size=12))
def test_hit_windows_end_times_whatever_the_chunks(window, cuts):
    """A window's end time is its last request's, however the stream is cut into chunks."""
    n = sum(cuts)
    times = np.cumsum(np.random.default_rng(n).random(n))
    hits = np.arange(n) % 3 == 0
    w = HitWindows(window)
    at = 0
    for c in cuts:
        w.add(hits[at:at + c], times[at:at + c])
        at += c
    full = n // window
    assert w.ends().tolist() == times[window - 1: full * window: window].tolist()
    assert w.ratios().size == full


def test_dip_and_recovery_until_the_next_event():
    r = np.array([0.8, 0.8, 0.8, 0.7, 0.75, 0.5, 0.8, 0.8])
    # the next event at request 50 (window 5): its dip is not this event's
    rec = dip_and_recovery(r, 10, 30, baseline=3, until=50)
    assert rec.dip == 0.7 and rec.recovery_requests is None  # not back before window 5
    whole = dip_and_recovery(r, 10, 30, baseline=3)
    assert whole.dip == 0.5 and whole.recovery_requests == 70 - 30


def test_dip_and_recovery_on_a_constructed_series():
    r = np.array([0.80, 0.82, 0.80, 0.81, 0.82, 0.40, 0.55, 0.70, 0.802, 0.81, 0.80])
    rec = dip_and_recovery(r, 1000, 5_300, baseline=5)
    assert rec.before == pytest.approx(0.81)
    assert rec.dip == 0.40 and rec.dip_window == 5
    assert rec.drop == pytest.approx(0.41)
    # window 8 (0.802) is within 1 point of 0.81: back by its end, request 9000
    assert rec.recovery_requests == 9_000 - 5_300
    never = dip_and_recovery(np.array([0.9, 0.9, 0.5, 0.6]), 10, 20)
    assert never.recovery_requests is None and not never.recovered
    flat = dip_and_recovery(np.array([0.5, 0.5, 0.499]), 10, 25)
    assert flat.recovery_requests == 0
    with pytest.raises(RoutebenchError, match="no full window"):
        dip_and_recovery(r, 1000, 500)


def test_recovery_after_a_crash_end_to_end():
    keys = mix(zipf_stream(200_000, 5_000, 1.0, seed=4))
    nodes = (keys % np.uint64(4)).astype(np.int64)
    nc = NodeCaches("LRU:size=500", 4, window=2_000)
    nc.request_chunk(nodes[:100_000], keys[:100_000])
    for n in range(4):
        nc.event("crash", n)
    nc.request_chunk(nodes[100_000:], keys[100_000:])
    rec = nc.recovery(nc.events[0])
    assert rec.dip_window == 50 and rec.dip < rec.before - 0.2  # cold caches right after
    assert rec.recovered and 2_000 < rec.recovery_requests < 50_000


def test_miss_load_peak_to_mean():
    assert miss_load_peak_to_mean(np.array([10, 10, 10])) == 1.0
    assert miss_load_peak_to_mean(np.array([30, 10, 20])) == pytest.approx(1.5)
    assert miss_load_peak_to_mean(np.array([30, 0, 20]), active=[True, False, True]) == 1.2
    assert math.isnan(miss_load_peak_to_mean(np.zeros(3)))


# -- sizes and bad input ------------------------------------------------------------
def test_size_forms():
    assert parse_size("1000").kind == "objects" and parse_size("10_000").value == 10_000
    assert parse_size("64MiB").value == 64 << 20 and parse_size("64MiB").is_bytes
    assert parse_size("1.5GB").value == 1_500_000_000 and parse_size("4096B").value == 4096
    assert parse_size("1%").resolve(186_880) == 1869
    assert list(split_total(10, 3)) == [4, 3, 3]
    assert list(split_total(10, 3, np.array([1.0, 1.0, 2.0]))) == [3, 2, 5]
    caps, in_bytes = CacheSpec.parse("LRU:total=64MiB").capacities(4, has_sizes=True)
    assert in_bytes and caps.sum() == 64 << 20
    spec = CacheSpec.from_params("fifo", {"size": 1000})
    assert spec.label == "FIFO:size=1000" and spec.engine == "numba"


@pytest.mark.parametrize("text,message", [
    ("LRU:size=0", "cache size '0' is 0: a cache must hold at least one object"),
    ("LRU:size=0MiB", "cache size '0MiB' is 0: a cache must hold at least one byte"),
    ("LRU:size=lots", "cache size 'lots': expected objects (1000), bytes (64MiB, 1.5GB, "
                      "4096B) or a share of distinct keys (1%)"),
    ("LRU", "cache 'LRU': no size; give size= (each node) or total= (split across nodes)"),
    ("LRU:size=10,total=100", "give size= (each node) or total= (split), not both"),
    ("LRU:size=10,ways=4", "unknown parameter 'ways' for cache 'LRU'; accepted: size, total, "
                           "engine"),
    pytest.param("ARC:size=10,engine=numba", "cache 'ARC': engine=numba is not available; "
                                             "ARC runs on libcachesim", marks=needs_lcs),
])
def test_bad_specs_are_one_clear_line(text, message):
    with pytest.raises(RoutebenchError) as e:
        CacheSpec.parse(text)
    assert message in str(e.value) and "\n" not in str(e.value)


@needs_lcs
def test_sizes_libcachesim_cannot_run_at_are_refused_not_crashed():
    """S3FIFO below 20 objects aborts the process inside libCacheSim, WTinyLFU below 100
    never hits: refused up front, with the size that would work."""
    with pytest.raises(RoutebenchError, match=r"cache S3FIFO:size=10: a node of 10 objects: "
                                              r"libCacheSim's S3FIFO needs small_size_ratio x "
                                              r"size >= 2 \(10 x 0.1 gives 1\): give size >= 20"):
        NodeCaches("S3FIFO:size=10", 2)
    with pytest.raises(RoutebenchError, match=r"window_size x size >= 1 \(99 x 0.01 gives 0\): "
                                              r"give size >= 100 or a larger window_size"):
        NodeCaches("WTinyLFU:size=99", 2)
    with pytest.raises(RoutebenchError, match="needs a size of at least 4"):
        NodeCaches("SLRU:total=12", 4)
    nc = NodeCaches("S3FIFO:size=10,small_size_ratio=0.2", 2)
    with pytest.raises(RoutebenchError, match="give size >= 10"):
        nc.set_capacity(0, 9)
    assert NodeCaches("S3FIFO:size=20", 1).capacities.tolist() == [20]


@needs_lcs
def test_unknown_policy_lists_the_available_ones():
    with pytest.raises(RoutebenchError, match=r"unknown cache policy 'MRU'; available: LRU, "
                                              r"FIFO, LFU, ARC, .*S3FIFO, Sieve"):
        CacheSpec.parse("MRU:size=10")


def test_bad_sizes_for_the_trace():
    with pytest.raises(RoutebenchError, match="a size in bytes needs object sizes, and this "
                                              "trace has none"):
        NodeCaches("LRU:size=64MiB", 4)
    with pytest.raises(RoutebenchError, match="share of the trace's distinct keys"):
        NodeCaches("LRU:size=1%", 4)
    with pytest.raises(RoutebenchError, match=r"'0.001%' of 1,000 distinct keys is 0 objects"):
        NodeCaches("LRU:size=0.001%", 4, distinct_keys=1000)
    with pytest.raises(RoutebenchError, match="leaves a node with 0 objects"):
        NodeCaches("LRU:total=3", 4)
    nc = NodeCaches("LRU:size=64KiB", 2, has_sizes=True)
    with pytest.raises(RoutebenchError, match="needs object sizes with every chunk"):
        nc.request_chunk(np.array([0]), np.array([1], np.uint64))
    with pytest.raises(RoutebenchError, match="object size 0 is outside"):
        nc.request_chunk(np.array([0]), np.array([1], np.uint64), np.array([0]))
    with pytest.raises(RoutebenchError, match="node index 2 is outside 0..1"):
        nc.request_chunk(np.array([2]), np.array([1], np.uint64), np.array([5]))


def test_a_size_beyond_memory_is_refused_with_the_estimate():
    with pytest.raises(RoutebenchError) as e:
        NodeCaches("LRU:size=100000000000", 100)
    msg = str(e.value)
    assert msg.startswith("cache LRU:size=100000000000 on 100 nodes needs about ")
    assert "PB (10,000,000,000,000 objects); " in msg and "choose a smaller size" in msg
    with pytest.raises(RoutebenchError, match=r"needs about 8.4 MB \(100,000 objects\); "
                                              r"1.0 MB may be used"):
        NodeCaches("FIFO:size=1000", 100, max_memory=1_000_000)
    nc = NodeCaches("LRU:size=1MiB", 1, has_sizes=True, max_memory=3_000_000)
    keys = np.arange(100_000, dtype=np.uint64)
    with pytest.raises(RoutebenchError, match=r"needs about 4.2 MB \(room for 65,536 objects, "
                                              r"32,768 cached so far\)"):
        nc.request_chunk(np.zeros(keys.size, np.int64), keys, np.ones(keys.size, np.int64))
