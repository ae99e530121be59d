"""Issue 15 figures: a CPU-bound sweep of 40 cells on 2 Dask workers against --workers 1.

The same grid (5 strategies x 4 node counts x 2 seeds of a 300k-request zipf trace: 40
`routebench run` cells, ~2 s each) runs serially in this process and on an embedded
LocalCluster of 2 single-threaded worker processes, side by side. Figures: the speed-up
(bar: >= 1.7x on a 2-core machine), the per-cell overhead of the Dask path (wall time
less the cluster's start, warm-up and stop, less the cells' own time over the workers,
per cell; bar: <= 50 ms), and that the quality metrics agree.

    pytest benchmarks/test_bench_sweep.py -s      (or: tox -e bench)
"""

from __future__ import annotations

import time

import pytest

from routebench.harness.sweep import parse_config, run_sweep
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
    t0 = time.perf_counter()
    with _client(2, None):
        pass
    startup = time.perf_counter() - t0  # start and stop of the cluster alone
    t0 = time.perf_counter()
    serial = run_sweep(cfg, workers=1, json_path=str(tmp_path / "one.json"))
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    dask = run_sweep(cfg, workers=2, json_path=str(tmp_path / "two.json"))
    two = time.perf_counter() - t0
    assert serial.failed == dask.failed == 0
    assert _quality(serial.records) == _quality(dask.records)
    cell_s = sum(r["elapsed_s"] for r in dask.records)
    overhead = (two - startup - cell_s / 2) / len(cfg.cells)
    serial_overhead = (one - sum(r["elapsed_s"] for r in serial.records)) / len(cfg.cells)
    print(f"\n40 cells: --workers 1 {one:.1f} s, 2 workers {two:.1f} s "
          f"(cluster start+stop {startup:.1f} s): {one / two:.2f}x; per-cell overhead "
          f"{overhead * 1e3:.0f} ms on Dask, {serial_overhead * 1e3:.1f} ms serial")
    figure("sweep 40 cells: 2 workers vs --workers 1", one / two, "x", 1.7,
           higher_is_better=True)
    figure("sweep per-cell overhead on Dask", overhead * 1e3, "ms", 50)
