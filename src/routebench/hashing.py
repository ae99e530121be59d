"""Key hash functions: a key's bytes to a 64-bit digest.

Strategies route on digests, never on keys, so a trace's keys are hashed once
per hash function and the digest arrays are shared by every strategy that uses
that function.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import mmh3
import numpy as np
import xxhash

from ._errors import RoutebenchError, choices

try:  # the builtin module is ~3x faster a call than OpenSSL's through hashlib
    from _md5 import md5 as _md5
except ImportError:  # pragma: no cover - CPython always ships _md5
    import hashlib

    def _md5(data: bytes):
        return hashlib.md5(data, usedforsecurity=False)


__all__ = ["Hasher", "HASH_NAMES", "get_hasher", "as_bytes"]

_U64 = np.uint64


def _not_utf8(text: str) -> RoutebenchError:
    return RoutebenchError(f"key {text!r}: not valid Unicode text (a lone surrogate, e.g. "
                           "undecodable bytes in a command-line argument); pass bytes or "
                           "UTF-8 text")


def as_bytes(key: str | bytes) -> bytes:
    """A key as the bytes that are hashed: UTF-8 for ``str``."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        try:
            return key.encode("utf-8")
        except UnicodeEncodeError:
            raise _not_utf8(key) from None
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    raise RoutebenchError(f"key {key!r}: expected str or bytes, got {type(key).__name__}")


@dataclass(frozen=True)
class Hasher:
    """A named hash function from bytes to an unsigned integer of ``bits`` bits."""

    name: str
    bits: int
    fn: Callable[[bytes], int]
    description: str

    def __call__(self, key: str | bytes) -> int:
        """The digest of one key."""
        return self.fn(key if type(key) is bytes else as_bytes(key))

    def many(self, keys: Iterable[str | bytes]) -> np.ndarray:
        """The digests of many keys as a ``uint64`` array (one Python call a key)."""
        if not isinstance(keys, Sequence) and not isinstance(keys, np.ndarray):
            keys = list(keys)
        n = len(keys)
        if n == 0:
            return np.empty(0, dtype=_U64)
        fn = self.fn
        first = keys[0]
        it: Iterable[int]
        if isinstance(first, bytes) and all(type(k) is bytes for k in keys):
            it = map(fn, keys)  # every key was checked to be bytes
        elif isinstance(first, str) and all(type(k) is str for k in keys):
            it = (fn(k.encode("utf-8")) for k in keys)  # type: ignore[union-attr]  # all str
        else:
            it = (fn(as_bytes(k)) for k in keys)
        try:
            return np.fromiter(it, dtype=_U64, count=n)
        except UnicodeEncodeError as exc:
            raise _not_utf8(exc.object) from None


def _mmh3_low64(data: bytes, _h=mmh3.hash64) -> int:
    # keyword: mmh3 5.3 ignores ``signed`` passed positionally
    return _h(data, signed=False)[0]


def _md5_low64(data: bytes) -> int:
    return int.from_bytes(_md5(data).digest()[:8], "little")


def _ketama_hashi(data: bytes) -> int:
    # libketama's ketama_hashi: the first four bytes of the MD5, little-endian.
    return int.from_bytes(_md5(data).digest()[:4], "little")


try:  # the same function in C, when the optional extension was built
    from ._cketama import hashi as _ketama_hashi  # type: ignore[assignment]
except ImportError:  # pragma: no cover - no compiler at install time
    pass


_HASHERS = {
    h.name: h
    for h in (
        Hasher("xxh3", 64, xxhash.xxh3_64_intdigest, "XXH3 64-bit (default)"),
        Hasher("xxh64", 64, xxhash.xxh64_intdigest, "XXH64"),
        Hasher("mmh3", 64, _mmh3_low64, "MurmurHash3 x64 128-bit, low 64 bits"),
        Hasher("md5", 64, _md5_low64, "MD5, first 8 bytes little-endian"),
        Hasher("crc32", 32, zlib.crc32, "CRC-32 (zlib), a 32-bit digest"),
    )
}
# Not selectable with hash=: the ketama strategy's fixed libketama key hash.
KETAMA = Hasher("ketama-md5", 32, _ketama_hashi, "MD5, first 4 bytes little-endian (libketama)")

HASH_NAMES: tuple[str, ...] = tuple(_HASHERS)


def get_hasher(name: str) -> Hasher:
    """The hasher called ``name``; a clear error naming the accepted ones otherwise."""
    try:
        return _HASHERS[name]
    except (KeyError, TypeError):
        raise RoutebenchError(f"unknown hash {name!r}; available: {choices(HASH_NAMES)}") from None
