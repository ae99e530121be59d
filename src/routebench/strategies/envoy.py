"""Envoy's ``ring_hash`` and ``maglev`` load balancers, exactly.

Node names are what Envoy hashes for a host: its address as ``ip:port``
(``[::1]:80`` for IPv6), or its hostname with ``use_hostname_for_hashing``.
Keys are hashed as Envoy's hash policies do, XXH64 with seed 0 of the header,
cookie, query parameter or source-IP text (``digest``; it is routebench's
``xxh64``, so the digests are shared with it). Weights are the endpoints'
``load_balancing_weight``; Envoy normalises them (weight / sum) before any use,
so the model takes any positive weights, and whole numbers give Envoy's
results exactly.

The rules (envoyproxy/envoy ``source/extensions/load_balancing_policies/
ring_hash/ring_hash_lb.cc``, ``maglev/maglev_lb.cc``, ``common/
thread_aware_lb_impl.cc``, ``source/common/common/hash.cc``; the same
algorithms as the older ``source/common/upstream/ring_hash_lb.cc`` and
``maglev_lb.cc``):

- ring_hash: scale = min(ceil(min_w x min_ring_size) / min_w, max_ring_size)
  over the normalised weights; hosts in order add scale x w to a running
  target and put points ``"KEY_0"``, ``"KEY_1"``, ... while the running count
  is below it; a point is XXH64 (seed 0) of that text, or
  ``murmurHash2_64`` (libstdc++'s, seed 0xc70f6907) with ``hash=murmur2``.
  Points sorted; a key goes to the first point at or after its hash, wrapping.
- maglev: hosts sorted by key; offset = XXH64(key) mod M, skip =
  XXH64(key, seed 1) mod (M - 1) + 1; hosts take turns filling their next
  preferred free slot, a host sitting out iteration i while i x w is below
  its target (which grows by the largest weight a pick); key -> table[h mod M].

Health, priorities, localities, panic thresholds and the bounded-load
``hash_balance_factor`` are not modelled: every node is a healthy host of one
priority and one locality.
"""

from __future__ import annotations

import math

import numpy as np
import xxhash

from .._errors import RoutebenchError
from ..hashing import get_hasher
from ._base import KeyedStrategy, Param
from ._product import ProductStrategy
from ._product_kernels import envoy_maglev_populate, murmur2_64_buffer
from .maglev import TableLookup, _check_prime
from .ring import _Continuum

__all__ = ["EnvoyRingHashStrategy", "EnvoyMaglevStrategy", "murmur2_64", "STD_HASH_SEED",
           "ring_points"]

STD_HASH_SEED = 0xC70F6907


def murmur2_64(keys: list[bytes], seed: int = STD_HASH_SEED) -> np.ndarray:
    """Envoy's MurmurHash::murmurHash2_64 of each key."""
    if not keys:
        return np.empty(0, dtype=np.uint64)
    ends = np.cumsum(np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)))
    data = np.frombuffer(b"".join(keys), dtype=np.uint8)
    out = np.empty(len(keys), dtype=np.uint64)
    murmur2_64_buffer(data, ends, np.uint64(seed), out)
    return out


def _normalized(weights: list[float]) -> tuple[list[float], float, float]:
    total = sum(weights)
    norm = [w * 1.0 / total for w in weights]
    return norm, min([1.0, *norm]), max([0.0, *norm])


def ring_points(names: list[str], weights: list[float], min_ring_size: int, max_ring_size: int,
                hash_function: str = "xxhash") -> tuple[np.ndarray, np.ndarray]:
    """(points, owners) of Envoy's ring, in the order Envoy generates them."""
    norm, min_w, _ = _normalized(weights)
    scale = min(math.ceil(min_w * min_ring_size) / min_w, float(max_ring_size))
    keys: list[bytes] = []
    owners: list[int] = []
    current = 0.0
    target = 0.0
    for i, (name, w) in enumerate(zip(names, norm)):
        prefix = name.encode("utf-8") + b"_"
        target += scale * w
        k = 0
        while current < target:
            keys.append(prefix + str(k).encode())
            k += 1
            current += 1
        owners.extend([i] * k)
    if hash_function == "murmur2":
        points = murmur2_64(keys)
    else:
        h = xxhash.xxh64_intdigest
        points = np.fromiter((h(k) for k in keys), dtype=np.uint64, count=len(keys))
    return points, np.array(owners, dtype=np.intp)


