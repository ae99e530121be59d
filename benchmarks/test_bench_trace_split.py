"""Issue 15 figure: a 10M-line access log split over 2 Dask workers against one process.

The same `routebench run --trace access-10000000.log` (six keyed strategies at N=10,100,
the trace-replay figure's command) runs as one process, and with ``--workers 2`` (byte
ranges on an embedded LocalCluster of 2 single-threaded worker processes), side by side,
each in a fresh process, wall time from start to exit (the cluster's start and stop, and
the timing measured once after the merge, included). Figures: the speed-up (bar: >= 1.6x
on a 2-core machine) and that every count and quality metric is identical; the CPU
seconds of both (the process and its workers) are printed too: on a machine others load,
they say what the split costs when wall time cannot.

The log is generated with ``routebench trace generate access-log`` into
``$ROUTEBENCH_BENCH_DIR`` (kept for the next run) or a temporary folder;
``ROUTEBENCH_SPLIT_SIZES`` (default ``10M``) sets the sizes, e.g. ``2M,10M``.

    pytest benchmarks/test_bench_trace_split.py -s      (or: tox -e bench)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_trace_figures import SIX, _count, access_log, trace_dir  # noqa: F401 - a fixture

from routebench.records import TIMING_METRICS

pytest.importorskip("distributed")

SIZES = [_count(s) for s in os.environ.get("ROUTEBENCH_SPLIT_SIZES", "10M").split(",")]
#: measured, not counted: timing, build cost, memory
MEASURED = set(TIMING_METRICS) | {"memory_bytes", "build_ms"}


def _run(path: Path, out: Path, *extra: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its workers) of one run."""
    argv = [sys.executable, "-m", "routebench.cli", "run", "--trace", str(path),
            "--json", str(out), "-q", *extra]
    for s in SIX:
        argv += ["--strategy", s]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def _quality(path: Path) -> list[tuple]:
    rep = json.loads(path.read_text())
    return [(r["label"], r["nodes"], r["counts"],
             {k: v for k, v in r["metrics"].items() if k not in MEASURED})
            for r in rep["results"]]


@pytest.mark.parametrize("n", SIZES)
def test_split_two_workers_vs_one_process(figure, trace_dir, tmp_path, n) -> None:  # noqa: F811
    path = access_log(trace_dir, n)
    one_json, two_json = tmp_path / "one.json", tmp_path / "two.json"
    load = os.getloadavg()[0]
    one, one_cpu = _run(path, one_json)
    two, two_cpu = _run(path, two_json, "--workers", "2")
    assert _quality(one_json) == _quality(two_json)  # identical counts and quality metrics
    split = json.loads(two_json.read_text())["config"]["split"]
    label = f"{n / 1e6:g}M"
    print(f"\n{label} lines, {path.stat().st_size / 2**20:,.0f} MiB: one process {one:.1f} s, "
          f"--workers 2 {two:.1f} s: {one / two:.2f}x; CPU {one_cpu:.1f} s and {two_cpu:.1f} s "
          f"(split {split}; load before {load:.2f}, after {os.getloadavg()[0]:.2f})")
    figure(f"run --trace {label}-line log: 2 workers vs one process", one / two, "x",
           1.6 if n >= 10_000_000 else None, higher_is_better=True)
