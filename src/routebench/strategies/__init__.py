"""Strategies: what decides which node serves a request or holds a key.

Each built-in module defines its strategy classes and lists them in
``STRATEGIES``; the registry (``routebench.registry``) loads them by
name, and loads third-party ones from the ``routebench.strategies``
entry-point group the same way.
"""

from ._base import (
    HASH_PARAM,
    Balancer,
    KeyedStrategy,
    LoadView,
    Param,
    Policy,
    Request,
    Strategy,
    memory_limit,
    set_memory_limit,
)

__all__ = [
    "Strategy",
    "KeyedStrategy",
    "Balancer",
    "Policy",
    "Request",
    "LoadView",
    "Param",
    "HASH_PARAM",
    "memory_limit",
    "set_memory_limit",
    "BUILTIN_MODULES",
]

#: modules holding the built-in strategies, in the order ``routebench list`` shows them
BUILTIN_MODULES = (
    "routebench.strategies.modulo",
    "routebench.strategies.ring",
    "routebench.strategies.rendezvous",
    "routebench.strategies.jump",
    "routebench.strategies.maglev",
    "routebench.strategies.multiprobe",
    "routebench.strategies.jumpback",
    "routebench.strategies.flip",
    "routebench.strategies.binomial",
    "routebench.strategies.power",
    "routebench.strategies.anchor",
    "routebench.strategies.dx",
    "routebench.strategies.memento",
    "routebench.strategies.nginx",
    "routebench.strategies.haproxy",
    "routebench.strategies.envoy",
    "routebench.strategies.balancers",
)
