"""Golden vectors: routebench against reference implementations and papers."""

from __future__ import annotations

import functools
import math

import jump
import numpy as np
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_strategies import KETAMA_FLOAT_QUIRK, key_lists, node_lists
from uhashring import HashRing

import routebench
from routebench.strategies._kernels import jump_many
from routebench.strategies.maglev import populate


# -- jump: the jump-consistent-hash package on the same xxh3 digests ---------
@given(key_lists, st.integers(min_value=1, max_value=5000))
def test_jump_matches_reference_package(keys, n):
    s = routebench.create("jump", n)
    want = [
        jump.hash(xxhash.xxh3_64_intdigest(k.encode() if isinstance(k, str) else k), n)
        for k in keys
    ]
    assert s.lookup_many(s.digest(keys)).tolist() == want
    assert [s.lookup(k) for k in keys] == [f"node-{i}" for i in want]


def test_jump_matches_reference_on_extreme_digests():
    d = np.array([0, 1, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64)
    for n in (1, 2, 7, 1000, 100_000):
        s = routebench.create("jump", n)
        assert s.lookup_many(d).tolist() == [jump.hash(int(x), n) for x in d]
    # the kernel itself at the largest bucket count the reference accepts
    out = np.empty(d.size, dtype=np.intp)
    jump_many(d, 2**31 - 1, out)
    assert out.tolist() == [jump.hash(int(x), 2**31 - 1) for x in d]


# -- ketama: uhashring's ketama mode, which follows libketama -----------------
def _uhashring_nodes(nodes):
    return HashRing(nodes=nodes, hash_fn="ketama")


@given(node_lists(1, 40).filter(lambda ns: len(ns) not in KETAMA_FLOAT_QUIRK), key_lists)
def test_ketama_matches_uhashring(nodes, keys):
    keys = [k for k in keys if isinstance(k, str)]  # uhashring hashes str(key)
    s = routebench.create("ketama", nodes)
    ref = _uhashring_nodes(nodes)
    assert [s.lookup(k) for k in keys] == [ref.get_node(k) for k in keys]
    idx = s.lookup_many(s.digest(keys))
    assert [s.nodes[i] for i in idx] == [ref.get_node(k) for k in keys]


@pytest.mark.parametrize("n", [1, 2, 10, 100, 500])
def test_ketama_continuum_equals_uhashring(n):
    nodes = [f"10.0.{i // 256}.{i % 256}:11211" for i in range(n)]
    s = routebench.create("ketama", nodes)
    ref = _uhashring_nodes(nodes)
    assert s.points.tolist() == sorted(ref.runtime._keys)
    keys = [f"user:{i}" for i in range(5000)]
    assert [s.lookup(k) for k in keys] == [ref.get_node(k) for k in keys]


def test_ketama_weights_match_uhashring():
    nodes = {"a": 1, "b": 2, "c": 3, "d": 5, "e": 8}
    s = routebench.create("ketama", nodes)
    ref = HashRing(nodes={k: {"weight": v} for k, v in nodes.items()}, hash_fn="ketama")
    assert len(s.points) == len(ref.runtime._keys)
    keys = [f"k{i}" for i in range(5000)]
    assert [s.lookup(k) for k in keys] == [ref.get_node(k) for k in keys]


def _libketama_hashes_per_node(n: int) -> int:
    # libketama, ketama.c: float pct = 1/n; unsigned ks = floorf(pct * 40.0 * (float)n);
    # pct * 40.0 is a double product; floorf takes a float argument.
    pct = np.float32(np.float32(1) / np.float32(n))
    return math.floor(np.float32(float(pct) * 40.0 * float(np.float32(n))))


def test_ketama_follows_libketama_float_rounding_where_uhashring_does_not():
    # At these N, C's float arithmetic gives 39 hashes (156 points) a node where
    # uhashring's integer arithmetic gives 40: routebench follows libketama.
    # (The node counts come from compiling the C expression with gcc.)
    assert [n for n in range(1, 1000) if _libketama_hashes_per_node(n) != 40] == list(
        KETAMA_FLOAT_QUIRK
    )
    s = routebench.create("ketama", 61)
    assert len(s.points) == 61 * 39 * 4
    assert len(_uhashring_nodes(list(s.nodes)).runtime._keys) == 61 * 40 * 4


# -- ketama where two servers share a continuum point ---------------------------
# A 32-bit point shared by two servers happens in ~15-25% of rings of 200-300
# servers (birthday bound: 1 - exp(-P^2 / 2^33) for P = 160 N points). These rings
# are found, not drawn: each has at least one shared point (checked below).
COLLIDING_RINGS = {
    "ip-674": [f"10.0.{i // 256}.{i % 256}:11211" for i in range(674)],  # issue 10
    "ip-1200": [f"10.0.{i // 256}.{i % 256}:11211" for i in range(1200)],  # four shared
    "mc2-250": [f"mc2-{i}.example:11211" for i in range(250)],
    "mc16-250": [f"mc16-{i}.example:11211" for i in range(250)],  # two shared
}


@functools.cache
def _colliding(ring):
    """routebench's and uhashring's ketama over one of COLLIDING_RINGS (built once)."""
    nodes = COLLIDING_RINGS[ring]
    return nodes, routebench.create("ketama", nodes), _uhashring_nodes(nodes)


def _shared_points(s):
    p = s.points
    return sorted(set(p[1:][p[1:] == p[:-1]].tolist()))


def _key_on_arc(s, point, tries=400_000):
    """A key whose hash falls in the arc that ends at ``point`` (None: none in ``tries``)."""
    pts = s.points.tolist()
    j = pts.index(point)
    lo = pts[j - 1] if j else -1
    keys = [f"k{i}" for i in range(tries)]
    h = s.digest(keys)
    hit = np.flatnonzero((h > lo) & (h <= point))
    return keys[hit[0]] if hit.size else None


@pytest.mark.parametrize("ring", sorted(COLLIDING_RINGS))
def test_ketama_shared_point_goes_to_the_later_server_like_uhashring(ring):
    # uhashring keeps the server inserted later (its point map is overwritten in
    # insertion order), as RJ/ketama's Java client does (TreeMap.put). libketama's
    # C leaves it to qsort, which C does not define for equal points.
    nodes, s, ref = _colliding(ring)
    shared = _shared_points(s)
    assert shared, f"{ring} no longer has a shared point: pick another ring"
    assert s.points.tolist() == sorted(ref.runtime._keys)
    python_path = routebench.KeyedStrategy.lookup
    checked = 0
    for p in shared:
        owners = [nodes[o] for o, q in zip(s.owners, s.points) if q == p]
        later = max(owners, key=nodes.index)
        assert ref.runtime._ring[p] == later
        assert s.nodes[int(s.lookup_many(np.array([p], dtype=np.uint64))[0])] == later
        key = _key_on_arc(s, p)
        if key is not None:  # else the arc is too short to find a key on it by chance
            assert s.lookup(key) == python_path(s, key) == ref.get_node(key) == later
            checked += 1
    assert checked


def _key_on_point(s, key):
    return int(s.digest([key])[0]) in set(s.points.tolist())


@pytest.mark.parametrize("ring", sorted(COLLIDING_RINGS))
def test_ketama_owners_equal_uhashring_over_many_keys_on_colliding_rings(ring):
    nodes, s, ref = _colliding(ring)
    keys = [f"user:{i}" for i in range(100_000)]
    from routebench.strategies import ring

    assert (s._c is not None) == (ring._CContinuum is not None)
    c_or_python = [s.lookup(k) for k in keys]  # the C path where it is built
    python_path = [routebench.KeyedStrategy.lookup(s, k) for k in keys]
    d = s.digest(keys)
    batch = [s.nodes[i] for i in s.lookup_many(d)]
    nxt = np.searchsorted(s.points, d) % len(s.points)
    assert np.isin(s.points[nxt], _shared_points(s)).any()  # some keys are on a shared point
    want = []
    for k in keys:
        h = ref.hashi(k)
        # a key hashing exactly onto a point belongs to that point in libketama
        # (h <= point) and the Java client (ceilingKey); uhashring's bisect_right
        # gives it the next point's server (see test_ketama_key_on_a_point below)
        want.append(ref.runtime._ring[h] if h in ref.runtime._ring else ref.get_node(k))
    assert c_or_python == want
    assert python_path == want
    assert batch == want


def test_ketama_key_on_a_point_belongs_to_that_point():
    # the key "<server>-0" hashes to the server's first point exactly
    nodes, s, ref = _colliding("mc2-250")
    keys = [f"{n}-0" for n in nodes]
    assert all(_key_on_point(s, k) for k in keys)
    owner_of_point = [ref.runtime._ring[ref.hashi(k)] for k in keys]
    assert [s.lookup(k) for k in keys] == owner_of_point
    assert [routebench.KeyedStrategy.lookup(s, k) for k in keys] == owner_of_point
    assert [s.nodes[i] for i in s.lookup_many(s.digest(keys))] == owner_of_point
    # the one place routebench and uhashring differ: uhashring takes the next point
    assert sum(ref.get_node(k) != o for k, o in zip(keys, owner_of_point)) > 200


def test_ketama_issue_10_example():
    nodes = COLLIDING_RINGS["ip-674"]
    s = routebench.create("ketama", nodes)
    assert s.lookup("user:55741") == "10.0.2.161:11211"
    assert routebench.KeyedStrategy.lookup(s, "user:55741") == "10.0.2.161:11211"
    # the later server keeps the point when the ring grows, and gives it back on leaving
    t = s.copy()
    t.remove("10.0.2.161:11211")
    assert t.lookup("user:55741") == "10.0.2.53:11211"
    t.add("10.0.2.161:11211")
    assert t.lookup("user:55741") == "10.0.2.161:11211"


# -- maglev: the NSDI 2016 paper's Table 1 ------------------------------------
def test_maglev_populate_matches_paper_table_1():
    # backends B0, B1, B2 with (offset, skip) = (3, 4), (0, 2), (3, 1), M = 7
    before = populate([3, 0, 3], [4, 2, 1], 7)
    assert before.tolist() == [1, 0, 1, 0, 2, 2, 0]  # B1 B0 B1 B0 B2 B2 B0
    # B1 removed: B0 and B2 keep their permutations
    after = populate([3, 3], [4, 1], 7)
    names = np.array(["B0", "B2"])
    assert names[after].tolist() == ["B0", "B0", "B0", "B0", "B2", "B2", "B2"]


def test_maglev_permutations_cover_the_table():
    s = routebench.create("maglev", 50, M=5003)
    counts = np.bincount(s.table, minlength=50)
    assert counts.sum() == 5003 and counts.min() >= 5003 // 50 and counts.max() <= 5003 // 50 + 1


def test_maglev_weights_give_table_shares():
    s = routebench.create("maglev", {"a": 1, "b": 2, "c": 1}, M=65537)
    share = np.bincount(s.table, minlength=3) / 65537
    assert share == pytest.approx([0.25, 0.5, 0.25], abs=0.002)


# -- rendezvous: the logarithmic method gives weight-proportional shares ------
def test_rendezvous_weighted_shares():
    s = routebench.create("rendezvous", {"a": 1, "b": 2, "c": 5})
    d = np.random.default_rng(3).integers(0, 2**64 - 1, 400_000, dtype=np.uint64)
    share = np.bincount(s.lookup_many(d), minlength=3) / d.size
    assert share == pytest.approx([1 / 8, 2 / 8, 5 / 8], abs=0.005)


# -- ketama's optional C path against the pure-Python one -----------------------
cketama = pytest.importorskip("routebench._cketama", reason="C extension not built here")


@given(st.binary(max_size=300))
def test_c_hashi_is_the_first_md5_word(data):
    from _md5 import md5

    assert cketama.hashi(data) == int.from_bytes(md5(data).digest()[:4], "little")


@given(node_lists(1, 30), key_lists)
def test_ketama_c_lookup_equals_python_lookup(nodes, keys):
    s = routebench.create("ketama", nodes)
    assert s._c is not None
    python_path = routebench.KeyedStrategy.lookup
    assert [s.lookup(k) for k in keys] == [python_path(s, k) for k in keys]


def test_ketama_c_path_survives_copy_and_pickle():
    import pickle

    s = routebench.create("ketama", ["a", "b", "c"])
    c = s.copy()
    c.add("d")
    p = pickle.loads(pickle.dumps(s))
    keys = [f"k{i}" for i in range(2000)]
    assert [p.lookup(k) for k in keys] == [s.lookup(k) for k in keys]
    assert "d" in {c.lookup(k) for k in keys} and "d" not in {s.lookup(k) for k in keys}
    with pytest.raises(routebench.RoutebenchError, match="key 5: expected str or bytes"):
        s.lookup(5)
