"""Mass removal and resize cost: keyed strategies losing many nodes, then getting them back.

For each strategy and node count N, ``run_removals`` assigns a sample of
distinct key digests, then removes nodes step by step, cumulatively, up to
each target (10%, then up to 30%, then up to 50% of N by default), in a
removal order:

- ``random``: a seeded permutation of the nodes;
- ``fifo``: oldest first (``nodes[0]``, ``nodes[1]``, ...);
- ``lifo``: newest first (``reversed(nodes)``).

Strategies that can only remove their last node (``removable == "last"``:
jump, jumpback, flip, binomial, power) run ``lifo`` whatever was asked, and
their record's ``note`` says so (``strict=True`` refuses instead). Then the
nodes come back, ``add(name)`` in the reverse order of their removal, step by
step to the same targets and finally to all N.

After every step (and at the start) a step record holds: peak/mean and CoV of
the keys per node present, beside their noise floors (a uniformly random
assignment of as many keys over as many nodes); the share of keys on another
node than at the start, beside the least any strategy must move (the share
whose node is out); keys moved between nodes that are both present (0 for a
consistent strategy); batch ``lookup_many`` ns/key at that state; memory
(``strategy.memory()`` where the strategy has it); and after each restore the
share of keys back on their original node. Finally, the resize cost: the
median time of one ``remove`` and one ``add`` at N (the node the order names
first, removed and added back, 51 times; no lookup in between, so a lazy map
refresh is not counted).

Nodes are removed one ``remove(name)`` at a time, lookups only after a whole
step, so a strategy with incremental removal (anchor, dx, memento: O(1) a
removal, one map refresh before the next lookup) pays what it would in
production. A strategy that rebuilds on every change through the base class's
``remove``/``add`` (ring, maglev, jump, ...) rebuilds once a step instead: its
structure is a function of its node list, so the state is the same, and a
step of 500 removals does not cost 500 rebuilds (nor 10^5 re-indexings of a
million nodes for jump). The resize cost times their real ``remove``/``add``.
"""

from __future__ import annotations

import gc
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._errors import RoutebenchError, choices
from ..._params import parse_spec
from ...datasets import Trace
from ...datasets._distinct import DistinctSample
from ...hashing import Hasher
from ...records import RemovalResult, display_label
from ...registry import Registry, registry
from ...strategies import KeyedStrategy
from .. import metrics, timing
from .runner import StrategySpec, load_note

__all__ = ["ORDERS", "DEFAULT_FRACTIONS", "DEFAULT_KEYS", "RESIZE_REPEATS", "parse_removals",
           "removal_order", "run_removals"]

#: removal orders: a seeded permutation, oldest first, newest first
ORDERS = ("random", "fifo", "lifo")
DEFAULT_FRACTIONS = (0.1, 0.3, 0.5)
#: distinct key digests assigned by default (random, from the seed)
DEFAULT_KEYS = 200_000
#: remove + add pairs timed for the resize cost: up to RESIZE_REPEATS, at least
#: RESIZE_MIN_REPEATS, fewer than the most once they have taken RESIZE_BUDGET_S seconds
#: (a strategy that rebuilds on every change: ring at N = 1000 takes ~0.15 s a change)
RESIZE_REPEATS = 51
RESIZE_MIN_REPEATS = 5
RESIZE_BUDGET_S = 2.0


# -- what to remove -------------------------------------------------------------
@dataclass(frozen=True)
class _Target:
    """One removal target: a share of N (``fraction``) or a node count (``count``)."""

    fraction: float | None
    count: int | None

    @property
    def label(self) -> str:
        if self.fraction is not None:
            return f"{self.fraction * 100:g}%"
        return f"{self.count} node" + ("s" if self.count != 1 else "")

    def nodes_at(self, n: int) -> int:
        """The nodes out at N once this target is reached; refuses removing all of them."""
        if self.fraction is not None:
            if self.fraction >= 1:
                raise RoutebenchError(f"removing 100% of {n:,} nodes leaves none; give shares "
                                      "below 100%")
            k = max(1, math.floor(self.fraction * n + 0.5))
            if k >= n:
                raise RoutebenchError(
                    f"removing {self.label} of {n:,} node{'s' if n != 1 else ''} removes "
                    f"{k:,} and leaves none; give a smaller share or more nodes")
            return k
        assert self.count is not None
        if self.count > n:
            raise RoutebenchError(f"removing {self.count:,} nodes of {n:,}: there are only "
                                  f"{n:,}")
        if self.count == n:
            raise RoutebenchError(f"removing {self.count:,} of {n:,} nodes leaves none; "
                                  "remove fewer")
        return self.count


