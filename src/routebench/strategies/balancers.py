"""Built-in live-traffic balancers: free routing, affinity, and hashing with bounded loads.

Each describes itself with a ``Policy`` that the simulator's compiled loop runs
(``routebench.harness.sim.simulator``); none of them routes on its own outside a
simulation.
"""

from __future__ import annotations

from .._errors import RoutebenchError, choices
from ._base import HASH_PARAM, Balancer, Param, Policy
from ._live import ROUTE_ON

__all__ = [
    "RoundRobin",
    "RandomBalancer",
    "LeastConnections",
    "PowerOfChoices",
    "CookieSticky",
    "IpHashSticky",
    "KeyHash",
    "BoundedLoad",
    "STRATEGIES",
]

#: balancers a sticky cookie can use for a session's first pick
BASES = ("round-robin", "random", "least-connections", "p2c")


def _keyed_check(value: str) -> str | None:
    from ..registry import registry  # the registry imports this module

    keyed = registry.names("keyed")
    if value not in keyed:
        return f"is not a keyed strategy; keyed: {choices(keyed)}"
    return None


def _keyed_params(keyed: str, hash_name: str) -> tuple[tuple[str, str], ...]:
    """The hash parameter passed on to the keyed strategy, when it takes one."""
    from ..registry import registry

    cls = registry.get(keyed)
    takes = next((p for p in cls.params if p.name == "hash"), None)
    if takes is not None and (takes.choices is None or hash_name in takes.choices):
        return (("hash", hash_name),)
    # a fixed hash, or a product's own hash functions (HAProxy's sdbm ..., Envoy's xxhash):
    # the default leaves the strategy's own default in force
    if hash_name != HASH_PARAM.default:
        own = (f"its hash= takes {choices(takes.choices)}" if takes is not None and takes.choices
               else "it has a fixed hash function")
        raise RoutebenchError(
            f"keyed strategy {keyed!r} does not take hash={hash_name!r}: {own}"
        )
    return ()


_D = Param("d", 2, "backends sampled per request; the least loaded wins", minimum=1)
_KEYED = Param("keyed", "modulo", "keyed strategy that maps the hash to a backend "
               "(any of routebench list --kind keyed)", check=_keyed_check)


class RoundRobin(Balancer):
    name = "round-robin"
    summary = "each eligible backend in turn"

    def policy(self) -> Policy:
        return Policy("round-robin")


class RandomBalancer(Balancer):
    name = "random"
    summary = "a uniformly random eligible backend"

    def policy(self) -> Policy:
        return Policy("random")


class LeastConnections(Balancer):
    name = "least-connections"
    summary = "the backend with the fewest outstanding requests (ties in turn)"

    def policy(self) -> Policy:
        return Policy("least-connections")


def _choices(b: Balancer, d: int) -> int:
    """``d`` checked against the backends there are: sampling more than all of them is an error."""
    if b.nodes and d > len(b.nodes):
        raise RoutebenchError(f"{b.name}: d={d} samples more backends than the {len(b.nodes)} "
                              f"there are; use d <= {len(b.nodes)} (d={len(b.nodes)} is "
                              "least-connections)")
    return d


class PowerOfChoices(Balancer):
    name = "p2c"
    summary = "power of d choices: sample d backends, send to the least outstanding"
    params = (_D,)

    def policy(self) -> Policy:
        return Policy("p2c", d=_choices(self, self.config["d"]))


class CookieSticky(Balancer):
    name = "cookie-sticky"
    summary = ("first request picked by a base balancer, a cookie pins the rest; "
               "re-pins (new cookie) when that backend is down")
    params = (
        Param("base", "round-robin", "balancer for a session's first request",
              choices=BASES),
        _D,
    )

    def policy(self) -> Policy:
        d = _choices(self, self.config["d"]) if self.config["base"] == "p2c" else self.config["d"]
        return Policy(self.config["base"], sticky=True, d=d)


class IpHashSticky(Balancer):
    name = "ip-hash-sticky"
    summary = "pins on the client IP through a keyed strategy over the live backends"
    params = (_KEYED, HASH_PARAM)

    def policy(self) -> Policy:
        keyed = self.config["keyed"]
        return Policy("hash", on="ip", keyed=keyed,
                      keyed_params=_keyed_params(keyed, self.config["hash"]))


class KeyHash(Balancer):
    name = "key-hash"
    summary = ("routes on a hash of a request attribute (session, ip, user or content key) "
               "through a keyed strategy; no load feedback")
    params = (
        Param("on", "key", "the attribute hashed: session, ip, user or key", choices=ROUTE_ON),
        Param("keyed", "ring", _KEYED.help, check=_keyed_check),
        HASH_PARAM,
    )

    def policy(self) -> Policy:
        keyed = self.config["keyed"]
        return Policy("hash", on=self.config["on"], keyed=keyed,
                      keyed_params=_keyed_params(keyed, self.config["hash"]))


class BoundedLoad(Balancer):
    name = "bounded-load"
    summary = ("consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam): "
               "capacity ceil((1+eps) x average outstanding)")
    params = (
        Param("eps", 0.25, "capacity slack: 0.25 is HAProxy's hash-balance-factor 125",
              check=lambda v: None if v > 0 else "must be above 0"),
        Param("on", "session", "the attribute hashed: session, ip, user or key", choices=ROUTE_ON),
        Param("vnodes", 160, "ring points per backend", minimum=1),
        HASH_PARAM,
    )

    def policy(self) -> Policy:
        c = self.config
        return Policy("bounded-load", on=c["on"], eps=c["eps"], vnodes=c["vnodes"],
                      hash=c["hash"])


STRATEGIES = (RoundRobin, RandomBalancer, LeastConnections, PowerOfChoices, CookieSticky,
              IpHashSticky, KeyHash, BoundedLoad)
