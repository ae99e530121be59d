"""Cache specs: ``POLICY:size=S`` (per node) or ``POLICY:total=S`` (split across nodes).

A size is a count of objects (``1000``, ``10_000``), bytes (``64MiB``,
``1.5GB``, ``4096B``; the trace must give object sizes) or a share of the
trace's distinct keys (``1%``, a count of objects). Policies are LRU and FIFO
(compiled here, exact to libCacheSim's) and every online policy of
libCacheSim's Python bindings when ``libcachesim`` is installed.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import RoutebenchError, choices
from .._params import Param, parse_spec, resolve_params

__all__ = ["CacheSpec", "SizeSpec", "Policy", "policies", "parse_size", "COMPILED_POLICIES"]

#: policies with a compiled multi-cache kernel (exact to libCacheSim's)
COMPILED_POLICIES = ("LRU", "FIFO")
ENGINES = ("auto", "numba", "libcachesim")

#: libCacheSim policies offered: Python class name, aliases, deterministic for a seed.
#: Left out: Belady and BeladySize (they need each request's next access time,
#: which a stream does not have; BeladySize hangs without it), the learned
#: ThreeLCache, GLCache and LRB (they learn from request times and features a
#: routebench chunk does not carry), LFUDA (in libcachesim 0.3.5 it crashes or
#: hangs when a cache holds fewer than about a dozen objects) and PluginCache
#: (Python callbacks: use NodeCaches' own kernels instead).
_LIBCACHESIM = (
    ("LRU", (), True),
    ("FIFO", (), True),
    ("LFU", (), True),
    ("ARC", (), True),
    ("Clock", ("clock",), True),
    ("LRUK", ("lru-k",), True),
    ("S3FIFO", ("s3-fifo",), True),
    ("Sieve", (), True),
    ("LIRS", (), True),
    ("TwoQ", ("2q",), True),
    ("SLRU", ("s4lru",), True),
    ("MQ", (), True),
    ("WTinyLFU", ("tinylfu", "w-tinylfu"), True),
    ("ClockPro", ("clock-pro",), True),
    ("Clock2QPlus", ("clock2q+",), True),
    ("Size", (), True),
    ("GDSF", (), True),
    # these draw from a random generator libCacheSim seeds from the clock:
    # hit ratios vary a little from run to run
    ("Random", (), False),
    ("LeCaR", (), False),
    ("Cacheus", (), False),
    ("LHD", (), False),
    ("LRUProb", ("lru-prob",), False),
    ("FlashProb", (), False),
    ("Hyperbolic", (), False),
)
#: Smallest sizes libCacheSim's policies work at: (parameter or None, k) means
#: int(size * parameter) >= k. Below them a policy aborts the whole process
#: (S3FIFO, WTinyLFU, FlashProb check their queue sizes with abort()) or quietly
#: never hits (a queue of 0 objects): measured on libcachesim 0.3.5.
_MIN_SIZE: dict[str, tuple[tuple[str | None, int], ...]] = {
    "S3FIFO": (("small_size_ratio", 2),),
    "WTinyLFU": (("window_size", 1),),
    "Clock2QPlus": (("fifo_size_ratio", 2),),
    "FlashProb": (("ram_size_ratio", 1),),
    "TwoQ": (("a_in_size_ratio", 1),),
    "SLRU": ((None, 4),),
    "LIRS": ((None, 2),),
    "Cacheus": ((None, 2),),
    "ClockPro": ((None, 4), ("init_ratio_cold", 1)),
}
#: constructor arguments every libCacheSim cache takes; NodeCaches sets them
_COMMON_ARGS = {"self", "cache_size", "default_ttl", "hashpower", "consider_obj_metadata",
                "admissioner", "reader"}


@dataclass(frozen=True)
class Policy:
    """An eviction policy: its name, its parameters, where it is implemented."""

    name: str
    params: tuple[Param, ...] = ()
    compiled: bool = False
    libcachesim: str | None = None  # the libcachesim class name
    deterministic: bool = True
    aliases: tuple[str, ...] = ()

    def too_small(self, size: int, params: Mapping[str, Any]) -> str | None:
        """Why libCacheSim's policy cannot run at ``size`` (objects or bytes), or None."""
        for name, k in _MIN_SIZE.get(self.name, ()):
            ratio = 1.0 if name is None else float(
                params.get(name, next(p.default for p in self.params if p.name == name)))
            if int(size * ratio) >= k:
                continue
            if name is None:
                return f"libCacheSim's {self.name} needs a size of at least {k}"
            least = math.ceil(k / ratio) if ratio > 0 else None
            while least is not None and int(least * ratio) < k:
                least += 1
            need = f"size >= {least:,} or a larger {name}" if least else f"{name} > 0"
            return (f"libCacheSim's {self.name} needs {name} x size >= {k} "
                    f"({size:,} x {ratio:g} gives {int(size * ratio)}): give {need}")
        return None

    @property
    def engines(self) -> tuple[str, ...]:
        return (("numba",) if self.compiled else ()) + (
            ("libcachesim",) if self.libcachesim else ())


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "").replace("-", "")


