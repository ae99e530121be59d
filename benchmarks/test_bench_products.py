"""Issue 11 figures: batch lookup of the product models (nginx, HAProxy, Envoy) on
1M digests at N=100, beside routebench's own ``ring`` and ``maglev`` in the same
run. Bar: each within 1.5x of its own kind (rings against ``ring``, tables and
modulo walks against ``maglev``).

    pytest benchmarks/test_bench_products.py      (or: tox -e bench)

The digests have each product's format (what its ``digest`` returns), drawn at
random: CRC-32 and a 24-byte key length for nginx's hash, an IPv4 /24 fold for
ip_hash, 32 bits for HAProxy, 64 bits for Envoy, ring and maglev.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import min_time

import routebench

N = 100
SIZE = 1_000_000
_rng = np.random.default_rng(2026)
_U64 = _rng.integers(0, 2**64 - 1, SIZE, dtype=np.uint64, endpoint=True)
_U32 = _U64 >> np.uint64(32)
DIGESTS = {
    "u64": _U64,
    "u32": _U32,
    "nginx-crc32": _U32 | (np.uint64(24) << np.uint64(32)),
    "nginx-iphash": (_U32 % np.uint64(6271)) | (np.uint64(3) << np.uint64(32)),
}
NODES = [f"10.0.{i // 250}.{i % 250}:8080" for i in range(N)]
#: strategy -> (digest format, the routebench strategy it is measured against)
PRODUCTS = {
    "nginx-chash": ("nginx-crc32", "ring"),
    "nginx-hash": ("nginx-crc32", "maglev"),
    "nginx-iphash": ("nginx-iphash", "maglev"),
    "haproxy-chash": ("u32", "ring"),
    "haproxy-map": ("u32", "maglev"),
    "envoy-ringhash": ("u64", "ring"),
    "envoy-maglev": ("u64", "maglev"),
}
BAR = 1.5
_NS: dict[str, float] = {}


def _time(benchmark, s, d) -> float:
    s.lookup_many(d[:1000])  # compile outside the timed rounds
    benchmark.group = "product models: batch lookup_many, 1M digests, N=100"
    benchmark.pedantic(s.lookup_many, args=(d,), rounds=7, iterations=1, warmup_rounds=1)
    return min_time(benchmark) / d.size * 1e9


@pytest.mark.parametrize("name", ["ring", "maglev"])
def test_baseline_batch_lookup(benchmark, figure, name):
    _NS[name] = _time(benchmark, routebench.create(name, NODES), DIGESTS["u64"])
    figure(f"{name} batch lookup, N=100 (baseline)", _NS[name], "ns/key")


@pytest.mark.parametrize("name", list(PRODUCTS))
def test_product_batch_lookup(benchmark, figure, name):
    fmt, base = PRODUCTS[name]
    ns = _time(benchmark, routebench.create(name, NODES), DIGESTS[fmt])
    figure(f"{name} batch lookup, N=100", ns, "ns/key")
    if base in _NS:
        figure(f"{name} / {base}", ns / _NS[base], "x", BAR)


@pytest.mark.parametrize("name", ["nginx-chash", "nginx-hash", "nginx-iphash", "haproxy-chash",
                                  "haproxy-map"])
def test_product_batch_lookup_one_down(benchmark, figure, name):
    """The same with one server of 100 marked down (nginx retries, HAProxy leaves it out)."""
    fmt, _ = PRODUCTS[name]
    s = routebench.create(name, NODES, down=NODES[7])
    ns = _time(benchmark, s, DIGESTS[fmt])
    figure(f"{name} batch lookup, N=100, 1 down", ns, "ns/key")
