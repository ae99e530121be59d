"""Traces as streams of columnar chunks.

A chunk holds numpy columns, never a list of request objects: a key column is
either interned (integer ids into a vocabulary of distinct keys, each hashed
once per hash function) or raw (the key bytes of this chunk, hashed once per
hash function per chunk). Strategies see only the digest arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._params import Param, resolve_params
from ..hashing import Hasher

__all__ = ["Vocabulary", "KeyColumn", "InternedColumn", "RawColumn", "Chunk", "Trace"]

DEFAULT_CHUNK = 1 << 18


class Vocabulary:
    """Distinct keys, built on first use and hashed once per hash function."""

    def __init__(self, size: int, make: Callable[[], Sequence[bytes]]) -> None:
        self.size = size
        self._make = make
        self._values: Sequence[bytes] | None = None
        self._digests: dict[str, np.ndarray] = {}

    @property
    def values(self) -> Sequence[bytes]:
        if self._values is None:
            self._values = self._make()
        return self._values

    def digests(self, hasher: Hasher) -> np.ndarray:
        d = self._digests.get(hasher.name)
        if d is None:
            d = self._digests[hasher.name] = hasher.many(self.values)
        return d


class KeyColumn:
    """A column of keys that can be hashed into ``uint64`` digests."""

    def __len__(self) -> int:
        raise NotImplementedError

    def digest(self, hasher: Hasher) -> np.ndarray:
        raise NotImplementedError

    def keys(self, n: int | None = None) -> list[bytes]:
        """The first ``n`` keys (all by default) as bytes."""
        raise NotImplementedError


class InternedColumn(KeyColumn):
    """Keys as ids into a shared vocabulary."""

    def __init__(self, ids: np.ndarray, vocab: Vocabulary) -> None:
        self.ids = ids
        self.vocab = vocab

    def __len__(self) -> int:
        return int(self.ids.size)

    def digest(self, hasher: Hasher) -> np.ndarray:
        return self.vocab.digests(hasher)[self.ids]

    def keys(self, n: int | None = None) -> list[bytes]:
        values = self.vocab.values
        return [values[i] for i in self.ids[:n].tolist()]


class RawColumn(KeyColumn):
    """Keys as bytes; the digests of each hash function are kept for the chunk's life."""

    def __init__(self, values: Sequence[bytes]) -> None:
        self.values = values
        self._digests: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.values)

    def digest(self, hasher: Hasher) -> np.ndarray:
        d = self._digests.get(hasher.name)
        if d is None:
            d = self._digests[hasher.name] = hasher.many(self.values)
        return d

    def keys(self, n: int | None = None) -> list[bytes]:
        return list(self.values[:n])


@dataclass
class Chunk:
    """A run of requests: key columns by name and optional timestamps (seconds)."""

    columns: dict[str, KeyColumn]
    ts: np.ndarray | None = None
    size: int = field(init=False)

    def __post_init__(self) -> None:
        sizes = {len(c) for c in self.columns.values()}
        if len(sizes) > 1:
            raise ValueError(f"chunk columns differ in length: {sorted(sizes)}")
        self.size = sizes.pop() if sizes else 0

    def __len__(self) -> int:
        return self.size


class Trace:
    """A replayable stream of chunks; iterating ``chunks()`` twice gives the same requests."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    #: the key columns each chunk has
    columns: ClassVar[tuple[str, ...]] = ("key",)
    #: the column a strategy routes on unless told otherwise
    route_on: ClassVar[str] = "key"

    def __init__(self, requests: int, seed: int = 0, chunk_size: int = DEFAULT_CHUNK,
                 **params: Any) -> None:
        self.config = resolve_params(f"trace {self.name!r}", self.params, params)
        self.requests = int(requests)
        self.seed = int(seed)
        self.chunk_size = int(chunk_size)

    @property
    def label(self) -> str:
        """The name with the parameters that differ from their defaults."""
        changed = [
            f"{p.name}={self.config[p.name]}" for p in self.params
            if self.config[p.name] != p.default
        ]
        return self.name + (":" + ",".join(changed) if changed else "")

    def describe(self) -> dict[str, Any]:
        """What a report records of the trace to reproduce it."""
        return {"name": self.name, "params": dict(self.config), "requests": self.requests,
                "seed": self.seed, "chunk_size": self.chunk_size}

    def chunks(self) -> Iterator[Chunk]:
        for index, start in enumerate(range(0, self.requests, self.chunk_size)):
            n = min(self.chunk_size, self.requests - start)
            yield self._chunk(index, n, np.random.default_rng([self.seed, index]))

    def _chunk(self, index: int, n: int, rng: np.random.Generator) -> Chunk:
        raise NotImplementedError
