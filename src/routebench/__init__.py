"""routebench: benchmark and compare request-routing strategies.

    >>> import routebench
    >>> s = routebench.create("ring", ["a", "b", "c"], vnodes=200)
    >>> s.lookup("user:42") in s.nodes
    True
    >>> d = s.digest(["user:1", "user:2"])
    >>> [s.nodes[i] for i in s.lookup_many(d)] == [s.lookup("user:1"), s.lookup("user:2")]
    True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ._errors import RoutebenchError
from .hashing import HASH_NAMES
from .registry import registry
from .strategies import Balancer, KeyedStrategy, Param, Strategy

try:
    __version__ = version("routebench")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = [
    "create",
    "register",
    "strategy_names",
    "Strategy",
    "KeyedStrategy",
    "Balancer",
    "Param",
    "RoutebenchError",
    "HASH_NAMES",
    "__version__",
]


def create(name: str, nodes: Any, **params: Any) -> Strategy:
    """Build the registered strategy ``name`` over ``nodes``.

    ``nodes`` is a list of node names, a ``{name: weight}`` map, or a count
    (nodes ``node-0`` ... ``node-{N-1}``); ``params`` are the strategy's own
    (see ``routebench list``), e.g. ``vnodes=200`` or ``hash="mmh3"``.
    """
    return registry.create(name, nodes, **params)


def register(cls: type[Strategy]) -> type[Strategy]:
    """Register a strategy class in this process (a decorator works too)."""
    return registry.register(cls)


def strategy_names(kind: str | None = None) -> list[str]:
    """The registered strategy names, optionally only of one kind (``keyed``, ``balancer``).

    (Not ``routebench.strategies``: that is the subpackage with the base classes.)
    """
    return registry.names(kind)