def _bad_target(value: Any) -> RoutebenchError:
    return RoutebenchError(f"removal {value!r}: expected a share of the nodes in (0%, 100%) "
                           "such as 10% or 0.1, or a whole number of nodes such as 5")


def _target(value: Any) -> _Target:
    if isinstance(value, _Target):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return _target(float(text[:-1]) / 100)
            if any(c in text for c in ".eE") or text.lower() in ("nan", "inf", "-inf"):
                return _target(float(text))
            return _target(int(text))
        except ValueError:
            raise _bad_target(value) from None
    if isinstance(value, bool):
        raise _bad_target(value)
    if isinstance(value, (int, np.integer)):
        if value < 1:
            raise _bad_target(value)
        return _Target(None, int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if not math.isfinite(f) or f <= 0 or f > 1:
            raise RoutebenchError(f"removal share {f:g}: not in (0%, 100%); give e.g. 10% "
                                  "or 0.1 (or a whole number of nodes)")
        return _Target(f, None)
    raise _bad_target(value)


def parse_removals(text: str | Iterable[Any]) -> tuple[Any, ...]:
    """``"10%,30%,50%"`` -> ``(0.1, 0.3, 0.5)``; ``"5,10"`` -> ``(5, 10)`` (node counts).

    Each item is a share (``10%``, ``0.1``: a float in (0, 1)) or a whole number
    of nodes (``5``: an int); bad items are refused with one line.
    """
    items = [t for t in text.split(",")] if isinstance(text, str) else list(text)
    if not items or any(isinstance(t, str) and not t.strip() for t in items):
        raise RoutebenchError(f"removals {text!r}: expected shares or node counts separated "
                              "by commas, such as 10%,30%,50%")
    out = []
    for t in items:
        tg = _target(t)
        out.append(tg.fraction if tg.fraction is not None else tg.count)
    return tuple(out)


def _check_order(order: str) -> str:
    if order not in ORDERS:
        raise RoutebenchError(f"removal order {order!r}: expected one of {choices(ORDERS)}")
    return order


def removal_order(n: int, order: str, seed: int = 0) -> np.ndarray:
    """The indices (into the starting ``nodes``) in the order they leave."""
    _check_order(order)
    if order == "fifo":
        return np.arange(n, dtype=np.intp)
    if order == "lifo":
        return np.arange(n - 1, -1, -1, dtype=np.intp)
    return np.random.default_rng([seed, n, 13]).permutation(n).astype(np.intp)


def _spec(s: StrategySpec | str | tuple[str, Mapping[str, Any]]) -> StrategySpec:
    if isinstance(s, StrategySpec):
        return s
    if isinstance(s, str):
        name, params = parse_spec(s)
        return StrategySpec(name, params)
    if isinstance(s, tuple) and len(s) == 2:
        return StrategySpec(str(s[0]), dict(s[1]))
    raise RoutebenchError(f"strategy {s!r}: expected a name such as 'memento' or "
                          "'ring:vnodes=200', or a StrategySpec")


# -- the keys -------------------------------------------------------------------
def _narrow(d: np.ndarray, h: Hasher) -> np.ndarray:
    """Uniform 64-bit digests as a narrower hash's (ketama's 32 bits): the high bits."""
    return d >> np.uint64(64 - h.bits) if h.bits < 64 else d


def _distinct_in_order(d: np.ndarray) -> np.ndarray:
    _, first = np.unique(d, return_index=True)
    return d[np.sort(first)]


class _Keys:
    """The key digests every strategy is measured on, per hash function."""

    def __init__(self, source: Trace | np.ndarray | Sequence[int] | None,
                 hashers: Sequence[Hasher], keys: int, seed: int) -> None:
        self.by_hash: dict[str, np.ndarray] = {}
        if isinstance(keys, bool) or not isinstance(keys, (int, np.integer)) or keys < 1:
            raise RoutebenchError(f"keys {keys!r}: need a whole number of at least 1 key to "
                                  "assign")
        if isinstance(source, Trace):
            sample = DistinctSample(hashers, capacity=keys)
            for chunk in source.chunks():
                col = chunk.columns[source.route_on]
                cache: dict[str, np.ndarray] = {}

                def digests(h: Hasher, col: Any = col, cache: dict[str, np.ndarray] = cache
                            ) -> np.ndarray:
                    if h.name not in cache:
                        cache[h.name] = col.digest(h)
                    return cache[h.name]

                sample.add(digests)
            if sample.size == 0:
                raise RoutebenchError(f"trace {source.label!r} has no keys to assign")
            # the sample is sorted by the reference digest: shuffle it (seeded), or the
            # lookups of a sorted key stream would be timed with unusually warm caches
            perm = np.random.default_rng([seed, 7]).permutation(sample.size)
            for h in hashers:
                self.by_hash[h.name] = np.ascontiguousarray(sample.digests[h.name][perm])
            self.size = sample.size
            self.describe = (f"{source.label}: {sample.size:,} distinct keys"
                             + (" (a uniform sample)" if sample.sampled else ""))
            return
        if source is None:
            d = np.random.default_rng([seed, 0]).integers(0, 2**64 - 1, keys, dtype=np.uint64,
                                                          endpoint=True)
            d = _distinct_in_order(d)
            self.describe = f"{d.size:,} random digests (seed {seed})"
        else:
            raw = np.asarray(source)
            if raw.ndim != 1 or raw.size == 0 or (raw.dtype != np.uint64 and not (
                    np.issubdtype(raw.dtype, np.integer) and raw.min() >= 0)):
                raise RoutebenchError("digests: expected a non-empty 1-D array of uint64 key "
                                      f"digests, got dtype {raw.dtype}, shape {raw.shape}")
            d = _distinct_in_order(raw.astype(np.uint64))
            self.describe = f"{d.size:,} given digests"
        self.size = int(d.size)
        for h in hashers:
            self.by_hash[h.name] = np.ascontiguousarray(_narrow(d, h))


# -- strategies, the removal contract and bulk changes -------------------------------
def _rebuilds_from_node_list(s: KeyedStrategy) -> bool:
    """True when ``add``/``remove`` are the base class's: append or delete, then
    ``_rebuild()`` from the node list. The state after k removals is then the state
    after one rebuild over the survivors, so a step rebuilds once (the base class's
    ``remove`` also re-indexes every node: jump at N = 10^6 would spend O(N) a removal)."""
    cls = type(s)
    return cls.remove is KeyedStrategy.remove and cls.add is KeyedStrategy.add


def _remove_nodes(s: KeyedStrategy, names: Sequence[str], bulk: bool) -> None:
    if bulk and len(names) > 1 and (s.removable != "last" or set(names) == set(
            s._names[len(s._names) - len(names):])):  # last-only: the tail, or refused below
        gone = set(names)
        keep = [i for i, n in enumerate(s._names) if n not in gone]
        if len(keep) != len(s._names) - len(gone) or not keep:
            raise RoutebenchError(f"{s.name!r}: removing {len(gone)} nodes failed")
        s._names = [s._names[i] for i in keep]
        s._weights = [s._weights[i] for i in keep]
        s._index = {n: j for j, n in enumerate(s._names)}
        s._rebuild()
        return
    for name in names:
        s.remove(name)


def _add_nodes(s: KeyedStrategy, names: Sequence[str], bulk: bool) -> None:
    if bulk and len(names) > 1:
        s._names.extend(names)
        s._weights.extend([1.0] * len(names))
        s._index = {n: j for j, n in enumerate(s._names)}
        s._rebuild()
        return
    for name in names:
        s.add(name)


def _memory(s: KeyedStrategy) -> tuple[int | None, int | None]:
    """``memory()``'s bytes where the strategy has it, and the ``state`` part of a
    by-part answer (the algorithm's own arrays, what its paper counts)."""
    fn = getattr(s, "memory", None)
    if not callable(fn):
        return None, None
    m = fn()
    if isinstance(m, Mapping):
        state = m.get("state")
        return int(sum(int(v) for v in m.values())), None if state is None else int(state)
    return (int(m), None) if m is not None else (None, None)


class _State:
    """The strategy's nodes as indices into the starting node list, kept in step with
    ``remove`` (later nodes move down one) and ``add`` (appended), so a lookup's node
    index maps back to the starting numbering without reading ``nodes`` (O(N))."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.order = np.arange(n, dtype=np.intp)  # node index -> starting index
        self.present = np.ones(n, dtype=np.bool_)

    def removed(self, gone: np.ndarray) -> None:
        self.present[gone] = False
        self.order = self.order[self.present[self.order]]

    def added(self, back: np.ndarray) -> None:
        self.present[back] = True
        self.order = np.concatenate([self.order, back])


def _step(s: KeyedStrategy, d: np.ndarray, a0: np.ndarray, st: _State, phase: str,
          label: str, time_lookups: bool) -> dict[str, Any]:
    """The measurements at the strategy's current state."""
    idx = s.lookup_many(d)  # the first lookup after changes: pays any map refresh
    m = int(st.order.size)
    if idx.size and (int(idx.max()) >= m or int(idx.min()) < 0):
        raise RoutebenchError(f"{s.name!r} returned node index {int(idx.max())} with {m} "
                              "nodes: it does not keep the add/remove node order")
    now = st.order[idx]
    keys = int(d.size)
    orig_in = st.present[a0]
    if not st.present[now].all():
        raise RoutebenchError(f"{s.name!r} routed keys to a removed node: its node indices "
                              "do not follow remove (later nodes move down one) and add "
                              "(appended)")
    moved = now != a0
    between = int(np.count_nonzero(moved & orig_in))
    counts = np.bincount(now, minlength=st.n)[st.present]
    bal = metrics.balance(counts)
    out: dict[str, Any] = {
        "phase": phase,
        "step": label,
        "survivors": m,
        "removed_nodes": st.n - m,
        "removed_share": (st.n - m) / st.n,
        "peak_to_mean": bal["peak_to_mean"],
        "peak_to_mean_random": metrics.peak_to_mean_random(keys, [1.0] * m),
        "cov": bal["cov"],
        "cov_random": math.sqrt((m - 1) / keys),
        "keys_moved": metrics.fraction(int(np.count_nonzero(moved)), keys),
        "keys_moved_min": metrics.fraction(int(np.count_nonzero(~orig_in)), keys),
        "moved_between_survivors": between,
        "moved_between_survivors_share": metrics.fraction(between, keys),
    }
    out["restored_share"] = (metrics.fraction(int(np.count_nonzero(~moved)), keys)
                             if phase == "restore" else None)
    out["batch_ns_per_key"] = (timing.batch_ns_per_item(lambda: s.lookup_many(d), keys)
                               if time_lookups else None)
    out["memory_bytes"], out["memory_state_bytes"] = _memory(s)
    return out


def _resize_cost(s: KeyedStrategy, st: _State, names: Sequence[str], order: str,
                 seed: int, repeats: int) -> tuple[float | None, float | None, int]:
    """Median ns of one ``remove`` and one ``add`` at N, and how many pairs: the node
    the order names first (a random one, the first, the last; the last for last-only
    strategies), removed and added back, ``repeats`` times (fewer, but at least
    RESIZE_MIN_REPEATS, once they take RESIZE_BUDGET_S). No lookup in between."""
    if repeats < 1 or st.order.size < 2:
        return None, None, 0
    cur = st.order
    if s.removable == "last" or order == "lifo":
        picks = [names[int(cur[-1])]] * repeats
    elif order == "fifo":  # each goes to the end when added back: the next is first then
        picks = [names[int(cur[i % cur.size])] for i in range(repeats)]
    else:
        rng = np.random.default_rng([seed, cur.size, 51])
        picks = [names[int(cur[i])] for i in rng.integers(cur.size, size=repeats)]
    rm = np.empty(repeats, dtype=np.int64)
    ad = np.empty(repeats, dtype=np.int64)
    pc = time.perf_counter_ns
    budget = pc() + int(RESIZE_BUDGET_S * 1e9)
    done = 0
    was = gc.isenabled()
    gc.disable()
    try:
        for node in picks:
            t0 = pc()
            s.remove(node)
            t1 = pc()
            s.add(node)
            t2 = pc()
            rm[done] = t1 - t0
            ad[done] = t2 - t1
            done += 1
            if done >= RESIZE_MIN_REPEATS and t2 > budget:
                break
    finally:
        if was:
            gc.enable()
    return float(np.median(rm[:done])), float(np.median(ad[:done])), done


def _step_label(phase: str, target: _Target | None) -> str:
    if phase == "start":
        return "start"
    if phase == "remove":
        assert target is not None
        return f"{target.label} out"
    return "back: all in" if target is None else f"back: {target.label} out"


def _checked(specs: Iterable[StrategySpec | str | tuple[str, Mapping[str, Any]]],
             node_counts: Iterable[int], fractions: Iterable[Any], order: str, strict: bool,
             reg: Registry) -> tuple[list[StrategySpec], list[int], list[_Target],
                                     dict[str, Hasher]]:
    """The inputs checked, before any work: one RoutebenchError for the first bad one."""
    spec_list = [_spec(s) for s in specs]
    counts = list(node_counts)
    _check_order(order)
    targets = [_target(f) for f in fractions]
    if not spec_list:
        raise RoutebenchError("no strategies to run")
    if not counts:
        raise RoutebenchError("no node counts to run")
    if not targets:
        raise RoutebenchError("no removals to run: give shares such as 10%,30%,50%")
    twice = next((t for i, t in enumerate(targets) if t in targets[:i]), None)
    if twice is not None:
        raise RoutebenchError(f"removal {twice.label} is given twice; give each target once")
    for n in counts:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise RoutebenchError(f"node count {n!r}: need a whole number of at least 1")
    counts = [int(n) for n in counts]
    # refuse bad input before any work: names, parameters, sizes, targets, orders
    hashers: dict[str, Hasher] = {}
    for spec in spec_list:
        cls = reg.get(spec.name)
        if not issubclass(cls, KeyedStrategy):
            raise RoutebenchError(f"strategy {spec.name!r} is a {cls.kind}; mass removal "
                                  "measures keyed strategies")
        probe = cls.__new__(cls)
        probe.config = cls.resolve_params(dict(spec.params))
        h = probe._make_hasher()
        hashers.setdefault(h.name, h)
        if strict and cls.removable == "last" and order != "lifo":
            raise RoutebenchError(
                f"{spec.name!r} can only remove its last node: removal order {order!r} is not "
                "possible for it; use lifo (or run without strict to have it run lifo)")
        for n in counts:  # N above what it supports, or names beyond memory
            cls.check_count(n)
        if cls._estimate_bytes is not KeyedStrategy._estimate_bytes:  # else: nothing to size
            for n in counts:
                cls.check_size(n, **spec.params)
    return spec_list, counts, targets, hashers


def _warn_noise_floor(counts: Sequence[int], keys: int) -> None:
    for n in counts:
        floor = metrics.peak_to_mean_random(keys, [1.0] * n)
        if floor is not None and floor >= metrics.NOISE_FLOOR_WARN:
            warnings.warn(
                f"mass removal at N={n:,}: {keys / n:,.1f} keys a node; a uniformly "
                f"random assignment already shows peak/mean {floor:.2f}, so balance figures "
                "near it say little (give more keys)", RuntimeWarning, stacklevel=3)


# -- the engine -------------------------------------------------------------------
def run_removals(specs: Iterable[StrategySpec | str | tuple[str, Mapping[str, Any]]],
                 node_counts: Iterable[int],
                 digests_or_trace: Trace | np.ndarray | Sequence[int] | None = None,
                 fractions: Iterable[Any] = DEFAULT_FRACTIONS, order: str = "random", *,
                 seed: int = 0, keys: int = DEFAULT_KEYS, strict: bool = False,
                 time_lookups: bool = True, resize_repeats: int = RESIZE_REPEATS,
                 reg: Registry = registry,
                 progress: Callable[[str, int | None], Any] | None = None
                 ) -> list[RemovalResult]:
    """Mass removal and restore for every strategy at every N, as result records.

    ``specs``: strategy names (``"memento"``, ``"ring:vnodes=200"``) or
    ``StrategySpec``. ``digests_or_trace``: a trace (its distinct keys, at most
    ``keys`` of them, a uniform sample beyond that, hashed as each strategy
    hashes), an array of uniform 64-bit digests (a narrower hash takes their
    high bits), or None: ``keys`` random digests from ``seed``. ``fractions``:
    cumulative targets, shares in (0, 1) or ``"10%"``, or whole node counts.
    ``order``: random, fifo or lifo; a strategy that removes only its last node
    runs lifo with a ``note``, or is refused when ``strict``. ``time_lookups``:
    time batch lookups at every step (off: ``batch_ns_per_key`` is None).
    ``resize_repeats``: remove + add pairs timed at N (0: not timed).
    ``progress(stage, total)`` is called once and must return an object with
    ``update(n)`` and ``close()`` (a tqdm bar fits); it counts (strategy, N) runs.
    A RuntimeWarning says when there are so few keys a node that a uniformly
    random assignment already shows peak/mean above 1.2 (the balance columns are
    then mostly noise: give more keys).

    Bad input (an unknown strategy, a share outside (0, 1), removing every node
    or more nodes than there are, an unknown order, a non-lifo order on a
    last-only strategy when ``strict``) is refused before any work with one
    ``RoutebenchError``.
    """
    spec_list, counts, targets, hashers = _checked(specs, node_counts, fractions, order,
                                                   strict, reg)
    plans = {n: sorted((t.nodes_at(n), i) for i, t in enumerate(targets)) for n in counts}
    key_set = _Keys(digests_or_trace, list(hashers.values()), keys, seed)
    scenario = (f"remove {','.join(t.label for t in targets)} {order}; "
                f"{key_set.describe}")
    _warn_noise_floor(counts, key_set.size)
    bar = progress("mass removal", len(spec_list) * len(counts)) if progress else None
    results: list[RemovalResult] = []
    try:
        for spec in spec_list:
            for n in counts:
                results.append(_run_one(spec, n, reg, key_set, targets, plans[n], order, seed,
                                        time_lookups, resize_repeats, scenario))
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return results


def _run_one(spec: StrategySpec, n: int, reg: Registry, key_set: _Keys,
             targets: Sequence[_Target], plan: Sequence[tuple[int, int]], asked: str,
             seed: int, time_lookups: bool, resize_repeats: int,
             scenario: str) -> RemovalResult:
    s = reg.create_keyed(spec.name, n, **spec.params)
    d = key_set.by_hash[s.hasher.name]
    names = list(s.nodes)  # read once: reading it after changes may rebuild it (O(N))
    order, note = asked, ""
    if s.removable == "last" and asked != "lifo":
        order = "lifo"
        note = f"{spec.name} removes only its last node: ran lifo, not {asked}"
    leaving = removal_order(n, order, seed)
    bulk = _rebuilds_from_node_list(s)
    st = _State(n)
    a0 = s.lookup_many(d)
    steps = [_step(s, d, a0, st, "start", "start", time_lookups)]
    done = 0
    for k, ti in plan:
        if k > done:
            gone = leaving[done:k]
            _remove_nodes(s, [names[i] for i in gone.tolist()], bulk)
            st.removed(gone)
            done = k
        steps.append(_step(s, d, a0, st, "remove", _step_label("remove", targets[ti]),
                           time_lookups))
    # restore in reverse: back to each earlier target, then to all N
    back_to = [(k, targets[ti]) for k, ti in plan[-2::-1]] + [(0, None)]
    for k, target in back_to:
        if k < done:
            back = leaving[k:done][::-1]
            _add_nodes(s, [names[i] for i in back.tolist()], bulk)
            st.added(back)
            done = k
        steps.append(_step(s, d, a0, st, "restore", _step_label("restore", target),
                           time_lookups))
    rm_ns, add_ns, pairs = _resize_cost(s, st, names, order, seed, resize_repeats)
    removing = [x for x in steps if x["phase"] == "remove"]
    memories = [x["memory_bytes"] for x in steps if x["memory_bytes"] is not None]
    summary: dict[str, Any] = {
        "sample_keys": key_set.size,
        "keys_moved_excess_max": max(x["keys_moved"] - x["keys_moved_min"] for x in removing),
        "moved_between_survivors_max": max(x["moved_between_survivors"] for x in steps),
        "restored_share_final": steps[-1]["restored_share"],
        "remove_ns_median": rm_ns,
        "add_ns_median": add_ns,
        "resize_repeats": pairs,
        "memory_bytes_max": max(memories) if memories else None,
    }
    defaults = reg.get(spec.name).resolve_params({})
    return RemovalResult(
        strategy=spec.name, params=dict(s.config),
        label=display_label(spec.name, s.config, defaults), nodes=n, metrics=summary,
        scenario=scenario, order=order, note=note, keys=key_set.describe,
        targets=[t.label for t in targets], seed=seed, steps=steps)


# -- the cost estimate (``run --remove --budget``) -----------------------------------------
#: lookups a key a step: the routing pass, and batch timing's warm-up and three rounds
LOOKUPS_A_STEP = 5


@dataclass
class RemovalCost:
    """What ``run_removals`` over these will take, from a calibration at each N."""

    parts: list[Any]  # runner.CostPart, one a (strategy, N)
    rebuilds: list[int]  # builds each (strategy, N) pays: 1, or one a step for rebuilders
    steps: int
    keys: int
    stretch: float = 1.0  # wall over CPU time (runner.load_stretch)

    def seconds(self, keys: int | None = None) -> float:
        k = self.keys if keys is None else keys
        return self.stretch * sum(
            b * p.build_s + self.steps * LOOKUPS_A_STEP * k * p.lookup_ns * 1e-9
            + min(RESIZE_BUDGET_S, RESIZE_REPEATS * 2 * p.build_s * (b > 1))
            for p, b in zip(self.parts, self.rebuilds))

    def keys_to_fit(self, budget_s: float, least: int = 10_000) -> int:
        """The most keys (at most ``keys``, at least ``least``) whose run fits."""
        if self.seconds() <= budget_s:
            return self.keys
        lo, hi = min(least, self.keys), self.keys
        while hi - lo > max(1, lo // 100):
            mid = (lo + hi) // 2
            if self.seconds(mid) <= budget_s:
                lo = mid
            else:
                hi = mid
        return lo

    def describe(self) -> str:
        worst = max(zip(self.parts, self.rebuilds),
                    key=lambda pb: pb[1] * pb[0].build_s + pb[0].lookup_ns)
        p, b = worst
        return (f"{len(self.parts)} (strategy, N) run{'s' if len(self.parts) != 1 else ''} of "
                f"{self.steps} steps over {self.keys:,} keys, {LOOKUPS_A_STEP} lookups a key "
                f"a step, timed at each N; costliest: {p.label} at N={p.n:,} ({b} build"
                f"{'s' if b != 1 else ''} of {p.build_s:.2g} s, {p.lookup_ns:,.0f} ns a key "
                f"over {p.calibration_keys:,} keys)"
                + (f"; x{self.stretch:.1f} for the machine's load ({load_note()})"
                   if self.stretch > 1 else ""))


def estimate_removal_cost(specs: Iterable[StrategySpec | str | tuple[str, Mapping[str, Any]]],
                          node_counts: Iterable[int], keys: int, fractions: Iterable[Any],
                          reg: Registry = registry) -> RemovalCost:
    """Each (strategy, N) built once and timed; its steps priced from that."""
    from .runner import calibrate, load_stretch

    spec_list = [_spec(s) for s in specs]
    counts = list(node_counts)
    targets = [_target(f) for f in fractions]
    parts, rebuilds = [], []
    steps = 1 + 2 * len(targets)
    for spec in spec_list:
        cls = reg.get(spec.name)
        rebuilder = (getattr(cls, "remove", None) is KeyedStrategy.remove
                     and getattr(cls, "add", None) is KeyedStrategy.add)
        for n in counts:
            parts.append(calibrate(spec, n, reg))
            rebuilds.append(steps if rebuilder else 1)
    return RemovalCost(parts, rebuilds, steps, keys, load_stretch())
