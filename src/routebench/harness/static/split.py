"""Huge traces on Dask: a trace of files cut into byte ranges, one task a range, merged.

Each task parses its range (``datasets.readers.RangeTrace``: newline-aligned, a gzip
member or zstd frame never cut) and replays it through every (strategy, N) scenario,
handing back counts, not requests. The merge is exact, not an estimate: request counts
a node, join/leave moves and NAT counts add; the bottom-k distinct-key samples merge into
the very sample one pass would hold (``DistinctSample.merge``), so remap and
monotonicity over distinct keys are the same too; read statistics add (quoted rejected
lines keep their line numbers). What depends on order is refused (``--cache``, ``--keys``
on a file, sessions rebuilt from times); timing, build cost and memory are measured once,
in this process after the merge (the workers are idle then), on the first range's keys.
(Lookup timing on a Dask worker is not the same measurement: a worker's event-loop
thread takes the GIL from a sub-microsecond call loop now and then.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._errors import RoutebenchError
from ...datasets._distinct import DistinctSample
from ...datasets.readers import ByteRange, FileSetTrace, RangeTrace, ReadOptions, ReadStats
from ...datasets.readers._split import DEFAULT_SPLIT, MIN_SPLIT

__all__ = ["Split", "RangePartial", "replay_range", "replay_split", "range_size"]

#: keys of the first range handed back for the timing (a first chunk's worth at most)
_TIMING_KEYS = 1 << 18
#: for tests of failure handling: ``exit:N`` makes the Dask worker that runs range N exit
#: (as if it died) mid-task
FAULT_ENV = "ROUTEBENCH_SPLIT_FAULT"


def _fault(r: ByteRange) -> None:
    how, _, index = os.environ.get(FAULT_ENV, "").partition(":")
    if how != "exit" or index != str(r.index):
        return
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):  # not on a Dask worker: never this process
        return
    os._exit(17)


@dataclass(frozen=True)
class Split:
    """Where and how finely to split: ``workers`` local processes (1: this process, range
    after range), or a running ``scheduler``; ``size`` bytes a range (None: the input over
    4 ranges a worker, between 4 MiB and 256 MiB)."""

    workers: int = 1
    scheduler: str | None = None
    size: int | None = None
    note: Callable[[str], Any] | None = field(default=None, compare=False)

    @property
    def where(self) -> str:
        return (f"the Dask scheduler {self.scheduler}" if self.scheduler else
                "this process" if self.workers <= 1 else
                f"a local Dask cluster of {self.workers} worker processes")


@dataclass
class RangePartial:
    """What a range's task hands back: counts, never requests."""

    index: int
    tallies: list[dict[str, Any]]
    refs: np.ndarray
    digests: dict[str, np.ndarray]
    sampled: bool
    stats: ReadStats
    keys: list[bytes]
    elapsed_s: float = 0.0