class _Envoy(ProductStrategy):
    product = "Envoy"
    integer_weights = False

    def _make_hasher(self):
        return get_hasher("xxh64")


class EnvoyRingHashStrategy(_Envoy, _Continuum):
    name = "envoy-ringhash"
    summary = "Envoy ring_hash: XXH64 ring sized from min/max ring size and weights"
    params = (
        Param("min_ring_size", 1024, "minimum_ring_size", minimum=1),
        Param("max_ring_size", 8388608, "maximum_ring_size", minimum=1),
        Param("hash", "xxhash", "hash_function for the ring points", choices=("xxhash",
                                                                              "murmur2")),
    )
    conformance = {
        "survivor_moves": 0.15,
        "survivor_moves_weighted": 0.25,
        "reason": "Envoy sizes the ring from the smallest normalised weight: when a host "
                  "joins or leaves, every host's point count changes (ceil(1024 / N) at equal "
                  "weights: 342 -> 256 from 3 to 4 hosts), and the keys on the points a "
                  "survivor gains or loses move between survivors (11.8% seen at equal "
                  "weights, 13.3% with weights 1-4, N <= 13); over a mass removal of up to "
                  "22 of 23 hosts, up to 19.7% seen (removal_moves 25%); and it hands out "
                  "points by a "
                  "running total over the hosts in order (current < target), so a host's "
                  "count (+-1) depends on the hosts before it: a host re-added goes last, and "
                  "re-adding removed hosts in reverse brings back 98.6% of keys or more "
                  "(worst of 180 drawn removals and restores; restore 97%)",
        "removal_moves": 0.25,
        "restore": 0.97,
    }

    def _estimate_bytes(self) -> int:
        # ceil(scale) points (see ring_points); per point the key text while hashing, the
        # uint64 point, its owner and the lists the scalar lookup bisects (tracemalloc,
        # 300k points: 68 bytes held, 92 at the peak)
        _, min_w, _ = _normalized(self._weights)
        lo, hi = self.config["min_ring_size"], self.config["max_ring_size"]
        return int(math.ceil(min(math.ceil(min_w * lo) / min_w, float(hi)))) * 100

    def _rebuild(self) -> None:
        lo, hi = self.config["min_ring_size"], self.config["max_ring_size"]
        if lo > hi:
            raise RoutebenchError(f"ring hash: minimum_ring_size ({lo}) > maximum_ring_size "
                                  f"({hi})")
        points, owners = ring_points(self._names, self._weights, lo, hi, self.config["hash"])
        order = np.argsort(points, kind="stable")  # Envoy's own order of equal points
        self._store(points[order], owners[order])


class EnvoyMaglevStrategy(TableLookup, _Envoy):
    name = "envoy-maglev"
    summary = "Envoy maglev: XXH64 offset/skip permutations, weighted turns, prime table"
    params = (
        Param("table_size", 65537, "table_size, a prime", minimum=2, check=_check_prime),
    )
    conformance = {
        "survivor_moves": 0.02,
        "reason": "Maglev is near-minimal by design: a join or leave refills the table, and "
                  "a few slots change hands between survivors",
    }

    def _estimate_bytes(self) -> int:
        # the int32 table and its Python list (a slot, and past 256 hosts an int object), as
        # routebench's maglev (tracemalloc, M = 1000003, 10 hosts: 12 bytes held, 16 at the peak)
        m = self.config["table_size"]
        return m * (80 if len(self._names) > 256 else 16) + 64 * len(self._names)

    def _rebuild(self) -> None:
        m = self.config["table_size"]
        keyed = sorted(range(len(self._names)), key=lambda i: self._names[i].encode("utf-8"))
        norm, _, max_w = _normalized(self._weights)
        keys = [self._names[i].encode("utf-8") for i in keyed]
        offsets = np.array([xxhash.xxh64_intdigest(k) % m for k in keys], dtype=np.uint64)
        skips = np.array([xxhash.xxh64_intdigest(k, seed=1) % (m - 1) + 1 for k in keys],
                         dtype=np.uint64)
        w = np.array([norm[i] for i in keyed], dtype=np.float64)
        slots = envoy_maglev_populate(offsets, skips, w, max_w, m)
        self._set_table(np.array(keyed, dtype=np.int32)[slots])


STRATEGIES: tuple[type[KeyedStrategy], ...] = (EnvoyRingHashStrategy, EnvoyMaglevStrategy)
