"""Issue 13: ``ring`` at N = 100,000 (160 vnodes, 16M points), end to end.

    pytest benchmarks/test_bench_ring_scale.py -s

One ``routebench run --strategy ring --nodes 100000`` in a subprocess (uniform trace,
200,000 requests): its build time (the run's own build_ms: best of its timed builds)
and the whole process's peak RSS (ru_maxrss of the child), against the bars of issue 13
(build <= 15 s, peak <= 2 GiB). The load average is printed with the figures: the
machine is shared, and a busy one stretches the build, not the memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

NODES = 100_000


def test_ring_at_100k_nodes_end_to_end(figure, tmp_path):
    out = tmp_path / "ring.json"
    code = ("import sys; from routebench.cli import main; sys.exit(main(sys.argv[1:]))")
    load = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "--strategy", "ring", "--nodes", str(NODES),
         "--trace", "uniform", "--keys", "200k", "--over-budget", "run", "--json", str(out),
         "-q"], capture_output=True, text=True, env={**os.environ})
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    (r,) = json.loads(out.read_text())["results"]
    assert r["nodes"] == NODES and r["metrics"]["requests"] == 200_000
    print(f"\nload average before the run {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    figure("ring N=100,000 (16M points): build", r["metrics"]["build_ms"] / 1e3, "s", 15)
    figure("ring N=100,000: routebench run, peak RSS", peak / 2**30, "GiB", 2)
    figure("  ring N=100,000: routebench run, wall time", wall, "s")
    figure("  ring N=100,000: structure memory (tracemalloc)",
           r["metrics"]["memory_bytes"] / 2**20, "MiB")
