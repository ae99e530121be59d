"""Base classes every strategy derives from, and their declared parameters."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from .._errors import RoutebenchError, choices
from .._params import Param, resolve_params
from ..hashing import HASH_NAMES, Hasher, as_bytes, get_hasher
from ._live import LoadView, Policy, Request

__all__ = ["Param", "Strategy", "KeyedStrategy", "HASH_PARAM", "node_names",
           "memory_limit", "set_memory_limit", "read_only"]

_memory_limit: int | None = None


def memory_limit() -> int:
    """Bytes a strategy's structure may take before building it is refused.

    Default: half the machine's memory, or ``$ROUTEBENCH_MAX_MEMORY`` (bytes, or
    with a unit: 16GiB); ``set_memory_limit`` (the CLI's ``--max-memory``) overrides.
    """
    if _memory_limit is not None:
        return _memory_limit
    env = os.environ.get("ROUTEBENCH_MAX_MEMORY")
    if env:
        from .._units import parse_size

        return parse_size(env, "ROUTEBENCH_MAX_MEMORY")
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 << 30


def set_memory_limit(nbytes: int | None) -> int | None:
    """Raise (or lower) the structure-size limit; None restores the default.

    Returns the limit that was set before (None: the default), to put back.
    """
    global _memory_limit
    before, _memory_limit = _memory_limit, nbytes
    return before


HASH_PARAM = Param("hash", "xxh3", "key hash function", choices=HASH_NAMES)
#: what a node's name takes in a strategy's lists (its str, a list slot, an index entry)
_BYTES_PER_NAME = 160


class Strategy:
    """What every registered strategy declares: a name, a kind, parameters."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, nodes: Any = None, **params: Any) -> None:
        self.config: dict[str, Any] = self.resolve_params(params)

    @classmethod
    def resolve_params(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults filled in, every given value checked; unknown names refused."""
        return resolve_params(f"strategy {cls.name!r}", cls.params, given)


def node_names(nodes: int | Iterable[str] | Mapping[str, float]) -> tuple[list[str], list[float]]:
    """Node names and weights from a count, a list of names or a name-to-weight map."""
    if isinstance(nodes, bool) or isinstance(nodes, (float, np.floating)):
        raise RoutebenchError(f"nodes: expected a whole node count or node names, got {nodes!r}")
    if isinstance(nodes, (int, np.integer)):
        nodes = int(nodes)
        if nodes < 1:
            raise RoutebenchError(f"node count {nodes}: need at least 1 node")
        return [f"node-{i}" for i in range(nodes)], [1.0] * nodes
    if isinstance(nodes, str):
        nodes = [nodes]
    if not isinstance(nodes, Iterable):
        raise RoutebenchError(f"nodes: expected a node count, node names or a name-to-weight "
                              f"map, got {type(nodes).__name__} {nodes!r}")
    if isinstance(nodes, Mapping):
        names = list(nodes)
        weights = [_check_weight(n, w) for n, w in nodes.items()]
    else:
        names = list(nodes)
        weights = [1.0] * len(names)
    if not names:
        raise RoutebenchError("nodes: the node list is empty; give at least one node")
    seen: set[str] = set()
    for n in names:
        _check_name(n)
        if n in seen:
            raise RoutebenchError(f"nodes: node {n!r} is listed twice; node names must be unique")
        seen.add(n)
    return names, weights


def read_only(a: np.ndarray) -> np.ndarray:
    """A view of ``a`` that cannot be written through (a structure's arrays, shown)."""
    v = a.view()
    v.flags.writeable = False
    return v


def _gib(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def _check_name(node: Any) -> None:
    if not isinstance(node, str) or not node:
        raise RoutebenchError(f"node name {node!r}: expected a non-empty string")
    try:
        node.encode("utf-8")
    except UnicodeEncodeError:
        raise RoutebenchError(f"node name {node!r}: not valid Unicode text (a lone "
                              "surrogate, e.g. undecodable bytes in an argument); node "
                              "names must be UTF-8 text") from None


def _check_weight(node: str, weight: Any) -> float:
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise RoutebenchError(f"node {node!r}: weight {weight!r} is not a number") from None
    if not np.isfinite(w) or w <= 0:
        raise RoutebenchError(f"node {node!r}: weight {weight!r} must be a positive number")
    return w


class KeyedStrategy(Strategy):
    """A deterministic map from a key's digest to a node.

    Subclasses build their structure in ``_rebuild`` from ``self._names`` and
    ``self._weights`` and implement ``_lookup_one`` (one digest, a Python int)
    and ``_lookup_many`` (a ``uint64`` array) returning node indices.
    """

    kind = "keyed"
    params: ClassVar[tuple[Param, ...]] = (HASH_PARAM,)
    #: accepts node weights other than 1
    weighted: ClassVar[bool] = True
    #: which node ``remove`` accepts: "any", or "last" (jump)
    removable: ClassVar[str] = "any"
    #: intended to move only the keys a join or leave must move
    consistent: ClassVar[bool] = True
    #: takes whole-number weights only (nginx, HAProxy); the conformance suite draws those
    integer_weights: ClassVar[bool] = False
    #: most nodes it supports (None: as many as memory allows), and why
    max_nodes: ClassVar[int | None] = None
    limit_reason: ClassVar[str] = ""
    #: what it promises the conformance suite beyond ``removable`` and ``consistent``:
    #: ``routebench.testing.Tolerance`` fields and a ``reason`` (e.g. ``{"restore": 0.9,
    #: "reason": "..."}``; ``restore``: the share of keys re-adding removed nodes in the
    #: reverse order of their removal brings home); None: the suite's defaults (exact)
    conformance: ClassVar[Mapping[str, Any] | None] = None

    def __init__(self, nodes: int | Iterable[str] | Mapping[str, float], **params: Any) -> None:
        self.config: dict[str, Any] = self.resolve_params(params)
        self.hasher: Hasher = self._make_hasher()
        if isinstance(nodes, (int, np.integer)) and not isinstance(nodes, bool):
            type(self).check_count(int(nodes))  # before N names are made
        names, weights = node_names(nodes)
        for n, w in zip(names, weights):
            self._check_weight_supported(n, w)
        self._names: list[str] = names
        self._weights: list[float] = weights
        self._index = {n: i for i, n in enumerate(names)}
        self._check_memory()
        self._rebuild()

    # -- subclass hooks -------------------------------------------------
    def _estimate_bytes(self) -> int:
        """The memory the structure over the current nodes will take (0: small, unknown)."""
        return 0

    @classmethod
    def check_count(cls, n: int) -> None:
        """Refuse, before any node name is made, N above ``max_nodes`` or so many nodes
        that their names alone would not fit in memory (``memory_limit``)."""
        if cls.max_nodes is not None and n > cls.max_nodes:
            raise RoutebenchError(f"{cls.name!r} supports at most {cls.max_nodes:,} nodes "
                                  f"({cls.limit_reason}); got {n:,}")
        need, limit = n * _BYTES_PER_NAME, memory_limit()
        if need > limit:
            raise RoutebenchError(
                f"{n:,} nodes for {cls.name!r}: their names alone would take about "
                f"{_gib(need)} of memory, above the limit of {_gib(limit)}; use fewer nodes "
                "or raise the limit (--max-memory, ROUTEBENCH_MAX_MEMORY)")

    @classmethod
    def check_size(cls, nodes: int | Iterable[str] | Mapping[str, float], **params: Any) -> None:
        """Refuse now, before anything is built, a structure that would not fit in memory."""
        if isinstance(nodes, (int, np.integer)) and not isinstance(nodes, bool):
            cls.check_count(int(nodes))  # before N names are made
        probe = cls.__new__(cls)
        probe.config = probe.resolve_params(params)
        probe._names, probe._weights = node_names(nodes)
        probe._check_memory()

    def _check_memory(self) -> None:
        need, limit = self._estimate_bytes(), memory_limit()
        if need > limit:
            shown = ", ".join(f"{k}={v}" for k, v in self.config.items() if k != "hash")
            raise RoutebenchError(
                f"strategy {self.name!r} over {len(self._names):,} nodes"
                + (f" ({shown})" if shown else "") + f" would take about {_gib(need)} of "
                f"memory, above the limit of {_gib(limit)}; use smaller parameters or raise "
                "the limit (--max-memory, ROUTEBENCH_MAX_MEMORY)")

    def _make_hasher(self) -> Hasher:
        # a strategy that declares its own params without HASH_PARAM hashes keys with xxh3
        return get_hasher(self.config.get("hash", HASH_PARAM.default))

    def _rebuild(self) -> None:
        raise NotImplementedError

    def _lookup_one(self, digest: int) -> int:
        raise NotImplementedError

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- public API -----------------------------------------------------
    @property
    def nodes(self) -> tuple[str, ...]:
        """The node names; ``lookup_many`` returns indices into this tuple."""
        return tuple(self._names)

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(self._weights)

    def add(self, node: str, weight: float = 1.0) -> None:
        """Add a node (it becomes the last index)."""
        _check_name(node)
        if node in self._index:
            raise RoutebenchError(f"node {node!r} is already in {self.name!r}")
        w = _check_weight(node, weight)
        self._check_weight_supported(node, w)
        self._names.append(node)
        self._weights.append(w)
        self._index[node] = len(self._names) - 1
        try:
            self._check_memory()
        except RoutebenchError:
            self._names.pop()
            self._weights.pop()
            del self._index[node]
            raise
        self._rebuild()

    def remove(self, node: str) -> None:
        """Remove a node; the indices of later nodes shift down by one."""
        if node not in self._index:
            raise RoutebenchError(
                f"node {node!r} is not in {self.name!r}; nodes: {choices(self._names)}"
            )
        if len(self._names) == 1:
            raise RoutebenchError(f"cannot remove {node!r}: it is the only node left")
        i = self._index[node]
        if self.removable == "last" and i != len(self._names) - 1:
            raise RoutebenchError(
                f"{self.name!r} can only remove its last node ({self._names[-1]!r}), "
                f"not {node!r}: buckets are numbered and only the highest can go"
            )
        del self._names[i]
        del self._weights[i]
        if i == len(self._names):  # the last node: no other index moves (O(1), not O(N))
            del self._index[node]
        else:
            self._index = {n: j for j, n in enumerate(self._names)}
        self._rebuild()

    def lookup(self, key: str | bytes) -> str:
        """The node for one key."""
        if type(key) is str:
            try:
                key = key.encode()
            except UnicodeEncodeError:
                key = as_bytes(key)  # raises the RoutebenchError
        elif type(key) is not bytes:
            key = as_bytes(key)
        return self._names[self._lookup_one(self.hasher.fn(key))]

    def digest(self, keys: Iterable[str | bytes]) -> np.ndarray:
        """The ``uint64`` digests this strategy routes on, one a key."""
        return self.hasher.many(keys)

    def lookup_many(self, digests: np.ndarray) -> np.ndarray:
        """Node indices (into ``nodes``) for an array of digests from ``digest``."""
        d = np.asarray(digests)
        if d.ndim != 1:
            raise RoutebenchError(f"lookup_many: expected a 1-D array of uint64 digests, got "
                                  f"{d.ndim} dimensions (shape {d.shape})")
        if d.dtype != np.uint64:
            if d.size and not np.issubdtype(d.dtype, np.integer):
                raise RoutebenchError(
                    f"lookup_many: expected an array of uint64 digests, got dtype {d.dtype}"
                )
            if d.size and np.issubdtype(d.dtype, np.signedinteger) and d.min() < 0:
                raise RoutebenchError(
                    f"lookup_many: digests are unsigned 64-bit; got negative values "
                    f"(e.g. {int(d.min())}) of dtype {d.dtype}: pass strategy.digest(keys)")
            d = d.astype(np.uint64)
        return self._lookup_many(np.ascontiguousarray(d).ravel())

    def copy(self) -> KeyedStrategy:
        """An independent copy (same nodes, weights and parameters)."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"<{self.name} {len(self._names)} nodes{': ' + shown if shown else ''}>"

    def _check_weight_supported(self, node: str, weight: float) -> None:
        if not self.weighted and weight != 1.0:
            raise RoutebenchError(
                f"node {node!r}: {self.name!r} does not support weights (got {weight:g}); "
                "use ring, ketama, rendezvous or maglev for weighted nodes"
            )


# -- balancers (live traffic) ------------------------------------------------

__all__ += ["Balancer", "Policy", "Request", "LoadView"]


class Balancer(Strategy):
    """Picks a backend for each request given the live load the simulator shows.

    Built-ins return a ``Policy`` the simulator's compiled loop runs. A
    third-party balancer registers the same way (entry-point group
    ``routebench.strategies``) and either returns a built-in ``Policy`` or
    implements ``pick`` in Python, which the simulator calls once per routing
    decision (a few microseconds each: slower than the compiled built-ins).
    Set ``sticky = True`` to have the simulator's cookie pin each session to the
    backend ``pick`` chose for its first request.
    """

    kind = "balancer"
    #: pin sessions with a cookie (``pick`` is then asked only for new or orphaned sessions)
    sticky: ClassVar[bool] = False
    #: request attribute whose digest ``Request.digest`` carries: ip, session, user, key or None
    routes_on: ClassVar[str | None] = None

    def __init__(self, nodes: int | Iterable[str] | Mapping[str, float] | None = None,
                 **params: Any) -> None:
        self.config: dict[str, Any] = self.resolve_params(params)
        self._names: list[str] = node_names(nodes)[0] if nodes is not None else []

    @property
    def nodes(self) -> tuple[str, ...]:
        """The backend names this balancer was created for (the simulator sets them)."""
        return tuple(self._names)

    def policy(self) -> Policy:
        """How the simulator routes for this balancer; default: call ``pick``."""
        return Policy("python", sticky=self.sticky, on=self.routes_on)

    def reset(self, backends: tuple[str, ...], rng: np.random.Generator) -> None:
        """Called once before a simulation with the backend names and a seeded generator."""
        self._names = list(backends)
        self.rng = rng

    def pick(self, request: Request, load: LoadView) -> int:
        """The backend id (index into ``load.names``) for ``request``; -1 if none fits.

        Only ``python``-policy balancers need it. Pick among ``load.eligible``.
        """
        raise NotImplementedError(f"balancer {self.name!r} has no pick()")

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"<balancer {self.name}{': ' + shown if shown else ''}>"
