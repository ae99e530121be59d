"""Issue 2 figures: batch lookup on 1M random digests at N=100, and the
comparisons with reference libraries measured in the same run.

    pytest benchmarks/test_keyed_lookup.py      (or: tox -e bench)
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import min_time

import routebench

N = 100
DIGESTS = np.random.default_rng(2026).integers(0, 2**64 - 1, 1_000_000, dtype=np.uint64,
                                               endpoint=True)
#: ns/key bars from issue 2 (None: no bar, measured for the table)
BARS = {"jump": 60, "ring": 120, "rendezvous": 250, "maglev": 15, "multiprobe": 500,
        "ketama": None, "modulo": None}


@pytest.mark.parametrize("name", list(BARS))
def test_batch_lookup_1m_digests(benchmark, figure, name):
    s = routebench.create(name, N)
    d = DIGESTS >> np.uint64(32) if name == "ketama" else DIGESTS  # ketama: 32-bit points
    s.lookup_many(d[:1000])  # compile outside the timed rounds
    benchmark.group = "batch lookup_many, 1M digests, N=100"
    benchmark.pedantic(s.lookup_many, args=(d,), rounds=7, iterations=1, warmup_rounds=1)
    figure(f"{name} batch lookup, N=100", min_time(benchmark) / d.size * 1e9, "ns/key",
           BARS[name])


# -- ketama scalar lookup vs uhashring, same nodes, same keys ------------------
NODES = [f"10.0.0.{i}:11211" for i in range(N)]
KEYS = [f"user:{i}:profile" for i in range(50_000)]
_SCALAR: dict[str, float] = {}


def _loop(f):
    def run():
        for k in KEYS:
            f(k)
    return run


def test_scalar_uhashring_get_node(benchmark):
    from uhashring import HashRing

    ring = HashRing(nodes=NODES, hash_fn="ketama")
    benchmark.group = "ketama scalar lookup, N=100"
    benchmark.pedantic(_loop(ring.get_node), rounds=7, iterations=1, warmup_rounds=1)
    _SCALAR["uhashring"] = min_time(benchmark) / len(KEYS) * 1e9


def test_scalar_routebench_ketama(benchmark, figure):
    from uhashring import HashRing

    s = routebench.create("ketama", NODES)
    ref = HashRing(nodes=NODES, hash_fn="ketama")
    assert [s.lookup(k) for k in KEYS[:2000]] == [ref.get_node(k) for k in KEYS[:2000]]
    benchmark.group = "ketama scalar lookup, N=100"
    benchmark.pedantic(_loop(s.lookup), rounds=7, iterations=1, warmup_rounds=1)
    ns = min_time(benchmark) / len(KEYS) * 1e9
    figure("ketama scalar lookup, N=100", ns, "ns/call")
    if "uhashring" in _SCALAR:
        figure("ketama speed-up over uhashring get_node", _SCALAR["uhashring"] / ns, "x", 5,
               higher_is_better=True)


# -- batch rendezvous vs clandestined's find_node at N=100 -------------------------
RKEYS = [f"object-{i}" for i in range(5_000)]
_RDV: dict[str, float] = {}


def test_rendezvous_clandestined_find_node(benchmark):
    clandestined = pytest.importorskip("clandestined", reason="install routebench[bench]")
    h = clandestined.RendezvousHash(nodes=[f"node-{i}" for i in range(N)])
    benchmark.group = "rendezvous per key, N=100"
    benchmark.pedantic(_loop(h.find_node), rounds=5, iterations=1, warmup_rounds=1)
    _RDV["clandestined"] = min_time(benchmark) / len(RKEYS) * 1e9


def test_rendezvous_routebench_batch(benchmark, figure):
    s = routebench.create("rendezvous", N)
    keys = RKEYS * 20  # the same keys; more of them so the batch is timed over >= 100k
    s.lookup_many(s.digest(keys[:10]))
    benchmark.group = "rendezvous per key, N=100"
    # end to end from keys: hashing the keys is part of the batch cost
    benchmark.pedantic(lambda: s.lookup_many(s.digest(keys)), rounds=7, iterations=1,
                       warmup_rounds=1)
    ns = min_time(benchmark) / len(keys) * 1e9
    figure("rendezvous batch (digest + lookup_many), N=100", ns, "ns/key")
    if "clandestined" in _RDV:
        figure("rendezvous batch speed-up over clandestined find_node", _RDV["clandestined"] / ns,
               "x", 100, higher_is_better=True)
