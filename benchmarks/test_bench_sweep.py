"""Issue 15 figures: a CPU-bound sweep of 40 cells on 2 Dask workers against --workers 1.

The same grid (5 strategies x 4 node counts x 2 seeds of a 300k-request zipf trace: 40
`routebench run` cells, ~2 s each) runs serially in this process and on an embedded
LocalCluster of 2 single-threaded worker processes, side by side. Figures: the speed-up
(bar: >= 1.7x on a 2-core machine), the per-cell overhead of the Dask path (bar: <= 50
ms), and that the quality metrics agree.

The per-cell overhead is what Dask adds to each cell, measured on a cluster that is up
and warm (its workers have loaded every strategy's compiled loops): the same 40 cells
run once more through ``--scheduler`` on it, and the wall time less the busiest worker's
cells, over that worker's cells. The busiest worker is the run's critical path: the
other worker's idle wait at the end (the tail: it has no cell left while the last runs)
is not a cost of each cell, nor are the cluster's start, its warm-up and its stop, which
happen once a run; they are printed apart, with the older figure that counted them in.

    pytest benchmarks/test_bench_sweep.py -s      (or: tox -e bench)
"""

from __future__ import annotations

import os
import time

import pytest

from routebench.harness.sweep import parse_config, run_sweep
from routebench.harness.sweep._cells import warm
from routebench.harness.sweep._execute import _client
from routebench.records import TIMING_METRICS

pytest.importorskip("distributed")

GRID = {"seed": 0, "seeds": [0, 1], "nodes": [10, 50, 100, 500],
        "traces": ["zipf:s=1.1"], "strategies": ["jump", "maglev", "rendezvous", "anchor",
                                                 {"name": "ring", "vnodes": [100]}],
        "run": {"keys": "300k"}}


def _quality(records):
    return [(r["cell"], {k: v for k, v in r["metrics"].items()
                         if k not in TIMING_METRICS and k != "memory_bytes"}) for r in records]


def test_sweep_40_cells_two_workers_vs_one(figure, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = parse_config(GRID, "bench")
    assert len(cfg.cells) == 40
    # the serial run first, in a process no cluster has run in yet: run second, after the
    # start and stop below, it took 131 s where a fresh process takes 70 s
    t0 = time.perf_counter()
    serial = run_sweep(cfg, workers=1, json_path=str(tmp_path / "one.json"))
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    with _client(2, None):
        pass
    startup = time.perf_counter() - t0  # start and stop of the cluster alone
    t0 = time.perf_counter()
    dask = run_sweep(cfg, workers=2, json_path=str(tmp_path / "two.json"))
    two = time.perf_counter() - t0
    assert serial.failed == dask.failed == 0
    assert _quality(serial.records) == _quality(dask.records)
    cell_s = sum(r["elapsed_s"] for r in dask.records)
    counted_in = (two - startup - cell_s / 2) / len(cfg.cells)  # the older figure
    serial_overhead = (one - sum(r["elapsed_s"] for r in serial.records)) / len(cfg.cells)
    # the per-cell overhead: the same cells on a cluster that is up and warm
    specs = list(dict.fromkeys((c.engine, c.strategy, tuple(sorted(c.params.items())))
                               for c in cfg.cells))
    with _client(2, None) as client:
        t0 = time.perf_counter()
        client.run(warm, [(e, n, dict(p)) for e, n, p in specs])
        warmup = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = run_sweep(cfg, scheduler=client.scheduler.address,
                          json_path=str(tmp_path / "warm.json"))
        on_warm = time.perf_counter() - t0
    assert again.failed == 0
    per_worker: dict[str, list[float]] = {}
    for r in again.records:
        per_worker.setdefault(r["worker"], []).append(r["elapsed_s"])
    busiest = max(per_worker.values(), key=sum)
    overhead = (on_warm - sum(busiest)) / len(busiest)
    tail = sum(busiest) - min(sum(v) for v in per_worker.values())
    print(f"\n40 cells: --workers 1 {one:.1f} s, 2 workers {two:.1f} s (cluster start+stop "
          f"{startup:.1f} s): {one / two:.2f}x; per-cell overhead {overhead * 1e3:.0f} ms on a "
          f"warm cluster ({len(busiest)} cells on the busiest worker; its warm-up took "
          f"{warmup:.1f} s, the tail {tail:.1f} s), {serial_overhead * 1e3:.1f} ms serial; "
          f"start, warm-up and tail counted in as before: {counted_in * 1e3:.0f} ms a cell; "
          f"load {os.getloadavg()[0]:.1f}")
    figure("sweep 40 cells: 2 workers vs --workers 1", one / two, "x", 1.7,
           higher_is_better=True)
    figure("sweep per-cell overhead on Dask", overhead * 1e3, "ms", 50)
