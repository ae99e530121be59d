"""An :class:`LbConfig` as the keyed strategy of the simulator's hashing balancers.

``routebench simulate --lb-config FILE[:NAME]`` runs ``ip-hash-sticky`` and
``key-hash`` through the configuration itself: the simulated backends are its
serving servers, in order (``backend-0`` is the first), keys are hashed as the
product hashes them, and a backend that crashes or drains is what the product
does with a failed server: nginx keeps it in the configuration (its weight
stays in the total, its keys are rehashed past it), HAProxy takes it out of the
tree or map and keeps every id. A backend that joins is a new server line at
the end.

The simulator builds its keyed strategies through a registry (``reg``); the
one :func:`config_registry` returns knows the configuration under the name
``lb-config`` and passes every other name on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._errors import RoutebenchError
from .._params import parse_spec
from ..hashing import Hasher, as_bytes
from ..registry import Registry, registry
from ..strategies import Balancer, KeyedStrategy
from ..strategies._base import Param, Policy
from ..strategies._live import ROUTE_ON
from . import _keys

if TYPE_CHECKING:
    from . import LbConfig

__all__ = ["LB_KEYED", "config_keyed", "config_registry", "config_balancer", "CONFIG_BALANCERS",
           "natural_balancer"]

#: the keyed strategy's name in the registry :func:`config_registry` returns
LB_KEYED = "lb-config"
#: balancers that route through the configuration when ``--lb-config`` is given
CONFIG_BALANCERS = ("ip-hash-sticky", "key-hash")


def _digest_fn(cfg: LbConfig) -> Hasher:
    """Values (client addresses, URIs, header values) to the product's digests."""
    source = cfg.key_kind == "source"

    def many(keys: Iterable[str | bytes]) -> np.ndarray:
        values = [as_bytes(k) for k in keys]
        return cfg.digests([_keys.client_text(v) for v in values] if source else values)[0]

    def one(value: bytes) -> int:
        return int(many([value])[0])

    class _Many(Hasher):
        def many(self, keys: Iterable[str | bytes]) -> np.ndarray:
            return many(keys)

    s = cfg.strategy
    return _Many(f"lb-config:{cfg.label}", s.hasher.bits, one,
                 f"{cfg.key_expr}, then {s.hasher.description}")


def config_keyed(cfg: LbConfig, backends: Mapping[str, str]) -> type[KeyedStrategy]:
    """A keyed strategy class over simulated backends that routes as ``cfg`` does.

    ``backends`` maps each simulated backend's name to the config server (its
    name as the product shows it) it stands for; a backend not in it is a server
    added at the end of the configuration.
    """
    if not cfg.serving:
        raise RoutebenchError(f"{cfg.label}: no server takes requests")
    hasher = _digest_fn(cfg)

    class ConfigKeyed(KeyedStrategy):
        name = LB_KEYED
        summary = f"{cfg.product} {cfg.label}: the configuration's own hashing"
        params: ClassVar[tuple[Param, ...]] = ()
        consistent = False
        config_file: ClassVar[LbConfig] = cfg

        def _make_hasher(self) -> Hasher:
            return hasher

        def _rebuild(self) -> None:
            live = set(self._names)
            edited = cfg
            for server in cfg.serving:
                sim = next((b for b, n in backends.items() if n == server.name), None)
                if sim not in live:
                    edited = edited.with_down(server.name)
            for b in self._names:
                if b not in backends:
                    edited = edited.with_server(b)
            s = edited.strategy
            shown = edited.display_names
            back = {n: b for b, n in backends.items()}
            pos = {b: i for i, b in enumerate(self._names)}
            # a node that is not live is never chosen (down, or left out of the tree)
            self._pos = np.array([pos.get(back.get(shown[n], shown[n]), 0) for n in s.nodes],
                                 dtype=np.intp)
            self._s = s

        def _lookup_one(self, digest: int) -> int:
            return int(self._pos[self._s.lookup_many(np.array([digest], dtype=np.uint64))[0]])

        def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
            return self._pos[self._s.lookup_many(digests)]

    return ConfigKeyed


class _ConfigRegistry(Registry):
    """The process registry, with the configuration's strategy as ``lb-config``."""

    def __init__(self, keyed: type[KeyedStrategy], base: Registry) -> None:
        super().__init__(load_entry_points=False)
        self._keyed = keyed
        self._base = base

    def get(self, name: str) -> Any:
        return self._keyed if name == LB_KEYED else self._base.get(name)

    def names(self, kind: str | None = None) -> list[str]:
        extra = [LB_KEYED] if kind in (None, "keyed") else []
        return self._base.names(kind) + extra


def config_registry(cfg: LbConfig, backends: Mapping[str, str],
                    base: Registry = registry) -> Registry:
    """``base`` with ``lb-config`` routing as ``cfg`` over the simulated ``backends``."""
    return _ConfigRegistry(config_keyed(cfg, backends), base)


def natural_balancer(cfg: LbConfig) -> str:
    """The balancer that routes what the configuration hashes: the client address
    (``ip-hash-sticky``), a user's header or cookie (``key-hash:on=user``), the
    request's URI (``key-hash:on=key``: the simulated content keys)."""
    if cfg.key_kind == "source":
        return "ip-hash-sticky"
    if cfg.key_kind in ("header", "cookie"):
        return "key-hash:on=user"
    return "key-hash:on=key"


def config_balancer(spec: str, cfg: LbConfig) -> Balancer | None:
    """The balancer ``spec`` routing through ``cfg`` (a ``lb-config`` keyed strategy),
    or None when ``spec`` is not ``ip-hash-sticky`` / ``key-hash`` without ``keyed=``
    (it then runs as it is, over the config's servers)."""
    name, params = parse_spec(spec)
    if name not in CONFIG_BALANCERS or "keyed" in params:
        return None
    if "hash" in params:
        raise RoutebenchError(
            f"--balancer {spec!r}: with --lb-config the configuration hashes keys "
            f"({cfg.key_expr}); drop hash=, or give keyed= to compare another strategy on "
            "the same servers")
    unknown = sorted(set(params) - {"on"})
    if unknown or (name == "ip-hash-sticky" and params):
        bad = unknown[0] if unknown else "on"
        raise RoutebenchError(f"--balancer {spec!r}: parameter {bad!r} is not accepted; "
                              f"{name} takes " + ("on=, " if name == "key-hash" else "")
                              + "keyed= and hash=")
    on = "ip" if name == "ip-hash-sticky" else str(params.get("on", "key"))
    if on not in ROUTE_ON:
        raise RoutebenchError(f"--balancer {spec!r}: on={on!r} is not one of "
                              f"{', '.join(ROUTE_ON)}")
    base = registry.get(name)
    label = cfg.label

    class ConfigHash(Balancer):
        """``ip-hash-sticky`` / ``key-hash`` through the configuration."""

        params: ClassVar[tuple[Param, ...]] = (
            *((Param("on", "key", "the attribute hashed", choices=ROUTE_ON),)
              if name == "key-hash" else ()),
            Param("keyed", cfg.strategy_name, "the configuration's strategy"),
            Param("config", label, "the configuration (FILE:SECTION)"),
        )

        def policy(self) -> Policy:
            return Policy("hash", on=on, keyed=LB_KEYED)

    ConfigHash.name = name
    ConfigHash.summary = base.summary
    given = {"on": on} if name == "key-hash" else {}
    return ConfigHash(None, **given)
