"""Distributions, events and specs the simulator's scenarios are made of.

Parsed from ``NAME:param=value,...`` on the command line (the same syntax as
strategies) and checked here, so a bad value is refused with one line that
names it before any simulation starts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import RoutebenchError, choices
from ..._params import Param, resolve_params
from ..._units import check_positive, parse_duration
from . import _simcore as core

__all__ = ["Dist", "KeyDist", "Event", "EVENT_KINDS", "parse_event", "load_times",
           "check_positive"]

def _positive(v: float) -> str | None:
    return None if v > 0 and math.isfinite(v) else "must be a positive number"


#: distribution name -> (code, declared parameters)
_DISTS: dict[str, tuple[int, tuple[Param, ...]]] = {
    "fixed": (core.D_FIXED, (Param("value", 1.0, "the value every draw takes", check=_positive),)),
    "exp": (core.D_EXP, (Param("mean", 1.0, "mean", check=_positive),)),
    "lognormal": (core.D_LOGNORMAL, (
        Param("mean", 1.0, "mean", check=_positive),
        Param("sigma", 1.0, "sigma of the underlying normal (tail weight)", minimum=0.0),
    )),
    "pareto": (core.D_PARETO, (
        Param("mean", 1.0, "mean", check=_positive),
        Param("alpha", 1.5, "tail index; above 1 for a finite mean",
              check=lambda v: None if v > 1 else "must be above 1 (the mean is infinite)"),
    )),
}


@dataclass(frozen=True)
class Dist:
    """A positive random quantity: fixed, exp, lognormal or pareto (by mean), or replayed values.

    ``Dist.parse("lognormal:mean=10,sigma=1")``; a bare number is ``fixed``;
    ``file:PATH`` replays the numbers in a file (one a line, or ``.npy``) in
    order, cycling (service times only).
    """

    kind: str
    mean: float
    shape: float = 0.0
    values: np.ndarray | None = field(default=None, compare=False, repr=False)
    source: str = ""

    @classmethod
    def parse(cls, text: str | float | Dist, what: str, allow_file: bool = False) -> Dist:
        if isinstance(text, Dist):
            return text
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            return cls.fixed(float(text), what)
        t = str(text).strip()
        try:
            return cls.fixed(float(t), what)
        except ValueError:
            pass
        if t.startswith("file:"):
            if not allow_file:
                raise RoutebenchError(f"{what} {t!r}: file: is accepted for service times only")
            return cls.from_file(t[5:], what)
        from ..._params import parse_spec

        name, params = parse_spec(t)
        if name not in _DISTS:
            kinds = list(_DISTS) + (["file:PATH"] if allow_file else [])
            raise RoutebenchError(f"{what} {t!r}: unknown distribution {name!r}; "
                                  f"accepted: {choices(kinds)}")
        code, declared = _DISTS[name]
        cfg = resolve_params(f"{what} {name!r}", declared, params)
        if name == "fixed":
            return cls("fixed", cfg["value"])
        if name == "exp":
            return cls("exp", cfg["mean"])
        return cls(name, cfg["mean"], cfg["sigma" if name == "lognormal" else "alpha"])

    @classmethod
    def fixed(cls, value: float, what: str = "value") -> Dist:
        if not (value > 0 and math.isfinite(value)):
            raise RoutebenchError(f"{what} {value!r}: must be a positive number")
        return cls("fixed", float(value))

    @classmethod
    def from_values(cls, values: Sequence[float] | np.ndarray, what: str = "service",
                    source: str = "array") -> Dist:
        v = np.ascontiguousarray(values, dtype=np.float64).ravel()
        if v.size == 0:
            raise RoutebenchError(f"{what} {source}: no values")
        bad = ~(np.isfinite(v) & (v > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise RoutebenchError(f"{what} {source}: value {i + 1} ({v[i]!r}) is not a "
                                  "positive number of seconds")
        return cls("file", float(v.mean()), 0.0, v, source)

    @classmethod
    def from_file(cls, path: str, what: str = "service") -> Dist:
        p = Path(path)
        try:
            if p.suffix == ".npy":
                v = np.load(p)
            else:
                v = np.loadtxt(p, dtype=np.float64, ndmin=1)
        except OSError as exc:
            raise RoutebenchError(f"{what} file {path!r}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise RoutebenchError(
                f"{what} file {path!r}: not numbers, one a line ({exc})") from None
        return cls.from_values(v, what, path)

    @property
    def code(self) -> int:
        return core.D_EMPIRICAL if self.kind == "file" else _DISTS[self.kind][0]

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed:value={self.mean:g}"
        if self.kind == "exp":
            return f"exp:mean={self.mean:g}"
        if self.kind == "lognormal":
            return f"lognormal:mean={self.mean:g},sigma={self.shape:g}"
        if self.kind == "pareto":
            return f"pareto:mean={self.mean:g},alpha={self.shape:g}"
        return f"file:{self.source}"

    def _scipy(self) -> Any:
        from scipy import stats  # imported here: scipy.stats costs ~1 s to import

        if self.kind == "exp":
            return stats.expon(scale=self.mean)
        if self.kind == "lognormal":
            s = max(self.shape, 1e-12)
            return stats.lognorm(s, scale=math.exp(math.log(self.mean) - 0.5 * s * s))
        if self.kind == "pareto":
            xm = self.mean * (self.shape - 1.0) / self.shape
            return stats.pareto(self.shape, scale=xm)
        raise ValueError(self.kind)

    def count_sf(self) -> np.ndarray:
        """``P(max(1, round X) >= k)`` for k = 2 .. K + 1 (session lengths are counts).

        Computed once per distribution (a million points of scipy's ``sf``).
        """
        return _count_sf(self.kind, self.mean, self.shape)

    def discrete_mean(self) -> float:
        """The mean of ``max(1, round(X))``: a session's expected number of requests."""
        if self.kind == "fixed":
            return float(max(1, math.floor(self.mean + 0.5)))
        # E[max(1, round X)] = 1 + sum_{k >= 2} P(X >= k - 1/2); the tail beyond K by its integral
        total = 1.0 + float(self.count_sf().sum())
        if self.kind == "pareto":
            a, xm = self.shape, self.mean * (self.shape - 1.0) / self.shape
            total += xm**a * (_K_MAX + 1.5) ** (1.0 - a) / (a - 1.0)
        return total

    def residual(self, u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
        """Equilibrium residual times (what is left of a draw seen at a random moment).

        From two arrays of uniforms: memoryless for exp; otherwise a size-biased
        draw times a uniform (size-biased lognormal is lognormal with mu + sigma^2,
        size-biased Pareto(alpha) is Pareto(alpha - 1) with the same scale).
        """
        if self.kind == "exp":
            return -self.mean * np.log(u1)
        if self.kind == "fixed":
            return self.mean * u1
        if self.kind == "lognormal":
            from scipy.special import ndtri

            s = self.shape
            mu = math.log(self.mean) - 0.5 * s * s + s * s
            return np.exp(mu + s * ndtri(u1)) * u2
        if self.kind == "pareto":
            a = self.shape
            xm = self.mean * (a - 1.0) / a
            return xm * u1 ** (-1.0 / (a - 1.0)) * u2
        raise ValueError(f"no residual for {self.kind} distributions")


#: session lengths are summed up to this count when their mean is computed
_K_MAX = 1 << 20


@lru_cache(maxsize=16)
def _count_sf(kind: str, mean: float, shape: float) -> np.ndarray:
    k = np.arange(2, _K_MAX + 2, dtype=np.float64)
    if kind == "fixed":
        out = (max(1, math.floor(mean + 0.5)) >= k).astype(np.float64)
    else:
        out = Dist(kind, mean, shape)._scipy().sf(k - 0.5)
    out.flags.writeable = False
    return out


KEY_PARAMS = (
    Param("s", 1.0, "Zipf exponent of content-key popularity", minimum=0.0),
    Param("universe", 100_000, "distinct content keys", minimum=1),
)


@dataclass(frozen=True)
class KeyDist:
    """Content keys of requests (``zipf:s=1.1,universe=10000``), for balancers that hash on them."""

    s: float = 1.0
    universe: int = 100_000

    @classmethod
    def parse(cls, text: str | KeyDist) -> KeyDist:
        if isinstance(text, KeyDist):
            return text
        from ..._params import parse_spec

        name, params = parse_spec(str(text))
        if name != "zipf":
            raise RoutebenchError(f"--keys {text!r}: unknown key distribution {name!r}; "
                                  "accepted: zipf:s=S,universe=U")
        cfg = resolve_params("--keys 'zipf'", KEY_PARAMS, params)
        return cls(cfg["s"], cfg["universe"])

    def cdf(self) -> np.ndarray:
        w = np.arange(1, self.universe + 1, dtype=np.float64) ** -self.s
        c = np.cumsum(w)
        return c / c[-1]

    def describe(self) -> str:
        return f"zipf:s={self.s:g},universe={self.universe}"


EVENT_KINDS = core.EVENT_KINDS


@dataclass(frozen=True)
class Event:
    """A topology event: ``crash``, ``recover``, ``join`` or ``drain`` of a backend at a time."""

    kind: str
    backend: str
    time: float

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise RoutebenchError(f"event {self.kind!r}: expected one of {choices(EVENT_KINDS)}")
        if not (self.time >= 0 and math.isfinite(self.time)):
            raise RoutebenchError(f"--{self.kind} {self.backend}@{self.time!r}: the time must be "
                                  "a number of seconds >= 0")

    def describe(self) -> str:
        return f"{self.kind} {self.backend}@{self.time:g}s"


def parse_event(kind: str, text: str) -> tuple[str | None, float]:
    """``backend-3@30s`` or ``3@30`` -> (backend name or index text, seconds); ``@30`` or ``30``
    for a join (the next backend)."""
    name, at, when = str(text).rpartition("@")
    if not at:
        if kind == "join":
            return None, parse_duration(when, f"--{kind}", allow_zero=True)
        raise RoutebenchError(f"--{kind} {text!r}: expected BACKEND@TIME, e.g. backend-3@30s")
    name = name.strip()
    if not name and kind != "join":
        raise RoutebenchError(f"--{kind} {text!r}: the backend is missing before '@'")
    return (name or None), parse_duration(when, f"--{kind} {text!r}:", allow_zero=True)


def load_times(path: str, what: str = "--arrivals") -> np.ndarray:
    """Arrival times in seconds from a file (one a line, or ``.npy``): finite, not decreasing."""
    p = Path(path)
    try:
        v = np.load(p) if p.suffix == ".npy" else np.loadtxt(p, dtype=np.float64, ndmin=1)
    except OSError as exc:
        raise RoutebenchError(f"{what} file {path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RoutebenchError(
            f"{what} file {path!r}: not numbers, one a line ({exc})") from None
    v = np.ascontiguousarray(v, dtype=np.float64).ravel()
    if v.size == 0:
        raise RoutebenchError(f"{what} file {path!r}: no arrival times")
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise RoutebenchError(f"{what} file {path!r}: line {bad[0] + 1} is not a number")
    down = np.flatnonzero(np.diff(v) < 0)
    if down.size:
        raise RoutebenchError(f"{what} file {path!r}: line {down[0] + 2} ({v[down[0] + 1]:g}) "
                              f"is earlier than the line before ({v[down[0]]:g}); "
                              "times must not decrease")
    return v
