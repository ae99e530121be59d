"""``maglev``: Maglev hashing (Eisenbud et al., NSDI 2016).

Each backend has a permutation of the M table slots, from an offset and a
skip: ``(offset + j * skip) mod M``. Backends take turns claiming their next
preferred free slot until the table is full; a key's backend is
``table[digest mod M]``. M must be prime so every permutation covers the table.

The turns go in the order the nodes first joined, and a node keeps its place in
that order while it is away: removing nodes and re-adding them (in any order)
gives back exactly the table they had, so every key returns to its node. (With
turns in ``nodes`` order a re-added node would take its turns last: the table
would differ in the slots it races for, 2.7% of keys after removing and
restoring 50% of 1,000 nodes.) The places of departed nodes are remembered
until they outnumber the present ones (then forgotten: a node returning after
that takes its turns last, as a new node does); the memory is a dict entry a
name.
"""

from __future__ import annotations

import numpy as np

from .._errors import RoutebenchError
from ._base import HASH_PARAM, KeyedStrategy, Param, read_only
from ._kernels import fmix64_py, maglev_populate, table_many

__all__ = ["MaglevStrategy", "TableLookup", "populate", "is_prime"]


def is_prime(m: int) -> bool:
    """Deterministic Miller-Rabin for 64-bit integers."""
    if m < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    for p in small:
        if m % p == 0:
            return m == p
    d, s = m - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in small:
        x = pow(a, d, m)
        if x in (1, m - 1):
            continue
        for _ in range(s - 1):
            x = x * x % m
            if x == m - 1:
                break
        else:
            return False
    return True


def _nearest_primes(m: int) -> str:
    below = next((p for p in range(m - 1, 1, -1) if is_prime(p)), None)
    above = next(p for p in range(m + 1, 2 * m + 3) if is_prime(p))
    return f"{below}, {above}" if below else str(above)


def _check_prime(m: int) -> str | None:
    if not is_prime(m):
        return f"is not prime; nearest primes: {_nearest_primes(m)}"
    return None


def populate(offsets, skips, m: int, weights=None) -> np.ndarray:
    """The Maglev lookup table (backend index per slot) for explicit permutations.

    ``weights``, when given, gives each backend turns in proportion to its
    weight; without them this is the paper's Pseudocode 1.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    skips = np.asarray(skips, dtype=np.int64)
    if weights is None:
        turns = np.ones(offsets.size)
    else:
        w = np.asarray(weights, dtype=np.float64)
        turns = w / w.max()
    return maglev_populate(offsets, skips, turns, int(m))


class TableLookup:
    """A lookup table of node indices, a slot per ``digest mod M`` (maglev and Envoy's)."""

    _table: np.ndarray
    _table_list: list[int]
    _m: int

    def _set_table(self, table: np.ndarray) -> None:
        self._table = np.ascontiguousarray(table)
        self._table_list = self._table.tolist()
        self._m = int(self._table.size)

    def _lookup_one(self, digest: int) -> int:
        return self._table_list[digest % self._m]

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        table_many(digests, self._table, out)
        return out

    @property
    def table(self) -> np.ndarray:
        """The lookup table: a node index per slot (read-only view)."""
        return read_only(self._table)


class MaglevStrategy(TableLookup, KeyedStrategy):
    name = "maglev"
    summary = "Maglev lookup table (NSDI 2016): O(1) lookup, near-minimal disruption"
    params = (
        HASH_PARAM,
        Param("M", 65537, "lookup table size, a prime well above N (the paper: M > 100 N)",
              minimum=2, check=_check_prime),
    )

    def _estimate_bytes(self) -> int:
        # the int32 table and its Python list (a slot and, past 256 nodes, an int object);
        # tracemalloc at N=1000, M=1000003: 75.5 bytes a slot
        m = self.config["M"]
        return m * (80 if len(self._names) > 256 else 16) + 64 * len(self._names)

    def _rebuild(self) -> None:
        m = self.config["M"]
        if m < len(self._names):
            suggestion = _nearest_primes(100 * len(self._names)).split(", ")[-1]
            raise RoutebenchError(
                f"maglev M={m} is smaller than the {len(self._names)} nodes; "
                f"choose a prime M of at least 100 x N, e.g. {suggestion}"
            )
        names = self._names
        turns = self._turn_order(names)
        h1 = [self.hasher(names[i]) for i in turns]
        offsets = [h % m for h in h1]
        skips = [fmix64_py(h ^ 0x9E3779B97F4A7C15) % (m - 1) + 1 for h in h1]
        weights = None if len(set(self._weights)) == 1 else [self._weights[i] for i in turns]
        table = populate(offsets, skips, m, weights)
        if turns != list(range(len(names))):  # table entries are places in the turn order
            table = np.asarray(turns, dtype=table.dtype)[table]
        self._set_table(table)

    def _turn_order(self, names: list[str]) -> list[int]:
        """Node indices in the order of their turns: by when each name first joined."""
        place: dict[str, int] = self.__dict__.setdefault("_place", {})
        for name in names:
            if name not in place:
                place[name] = self.__dict__.get("_next_place", 0)
                self._next_place = place[name] + 1
        if len(place) > 2 * len(names) + 64:  # forget departed nodes' places
            present = set(names)
            for name in [x for x in place if x not in present]:
                del place[name]
        return sorted(range(len(names)), key=lambda i: place[names[i]])



STRATEGIES = (MaglevStrategy,)
