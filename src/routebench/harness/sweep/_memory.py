"""What a built structure holds, counted on this thread's call only.

``timing.build_cost`` reads tracemalloc's process-wide total, which on a Dask
worker also counts what the worker's own threads allocate meanwhile (its event
loop, heartbeats): the figure then depends on where the cell ran. Here only
the allocations made beneath this module's frame count (a tracemalloc filter on
this file, every frame of each traceback), so a cell's ``memory_bytes`` is the
same in this process and on any worker. This file holds nothing else, so that
the filter matches these calls alone.

A worker's sampling threads (Dask's profiler, its event-loop watchdog) can hold a
frame of the build for a moment, and with it that frame's temporaries: the
snapshot then counts a few kilobytes the structure does not hold. Such a retention
only ever adds, so the figure is the least of ``_ROUNDS`` builds.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

__all__ = ["held_bytes"]

#: frames kept a traceback: deep enough to reach this module from a numpy buffer
_FRAMES = 128
#: builds measured; the least counts (another thread's hold on a frame only adds)
_ROUNDS = 3


def held_bytes(factory: Callable[[], Any]) -> int:
    """Bytes the object ``factory()`` returns still holds (after a warm-up call)."""
    factory()
    gc.collect()
    if tracemalloc.is_tracing():  # someone else's trace: the process-wide figure will do
        before = tracemalloc.get_traced_memory()[0]
        obj = factory()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        del obj
        return max(int(held), 0)
    return min(_held_once(factory) for _ in range(_ROUNDS))


def _held_once(factory: Callable[[], Any]) -> int:
    tracemalloc.start(_FRAMES)
    try:
        obj = _build(factory)
        gc.collect()
        held = _under_this_file(tracemalloc.take_snapshot())
        del obj
    finally:
        tracemalloc.stop()
    return int(held)


def _under_this_file(snap: tracemalloc.Snapshot) -> int:
    """Bytes of the traces with a frame in this file. ``Snapshot.filter_traces`` matches
    every frame of every trace with fnmatch (1.6 s for maglev's 32,000 traces); here each
    distinct traceback (tracemalloc shares them between traces) is looked at once."""
    raw = getattr(snap.traces, "_traces", None)
    if raw is None:  # pragma: no cover - another tracemalloc: the public, slower filter
        kept = snap.filter_traces([tracemalloc.Filter(True, __file__, all_frames=True)])
        return sum(t.size for t in kept.traces)
    seen: dict[int, bool] = {}
    held = 0
    for trace in raw:  # (domain, size, frames, total frames); a frame is (filename, line)
        frames = trace[2]
        hit = seen.get(id(frames))
        if hit is None:
            hit = seen[id(frames)] = any(f[0] == __file__ for f in frames)
        if hit:
            held += trace[1]
    return held


def _build(factory: Callable[[], Any]) -> Any:
    return factory()