def range_size(total: int, split: Split) -> int:
    if split.size is not None:
        return split.size
    return max(MIN_SPLIT, min(DEFAULT_SPLIT, -(-total // (4 * max(split.workers, 1)))))


def replay_range(specs: Sequence[Any], nodes: Sequence[int], seed: int, opts: ReadOptions,
                 columns: tuple[str, ...], r: ByteRange) -> RangePartial:
    """One range, parsed and replayed through every scenario (a task; runs anywhere)."""
    from .runner import SCALAR_SAMPLES, StaticScenario, replay

    t0 = time.perf_counter()
    _fault(r)
    trace = RangeTrace(r, opts, columns)
    scenarios = [StaticScenario(spec, n, trace, seed) for spec in specs for n in nodes]
    # the timing's keys: the first range's first chunk (its batch timing), a few elsewhere
    keys, first, _ = replay(trace, scenarios, None,
                            sample=_TIMING_KEYS if r.index == 0 else SCALAR_SAMPLES)
    refs, digests, sampled = keys.state()
    assert trace.stats is not None
    return RangePartial(r.index, [sc.tally() for sc in scenarios], refs, digests, sampled,
                        trace.stats, first, time.perf_counter() - t0)


def replay_split(trace: FileSetTrace, specs: Sequence[Any], nodes: Sequence[int],
                 scenarios: Sequence[Any], seed: int, split: Split,
                 progress: Callable[[str, int | None], Any] | None = None,
                 ) -> tuple[DistinctSample, list[bytes], dict[str, np.ndarray]]:
    """Replay ``trace`` as byte ranges on ``split``'s workers into ``scenarios`` (their
    counts absorb every range's); the merged distinct-key sample and the timing's keys
    and digests, as ``runner.replay`` returns them."""
    from .runner import SCALAR_SAMPLES

    trace.check_splittable()
    total = trace.bytes
    size = range_size(total, split)
    ranges = trace.ranges(size)
    if split.note is not None:
        files = f"{len(trace.paths)} files, " if len(trace.paths) > 1 else ""
        split.note(f"{trace.label}: {files}{total / 2**20:,.1f} MiB in {len(ranges)} byte "
                   f"ranges of up to {size / 2**20:,.1f} MiB, on {split.where}")
        whole = [r.path for r in ranges if r.first and r.end >= size * 2]
        if whole and (split.workers > 1 or split.scheduler):
            split.note(f"{whole[0]}{f' (and {len(whole) - 1} more)' if len(whole) > 1 else ''}"
                       ": one compressed member or frame (or bz2/xz), so one task; compress "
                       "in several gzip members or zstd frames to split it")
    keys = DistinctSample(sc.hasher for sc in scenarios)
    parts: dict[int, tuple[ReadStats, int, list[bytes]]] = {}

    def absorb(p: RangePartial) -> None:
        for sc, t in zip(scenarios, p.tallies, strict=True):
            sc.absorb(t)
        keys.merge(p.refs, p.digests, p.sampled)
        parts[p.index] = (p.stats, ranges[p.index].file_index, p.keys)

    args = (list(specs), list(nodes), seed, trace.opts, trace.columns)
    bar = progress(f"{trace.label}: ranges", len(ranges)) if progress else None

    def done() -> tuple[list[bytes], dict[str, np.ndarray]]:
        if bar is not None:
            bar.close()
        ordered = [parts[i] for i in range(len(ranges))]
        trace.finish([(s, fi) for s, fi, _ in ordered])
        first = next((k for _, _, k in ordered if k), [])
        return first, {h.name: h.many(first) for h in keys.hashers}

    try:
        if split.scheduler is None and split.workers <= 1:
            for r in ranges:
                absorb(replay_range(*args, r))
                if bar is not None:
                    bar.update(1)
            first, digests = done()
            return keys, first[:SCALAR_SAMPLES], digests
        from .._dask import dask_client

        with dask_client(split.workers, split.scheduler) as client:
            _on_dask(client, args, ranges, absorb, bar)
        first, digests = done()
        return keys, first[:SCALAR_SAMPLES], digests
    finally:
        if bar is not None:
            bar.close()


def _on_dask(client: Any, args: tuple[Any, ...], ranges: Sequence[ByteRange],
             absorb: Callable[[RangePartial], None], bar: Any) -> None:
    """Every range a task; partials merged as they finish; a range whose worker died runs
    once more, then the run stops naming it. A range's own error stops the run at once."""
    from distributed import as_completed

    tag = f"{time.time_ns():x}"
    byk: dict[str, ByteRange] = {}
    tries: dict[str, int] = {}
    futures = []
    for r in ranges:
        key = f"routebench-range-{tag}-{r.index}"
        byk[key], tries[key] = r, 1
        futures.append(client.submit(replay_range, *args, r, key=key, pure=False))
    ac = as_completed(futures, loop=client.loop)
    try:
        for fut in ac:
            key = fut.key
            try:
                part = fut.result()
            except RoutebenchError:
                raise
            except Exception as exc:  # the worker died (KilledWorker), or the task was lost
                r = byk[key]
                if tries[key] >= 2:
                    raise RoutebenchError(
                        f"{r.path} bytes {r.start:,}-{r.end:,}: the task failed twice: "
                        f"{type(exc).__name__}: {exc}") from None
                new = f"{key}-retry"
                byk[new], tries[new] = r, tries[key] + 1
                ac.add(client.submit(replay_range, *args, r, key=new, pure=False))
                continue
            with suppress(Exception):
                fut.release()
            absorb(part)
            if bar is not None:
                bar.update(1)
    finally:
        for f in futures:
            with suppress(Exception):
                f.cancel()