def _libcachesim_module():
    try:
        import libcachesim
    except ImportError:
        return None
    return libcachesim


_POLICIES: dict[str, Policy] | None = None


def policies() -> dict[str, Policy]:
    """Available policies by name (LRU and FIFO always; the rest with libcachesim)."""
    global _POLICIES
    if _POLICIES is None:
        lcs = _libcachesim_module()
        out: dict[str, Policy] = {}
        for name, aliases, deterministic in _LIBCACHESIM:
            cls = getattr(lcs, name, None) if lcs is not None else None
            if cls is None and name not in COMPILED_POLICIES:
                continue
            params: tuple[Param, ...] = ()
            if cls is not None:
                sig = inspect.signature(cls.__init__)
                params = tuple(
                    Param(p.name, p.default, f"libCacheSim {name} parameter")
                    for p in sig.parameters.values()
                    if p.name not in _COMMON_ARGS and p.default is not inspect.Parameter.empty
                    and isinstance(p.default, (int, float, str, bool))
                )
            out[name] = Policy(name, params, compiled=name in COMPILED_POLICIES,
                               libcachesim=name if cls is not None else None,
                               deterministic=deterministic, aliases=aliases)
        _POLICIES = out
    return _POLICIES


def _lookup_policy(name: str) -> Policy:
    table = policies()
    want = _norm(name)
    for p in table.values():
        if want == _norm(p.name) or want in (_norm(a) for a in p.aliases):
            return p
    known = [n for n, _a, _d in _LIBCACHESIM]
    hint = ""
    if _libcachesim_module() is None and any(want == _norm(n) for n in known):
        hint = " (it needs libcachesim: pip install libcachesim, or routebench[cache])"
    raise RoutebenchError(
        f"unknown cache policy {name!r}{hint}; available: {choices(table)}"
    )


# -- sizes --------------------------------------------------------------------
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_BYTES_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]i?b|b)$", re.IGNORECASE)
_SHARE_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*%$")
_COUNT_RE = re.compile(r"^\d+$")
SIZE_FORMS = "objects (1000), bytes (64MiB, 1.5GB, 4096B) or a share of distinct keys (1%)"


@dataclass(frozen=True)
class SizeSpec:
    """A cache size: ``kind`` is ``objects``, ``bytes`` or ``share`` (percent of distinct keys)."""

    kind: str
    value: float
    text: str

    @property
    def is_bytes(self) -> bool:
        return self.kind == "bytes"

    def resolve(self, distinct_keys: int | None = None) -> int:
        """Objects or bytes; a share needs the trace's distinct key count."""
        if self.kind != "share":
            return int(self.value)
        if distinct_keys is None:
            raise RoutebenchError(
                f"cache size {self.text!r} is a share of the trace's distinct keys, "
                "which are not known here: give distinct_keys, or a size in objects or bytes"
            )
        n = round(self.value / 100.0 * int(distinct_keys))
        if n < 1:
            raise RoutebenchError(
                f"cache size {self.text!r} of {int(distinct_keys):,} distinct keys is 0 objects: "
                "a cache must hold at least one object"
            )
        return n

    def __str__(self) -> str:
        return self.text


def parse_size(text: str | int) -> SizeSpec:
    """``"1000"`` objects, ``"64MiB"`` bytes, ``"1%"`` of distinct keys; 0 and junk refused."""
    if isinstance(text, bool):
        raise RoutebenchError(f"cache size {text!r}: expected {SIZE_FORMS}")
    if isinstance(text, int):
        text = str(text)
    raw = str(text).strip()
    t = raw.replace("_", "").replace(",", "")
    if _COUNT_RE.match(t):
        spec = SizeSpec("objects", int(t), raw)
    elif m := _BYTES_RE.match(t):
        spec = SizeSpec("bytes", math.floor(float(m.group(1)) * _UNITS[m.group(2).lower()]), raw)
    elif m := _SHARE_RE.match(t):
        spec = SizeSpec("share", float(m.group(1)), raw)
    else:
        raise RoutebenchError(f"cache size {raw!r}: expected {SIZE_FORMS}")
    if spec.value <= 0:
        raise RoutebenchError(f"cache size {raw!r} is 0: a cache must hold at least one "
                              f"{'byte' if spec.is_bytes else 'object'}")
    return spec


