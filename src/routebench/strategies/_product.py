"""Shared machinery of the product models (nginx, HAProxy, Envoy).

A product model routes exactly as the product does: node names are the
server strings the product hashes, keys are hashed once with the product's
own key hash (``digest``), and ``lookup_many`` works on those digests.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import xxhash

from .._errors import RoutebenchError, choices
from ..hashing import Hasher, as_bytes
from ._base import KeyedStrategy, Param

__all__ = ["ProductStrategy", "BatchHasher", "DOWN_PARAM", "parse_address", "client_address"]

DOWN_PARAM = Param("down", "", "nodes marked down, comma-separated (kept in the configuration, "
                   "routed around as the product does)")


def _split_names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()] if text else []


@dataclass(frozen=True)
class BatchHasher(Hasher):
    """A ``Hasher`` whose ``many`` hashes every key in one compiled call.

    ``batch(data, ends)`` gets the keys' bytes packed in one ``uint8`` array
    (key i ends at ``ends[i]``) and returns their ``uint64`` digests.
    """

    batch: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(default=None,
                                                                        compare=False)

    def many(self, keys: Iterable[str | bytes]) -> np.ndarray:
        if self.batch is None:
            return super().many(keys)
        if not isinstance(keys, Sequence) and not isinstance(keys, np.ndarray):
            keys = list(keys)
        if len(keys) == 0:
            return np.empty(0, dtype=np.uint64)
        raw = [k if type(k) is bytes else as_bytes(k) for k in keys]
        ends = np.cumsum(np.fromiter(map(len, raw), dtype=np.int64, count=len(raw)))
        data = np.frombuffer(b"".join(raw), dtype=np.uint8)
        return self.batch(data, ends)


def parse_address(key: bytes) -> bytes | None:
    """The packed address (4 or 16 bytes) of an IPv4 or IPv6 address in text, or None."""
    try:
        text = key.decode("ascii")
    except UnicodeDecodeError:
        return None
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(family, text)
        except OSError:
            continue
    return None


def client_address(key: bytes) -> bytes:
    """A key as the client address a product hashes.

    An IP address in text is itself; any other key stands for an IPv4 client
    whose address is the high 32 bits of XXH3-64(key): synthetic keys then
    spread over addresses as real clients do, reproducibly.
    """
    packed = parse_address(key)
    if packed is not None:
        return packed
    return (xxhash.xxh3_64_intdigest(key) >> 32).to_bytes(4, "big")


class ProductStrategy(KeyedStrategy):
    """A keyed strategy that models a product: integer weights where the product
    takes integers, and an optional set of nodes marked down."""

    #: the product's name in messages
    product: ClassVar[str] = ""
    #: the product refuses weights that are not whole numbers
    integer_weights: ClassVar[bool] = True
    #: largest weight the product accepts (None: no limit)
    max_weight: ClassVar[int | None] = None
    #: how the product spells a weight, for messages
    weight_syntax: ClassVar[str] = "weight"
    #: accepts the ``down`` parameter
    has_down: ClassVar[bool] = False

    def _check_weight_supported(self, node: str, weight: float) -> None:
        if self.integer_weights and not float(weight).is_integer():
            raise RoutebenchError(
                f"node {node!r}: weight {weight:g} is not a whole number; {self.product} "
                f"{self.weight_syntax} takes integers"
                + (f" from 1 to {self.max_weight}" if self.max_weight else " of 1 or more")
            )
        if self.max_weight is not None and weight > self.max_weight:
            raise RoutebenchError(
                f"node {node!r}: weight {weight:g} is above {self.max_weight}, the largest "
                f"{self.product} accepts"
            )

    # -- nodes marked down ----------------------------------------------------
    def _down_mask(self) -> np.ndarray:
        """A bool per node: marked down. Checks the names and that one node is up."""
        if not self.has_down:
            return np.zeros(len(self._names), dtype=np.bool_)
        names = _split_names(self.config.get("down", ""))
        unknown = [n for n in names if n not in self._index]
        if unknown:
            raise RoutebenchError(
                f"{self.name} down={unknown[0]!r}: not a node; nodes: {choices(self._names)}"
            )
        mask = np.zeros(len(self._names), dtype=np.bool_)
        for n in names:
            mask[self._index[n]] = True
        if mask.all():
            raise RoutebenchError(
                f"{self.name}: every node is marked down ({choices(self._names)}); "
                f"{self.product} has no server to route to"
            )
        return mask

    @property
    def down(self) -> tuple[str, ...]:
        """The nodes marked down."""
        return tuple(n for n in _split_names(self.config.get("down", "")) if n in self._index)

    def remove(self, node: str) -> None:
        if self.has_down and node in _split_names(self.config.get("down", "")):
            if node in self._index and len(self._names) > 1:
                rest = [n for n in _split_names(self.config["down"]) if n != node]
                self.config["down"] = ",".join(rest)
        super().remove(node)

    def _lookup_one(self, digest: int) -> int:
        return int(self._lookup_many(np.array([digest], dtype=np.uint64))[0])


def weights_as_ints(weights: Sequence[float]) -> np.ndarray:
    return np.array([int(w) for w in weights], dtype=np.int64)

