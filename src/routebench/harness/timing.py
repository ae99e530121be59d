"""Timing and memory of strategies: scalar latency, batch throughput, build cost.

Scalar latency is measured the way pyperf measures a function: the clock is
read outside a calibrated loop of many calls, a value is one such loop, each
round discards a warm-up value and takes the median of the rest, and the
result is the median of the round medians. The clock is the thread's CPU
time where it is precise (Linux, most Unixes), so time spent preempted by
other processes is not counted (pyperf asks for an isolated CPU instead);
elsewhere ``perf_counter``. A sub-microsecond call cannot be timed on its
own: two clock reads cost ~60 ns in 10 ns steps, so a per-call median or p99
measures the clock and the machine's state more than the call (run to run
they differed up to 2x). Batch throughput is the best of several rounds,
since interference only ever adds time.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["scalar_latency_ns", "batch_ns_per_item", "build_cost"]


class _NoGC:
    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


#: a timed value lasts at least this long (s): a calibrated loop of calls
SCALAR_MIN_TIME = 1e-3
#: rounds, each with one warm-up value discarded and this many values kept
SCALAR_ROUNDS = 5
SCALAR_VALUES = 7
#: keys one pass of the loop cycles through (a sample of the trace's keys)
SCALAR_KEYS = 1000


def _cpu_clock() -> Callable[[], float]:
    """The thread's CPU time when it is precise to a microsecond, else ``perf_counter``.

    On a loaded machine (load 10 on 2 CPUs, issue 10) wall-clock values of 0.5-10 ms
    were mostly preempted and two processes differed up to 4x; CPU time leaves the
    preemptions out. (Windows' thread time moves in 15.6 ms ticks: not used there.)
    """
    try:
        if time.get_clock_info("thread_time").resolution <= 1e-6:
            time.thread_time()
            return time.thread_time
    except (AttributeError, OSError, ValueError):  # pragma: no cover - platform without it
        pass
    return time.perf_counter  # pragma: no cover - platform without a precise thread clock


_scalar_clock = _cpu_clock()


def _loop_seconds(fn: Callable[[Any], Any], keys: Sequence[Any], loops: int) -> float:
    """Seconds for ``loops`` passes of ``fn(key)`` over ``keys``: the clock outside the loop."""
    clock = _scalar_clock
    t0 = clock()
    for _ in range(loops):
        for k in keys:
            fn(k)
    return clock() - t0


def scalar_latency_ns(fn: Callable[[Any], Any], keys: Sequence[Any], *,
                      min_time: float = SCALAR_MIN_TIME, rounds: int = SCALAR_ROUNDS,
                      values: int = SCALAR_VALUES, max_keys: int = SCALAR_KEYS) -> float:
    """ns per call of ``fn(key)``, pyperf-style: the median of round medians.

    A value is ``loops`` passes over up to ``max_keys`` of ``keys`` (fewer when
    one pass would outlast ``min_time``: slow calls), timed as a whole, with
    ``loops`` the smallest power of two that lasts ``min_time``. Each of
    ``rounds`` rounds discards one warm-up value and takes the median of
    ``values`` more. The figure includes the Python call and the loop step
    (a few ns), as a caller pays them; garbage collection is off while timing.
    There is no per-call percentile: see the module docstring.
    """
    if not keys or rounds < 1 or values < 1:
        return float("nan")
    block = list(keys[:max_keys])
    with _NoGC():
        _loop_seconds(fn, block, 1)  # warm-up: caches, lazy compilation
        per_call = max(_loop_seconds(fn, block, 1), 1e-9) / len(block)
        block = block[: max(1, min(len(block), int(min_time / per_call) + 1))]
        loops = 1
        while _loop_seconds(fn, block, loops) < min_time and loops < 1 << 30:
            loops *= 2
        medians = []
        for _ in range(rounds):
            _loop_seconds(fn, block, loops)  # the round's warm-up value, discarded
            medians.append(float(np.median([_loop_seconds(fn, block, loops)
                                            for _ in range(values)])))
    return float(np.median(medians)) / (loops * len(block)) * 1e9


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
