"""Traces as streams of columnar chunks.

A chunk holds numpy columns, never a list of request objects: a key column is
either interned (integer ids into a vocabulary of distinct keys, each hashed
once per hash function) or raw (the key bytes of this chunk, hashed once per
hash function per chunk). Strategies see only the digest arrays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from .._errors import RoutebenchError, choices
from .._params import Param, resolve_params
from ..hashing import Hasher

if TYPE_CHECKING:
    from .readers import ReadStats

__all__ = ["Vocabulary", "KeyColumn", "InternedColumn", "RawColumn", "Chunk", "Trace",
           "SyntheticTrace"]

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


class Trace(ABC):
    """A replayable stream of chunks; iterating it twice gives the same requests.

    ``for chunk in trace`` (or ``trace.chunks()``) yields :class:`Chunk` objects.
    Every trace has ``route_on`` (the column strategies route on), ``columns``
    (the key columns each chunk carries), ``available`` (every column it can
    carry: ``with_columns`` adds them), ``requests`` (None while unknown: a
    file not yet read whole) and ``stats`` (what reading a file counted; None
    for synthetic traces and for a file before it is read).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: read from a recorded file (True) or generated (False)
    recorded: ClassVar[bool] = False

    route_on: str
    columns: tuple[str, ...]
    available: tuple[str, ...]
    requests: int | None
    stats: ReadStats | None = None

    @property
    @abstractmethod
    def label(self) -> str:
        """The short name tables show."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What a report records of the trace to reproduce it."""

    @abstractmethod
    def chunks(self) -> Iterator[Chunk]:
        """The requests, a chunk at a time."""

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()

    def estimated_requests(self) -> int | None:
        """``requests`` where it is known; a file's estimate from its size otherwise."""
        return self.requests

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """The columns as recorded (a file's own fields; derived ones such as client24 not)."""
        return self.available

    def _check_column(self, column: str, what: str) -> str:
        if column not in self.available:
            raise RoutebenchError(f"{what} {column!r}: trace {self.label!r} has columns "
                                  f"{choices(self.available)}")
        return column

    def with_columns(self, *extra: str) -> Self:
        """Also carry these columns in every chunk; columns the trace lacks are refused."""
        for c in extra:
            self._check_column(c, "column")
            if c not in self.columns:
                self.columns = (*self.columns, c)
        return self


class SyntheticTrace(Trace):
    """A generated trace: seeded, chunked, reproducible from its name and parameters."""

    params: ClassVar[tuple[Param, ...]] = ()
    #: the key columns each chunk has
    COLUMNS: ClassVar[tuple[str, ...]] = ("key",)
    #: the column strategies route on unless told otherwise
    ROUTE_ON: ClassVar[str] = "key"

    def __init__(self, requests: int, seed: int = 0, chunk_size: int = DEFAULT_CHUNK,
                 route_on: str | None = None, **params: Any) -> None:
        self.config = resolve_params(f"trace {self.name!r}", self.params, params)
        self.requests = int(requests)
        self.seed = int(seed)
        self.chunk_size = int(chunk_size)
        self.columns = self.available = self.COLUMNS
        self.route_on = self._check_column(route_on or self.ROUTE_ON, "route_on")

    @property
    def label(self) -> str:
        """The name with the parameters that differ from their defaults."""
        changed = [
            f"{p.name}={self.config[p.name]}" for p in self.params
            if self.config[p.name] != p.default
        ]
        return self.name + (":" + ",".join(changed) if changed else "")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.config), "requests": self.requests,
                "seed": self.seed, "chunk_size": self.chunk_size}

    def chunks(self) -> Iterator[Chunk]:
        total = int(self.requests or 0)
        for index, start in enumerate(range(0, total, self.chunk_size)):
            n = min(self.chunk_size, total - start)
            yield self._chunk(index, n, np.random.default_rng([self.seed, index]))

    @abstractmethod
    def _chunk(self, index: int, n: int, rng: np.random.Generator) -> Chunk:
        """Chunk ``index`` of ``n`` requests drawn from ``rng``."""
