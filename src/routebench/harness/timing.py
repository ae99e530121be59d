"""Timing and memory of strategies: scalar latency, batch throughput, build cost.

Scalar calls are timed one by one with ``perf_counter_ns`` and the timer's own
cost (the median of back-to-back reads) is subtracted. Batch throughput is the
best of several rounds, since interference only ever adds time.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["scalar_latency_ns", "batch_ns_per_item", "build_cost", "timer_overhead_ns"]


class _NoGC:
    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


def timer_overhead_ns(samples: int = 20_000) -> float:
    """The median cost of reading ``perf_counter_ns`` twice back to back."""
    pc = time.perf_counter_ns
    out = [0] * samples
    with _NoGC():
        for i in range(samples):
            t0 = pc()
            out[i] = pc() - t0
    return float(np.median(out))


def scalar_latency_ns(fn: Callable[[Any], Any], keys: Sequence[Any],
                      overhead: float | None = None) -> tuple[float, float]:
    """Median and p99 of one call of ``fn(key)`` in ns, timer overhead subtracted."""
    if not keys:
        return (float("nan"), float("nan"))
    if overhead is None:
        overhead = timer_overhead_ns()
    pc = time.perf_counter_ns
    out = [0] * len(keys)
    with _NoGC():
        for k in keys[: min(len(keys), 200)]:  # warm caches and any lazy compilation
            fn(k)
        i = 0
        for k in keys:
            t0 = pc()
            fn(k)
            out[i] = pc() - t0
            i += 1
    s = np.asarray(out, dtype=np.float64) - overhead
    p50, p99 = np.percentile(s, [50, 99])
    return float(max(p50, 0.0)), float(max(p99, 0.0))


def batch_ns_per_item(fn: Callable[[], Any], items: int, *, min_time: float = 0.1,
                      min_rounds: int = 3, max_rounds: int = 50) -> float:
    """Best-of-rounds time of ``fn()`` over ``items`` in ns per item."""
    fn()  # warm-up (and numba compilation on a cold cache)
    with _NoGC():
        best = _best_seconds(fn, min_rounds, min_time, max_rounds)
    return best / max(items, 1) * 1e9


def _best_seconds(fn: Callable[[], Any], min_rounds: int, min_time: float,
                  max_rounds: int) -> float:
    """The fastest of at least ``min_rounds`` calls, more while under ``min_time`` in all."""
    best = float("inf")
    spent = 0.0
    rounds = 0
    while rounds < min_rounds or (spent < min_time and rounds < max_rounds):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        rounds += 1
    return best


def build_cost(factory: Callable[[], Any], *, min_time: float = 0.02,
               max_rounds: int = 20) -> tuple[float, int]:
    """``(build_ms, memory_bytes)`` of the structure ``factory()`` builds.

    Time is the best of a few builds; memory is what the built object still
    holds (tracemalloc, which sees numpy's buffers too), measured on a separate
    build so tracing does not slow the timed ones.
    """
    factory()  # warm-up
    best = _best_seconds(factory, 1, min_time, max_rounds)
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    obj = factory()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    if not tracing:
        tracemalloc.stop()
    del obj
    return best * 1e3, int(max(held, 0))
