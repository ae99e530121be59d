"""Issue 4 figures: access-log parse rate, a 10M-request replay, peak memory at 10M and 30M.

Opt-in and slow (minutes): ``tox -e bench`` or ``pytest benchmarks -k trace``.
The trace files are generated with ``routebench trace generate access-log``
into ``$ROUTEBENCH_BENCH_DIR`` (kept for the next run) or a temporary folder.
``ROUTEBENCH_TRACE_SIZES`` (default ``10M,30M``) sets the replayed sizes.
Each replay runs in its own process, so its peak RSS is its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from routebench.datasets import open_trace

SIX = ["modulo", "ring", "ketama", "rendezvous", "jump", "maglev"]
_MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(time.perf_counter() - t, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _count(text: str) -> int:
    t = text.lower()
    return int(float(t[:-1]) * {"k": 1e3, "m": 1e6}[t[-1]]) if t[-1] in "km" else int(t)


SIZES = [_count(s) for s in os.environ.get("ROUTEBENCH_TRACE_SIZES", "10M,30M").split(",")]


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory) -> Path:
    d = os.environ.get("ROUTEBENCH_BENCH_DIR")
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
        return Path(d)
    return tmp_path_factory.mktemp("traces")


def access_log(trace_dir: Path, n: int) -> Path:
    path = trace_dir / f"access-{n}.log"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "routebench.cli", "trace", "generate",
                        "access-log", "--requests", str(n), "-o", str(path), "-q"], check=True)
    return path


def measure(*argv: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of a command in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *argv], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def test_parse_rate(benchmark, figure, trace_dir):
    path = access_log(trace_dir, 2_000_000)
    for _ in open_trace(str(path), 1000).chunks():  # compile / load the scanners first
        pass

    cpu: list[float] = []

    def read() -> int:
        c0 = time.process_time()
        n = sum(len(c) for c in open_trace(str(path)).chunks())
        cpu.append(time.process_time() - c0)
        return n

    benchmark.group = "trace: parse an access log (2M lines, route on client)"
    n = benchmark.pedantic(read, rounds=3, iterations=1)
    assert n == 2_000_000
    best = benchmark.stats.stats.min
    figure("access-log parse rate (2M lines, wall)", n / best / 1e6, "M lines/s", 1.0,
           higher_is_better=True)
    # CPU seconds of all threads: what the rate would be on one otherwise idle core
    figure("access-log parse, CPU per line (all threads)", min(cpu) / n * 1e9, "ns")


@pytest.mark.parametrize("n", SIZES)
def test_replay_six_strategies(benchmark, figure, trace_dir, n):
    path = access_log(trace_dir, n)
    argv = [sys.executable, "-m", "routebench.cli", "run", "--trace", str(path), "--no-json",
            "-q"]
    for s in SIX:
        argv += ["--strategy", s]
    benchmark.group = "trace: replay an access log through six keyed strategies"
    wall, rss = benchmark.pedantic(measure, args=tuple(argv), rounds=1, iterations=1)
    label = f"{n / 1e6:g}M"
    figure(f"replay {label} requests, 6 strategies x N=10,100", wall, "s",
           60 if n <= 10_000_000 else None)
    figure(f"peak RSS, {label} replay", rss, "MiB", 1024)
