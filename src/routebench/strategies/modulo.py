"""``modulo``: digest mod N, the classic ``hash(client_ip) % N``."""

from __future__ import annotations

import numpy as np

from ._base import KeyedStrategy

__all__ = ["ModuloStrategy"]


class ModuloStrategy(KeyedStrategy):
    name = "modulo"
    summary = "digest mod N (hash-mod-N, IP hash); remaps most keys when N changes"
    weighted = False
    consistent = False

    def _rebuild(self) -> None:
        self._n = len(self._names)

    def _lookup_one(self, digest: int) -> int:
        return digest % self._n

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        return (digests % np.uint64(self._n)).astype(np.intp)


STRATEGIES = (ModuloStrategy,)
