"""What a balancer declares and what it sees: its policy, the request, the live load.

Built-in balancers describe themselves with a ``Policy`` that the simulator's
compiled loop runs directly. A third-party balancer can do the same (reusing
a built-in policy with its own defaults), or leave the policy as ``"python"``
and implement ``Balancer.pick``: the simulator then calls it once per routing
decision with a ``Request`` and a ``LoadView``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import RoutebenchError, choices

__all__ = ["Policy", "Request", "LoadView", "POLICIES", "ROUTE_ON"]

#: what the compiled loop can run; "python" calls ``Balancer.pick``
POLICIES = ("round-robin", "random", "least-connections", "p2c", "hash", "bounded-load", "python")
#: request attributes a hashing policy can route on
ROUTE_ON = ("ip", "session", "user", "key")


@dataclass(frozen=True)
class Policy:
    """How the simulator routes for a balancer.

    - ``code``: one of ``POLICIES``.
    - ``sticky``: a cookie pins a session to the backend of its first request;
      ``code`` picks only for a session's first request, or when the cookie's
      backend is down (then a new cookie is set).
    - ``d``: candidates sampled by ``p2c``.
    - ``on``: the request attribute ``hash`` and ``bounded-load`` route on
      (and whose digest a ``python`` balancer is shown).
    - ``keyed``, ``keyed_params``: the keyed strategy ``hash`` maps through.
    - ``hash``: the hash function of ``bounded-load``'s ring and digests.
    - ``eps``, ``vnodes``: ``bounded-load``'s capacity slack and ring points per backend.
    """

    code: str
    sticky: bool = False
    d: int = 2
    on: str | None = None
    keyed: str = "modulo"
    keyed_params: tuple[tuple[str, Any], ...] = ()
    hash: str = "xxh3"
    eps: float = 0.25
    vnodes: int = 160

    def __post_init__(self) -> None:
        if self.code not in POLICIES:
            raise RoutebenchError(f"policy {self.code!r}: expected one of {choices(POLICIES)}")
        if self.on is not None and self.on not in ROUTE_ON:
            raise RoutebenchError(f"policy on={self.on!r}: expected one of {choices(ROUTE_ON)}")
        if self.code in ("hash", "bounded-load") and self.on is None:
            raise RoutebenchError(f"policy {self.code!r} needs on= (one of {choices(ROUTE_ON)})")
        if self.d < 1:
            raise RoutebenchError(f"policy d={self.d}: need at least 1 candidate")


@dataclass
class Request:
    """The request a ``python`` balancer routes (one object, updated in place).

    ``session``, ``client``, ``ip`` and ``key`` are integer ids (``key`` is -1
    unless requests carry content keys); ``digest`` is the 64-bit digest of the
    attribute the policy routes ``on`` (0 when it routes on nothing);
    ``cookie`` is the backend the affinity cookie names, or -1.
    """

    time: float = 0.0
    session: int = 0
    client: int = 0
    ip: int = 0
    key: int = -1
    digest: int = 0
    cookie: int = -1
    first: bool = True


class LoadView:
    """The live state of the backends, read-only, as the balancer sees it now.

    Arrays are indexed by backend id (the position in ``names``).
    """

    def __init__(self, names: list[str], backend_ints: np.ndarray, fields: dict[str, int],
                 eligible: np.ndarray, globals_: np.ndarray, n_eligible_at: int) -> None:
        self.names = tuple(names)
        self._rows = {name: _readonly(backend_ints[i]) for name, i in fields.items()}
        self._elig = eligible
        self._g = globals_
        self._ng = n_eligible_at

    def _row(self, field: str) -> np.ndarray:
        return self._rows[field]

    @property
    def outstanding(self) -> np.ndarray:
        """Requests queued or in service per backend."""
        return self._row("outstanding")

    @property
    def busy(self) -> np.ndarray:
        return self._row("busy")

    @property
    def workers(self) -> np.ndarray:
        return self._row("workers")

    @property
    def served(self) -> np.ndarray:
        return self._row("served")

    @property
    def up(self) -> np.ndarray:
        """1 for a backend that is present and has not crashed (draining ones are up)."""
        return self._row("up")

    @property
    def draining(self) -> np.ndarray:
        return self._row("draining")

    @property
    def eligible(self) -> np.ndarray:
        """Ids of the backends that take new sessions: up and not draining."""
        return _readonly(self._elig[: self._g[self._ng]])


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v