def split_total(total: int, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``total`` split into ``n`` integer parts in proportion to ``weights``, summing to it."""
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise RoutebenchError(f"cache weights: expected {n} non-negative weights, not all 0")
    exact = total * w / w.sum()
    parts = np.floor(exact).astype(np.int64)
    short = int(total - parts.sum())
    if short > 0:  # largest remainders first, ties to the lower index
        order = np.argsort(-(exact - parts), kind="stable")
        parts[order[:short]] += 1
    return parts


_SPEC_PARAMS = (
    Param("size", "", f"capacity of each node's cache: {SIZE_FORMS}"),
    Param("total", "", "capacity of all the caches together, split across the nodes "
                       "(by weight when the nodes have weights)"),
    Param("engine", "auto", "auto: compiled LRU/FIFO, libcachesim for the others",
          choices=ENGINES),
)


@dataclass(frozen=True)
class CacheSpec:
    """A per-node cache: a policy, a size per node or a total to split, an engine."""

    policy: str
    size: SizeSpec
    split: bool = False  # size is a total, split across the nodes
    engine: str = "numba"  # resolved: numba or libcachesim
    params: tuple[tuple[str, Any], ...] = field(default=())  # policy parameters, non-default

    @classmethod
    def parse(cls, text: str) -> CacheSpec:
        """``"LRU:size=1000"``, ``"S3FIFO:total=64MiB,small_size_ratio=0.2"``, ..."""
        if isinstance(text, CacheSpec):
            return text
        name, params = parse_spec(str(text))
        return cls.from_params(name, params)

    @classmethod
    def from_params(cls, name: str, params: Mapping[str, Any]) -> CacheSpec:
        """A spec from a policy name and its parameters (strings or Python values)."""
        policy = _lookup_policy(name)
        owner = f"cache {policy.name!r}"
        common = [p.name for p in _SPEC_PARAMS]
        own = [p.name for p in policy.params]
        unknown = [k for k in params if k not in common and k not in own]
        if unknown:
            accepted = choices([*common, *own])
            raise RoutebenchError(
                f"unknown parameter {unknown[0]!r} for {owner}; accepted: {accepted}")
        given = {k: str(v) if k in ("size", "total") and isinstance(v, int)
                 and not isinstance(v, bool) else v for k, v in params.items() if k in common}
        base = resolve_params(owner, _SPEC_PARAMS, given)
        extra = resolve_params(owner, policy.params, {k: v for k, v in params.items()
                                                      if k in own})
        size, total = str(base["size"]).strip(), str(base["total"]).strip()
        if size and total:
            raise RoutebenchError(f"{owner}: give size= (each node) or total= (split), not both")
        if not size and not total:
            raise RoutebenchError(f"{owner}: no size; give size= (each node) or total= "
                                  f"(split across nodes): {SIZE_FORMS}")
        engine = base["engine"]
        if engine == "auto":
            engine = "numba" if policy.compiled else "libcachesim"
        if engine not in policy.engines:
            if engine == "libcachesim" and _libcachesim_module() is None:
                raise RoutebenchError(f"{owner}: engine=libcachesim needs libcachesim "
                                      "(pip install libcachesim, or routebench[cache])")
            raise RoutebenchError(f"{owner}: engine={engine} is not available; "
                                  f"{policy.name} runs on {choices(policy.engines)}")
        changed = tuple((p.name, extra[p.name]) for p in policy.params
                        if extra[p.name] != p.default)
        return cls(policy.name, parse_size(size or total), split=bool(total), engine=engine,
                   params=changed)

    @property
    def policy_info(self) -> Policy:
        return policies()[self.policy]

    @property
    def label(self) -> str:
        parts = [f"{'total' if self.split else 'size'}={self.size.text}"]
        default_engine = "numba" if self.policy in COMPILED_POLICIES else "libcachesim"
        if self.engine != default_engine:
            parts.append(f"engine={self.engine}")
        parts += [f"{k}={v}" for k, v in self.params]
        return f"{self.policy}:" + ",".join(parts)

    def __str__(self) -> str:
        return self.label

    def describe(self) -> dict[str, Any]:
        """What a report records of the cache to reproduce it."""
        return {"policy": self.policy, "size": self.size.text, "split": self.split,
                "engine": self.engine, "params": dict(self.params)}

    def capacities(self, n_nodes: int, *, distinct_keys: int | None = None,
                   has_sizes: bool = False,
                   weights: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        """(capacity of each node's cache, True if in bytes); bad combinations refused."""
        if n_nodes < 1:
            raise RoutebenchError(f"cache {self.label}: node count {n_nodes} is below 1")
        if self.size.is_bytes and not has_sizes:
            raise RoutebenchError(
                f"cache {self.label}: a size in bytes needs object sizes, and this trace has "
                "none; give the size in objects (1000) or as a share of distinct keys (1%)"
            )
        value = self.size.resolve(distinct_keys)
        if self.split:
            caps = split_total(value, n_nodes, weights)
            if caps.min() < 1:
                unit = "bytes" if self.size.is_bytes else "objects"
                raise RoutebenchError(
                    f"cache {self.label}: a total of {value:,} {unit} split across {n_nodes} "
                    f"nodes leaves a node with 0 {unit}; give a larger total or size= per node"
                )
        else:
            caps = np.full(n_nodes, value, dtype=np.int64)
        return caps, self.size.is_bytes
