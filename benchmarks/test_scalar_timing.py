"""Issue 10 figure: two processes time the same scalar lookups alike (within 10%).

    pytest benchmarks/test_scalar_timing.py -s        (or: tox -e bench)
    python benchmarks/test_scalar_timing.py --worker  (one process's figures, JSON)

Each worker process builds the same strategies over the same 10,000 keys (the
runner's sample: the first chunk of the uniform trace, seed 0) and times
``lookup(key)`` two ways: ``timing.scalar_latency_ns`` (what ``routebench run``
reports: calibrated loops, the clock outside them, median of round medians)
and, for comparison, the per-call median the runner used before issue 10
(``perf_counter_ns`` around each call, the clock's own cost subtracted). Two
workers run one after the other; the table shows each figure from both and
their ratio (larger over smaller), and the summary records the worst ratio
of each method against the bar of 1.10. Modulo at N = 10 ... 1000 is the row
set where the published plot zig-zagged: its lookup does not depend on N.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

#: (strategy, N): every keyed built-in at N=100, and modulo across N
CASES = [(name, 100) for name in ("modulo", "ring", "ketama", "rendezvous", "jump", "maglev",
                                  "multiprobe")] + [("modulo", n) for n in (10, 30, 300, 1000)]
BAR = 1.10


def _per_call_median_ns(fn, keys) -> float:
    """The pre-issue-10 method: each call timed alone, the clock's median cost subtracted."""
    import gc

    import numpy as np

    pc = time.perf_counter_ns
    gc.disable()
    try:
        over = []
        for _ in range(20_000):
            t0 = pc()
            over.append(pc() - t0)
        for k in keys[:200]:
            fn(k)
        out = []
        for k in keys:
            t0 = pc()
            fn(k)
            out.append(pc() - t0)
    finally:
        gc.enable()
    return max(float(np.median(out)) - float(np.median(over)), 0.0)


def measure() -> dict[str, dict[str, float]]:
    """One process's figures: {"name:N": {"loops": ns, "per_call": ns}}."""
    import routebench
    from routebench.datasets import open_trace
    from routebench.harness import timing

    trace = open_trace("uniform", 10_000, seed=0)
    chunk = next(iter(trace.chunks()))
    keys = chunk.columns[trace.route_on].keys(10_000)
    out = {}
    for name, n in CASES:
        s = routebench.create(name, n)
        s.lookup_many(s.digest(keys[:100]))  # numba compiled (or loaded) before timing
        out[f"{name}:{n}"] = {"loops": timing.scalar_latency_ns(s.lookup, keys),
                              "per_call": _per_call_median_ns(s.lookup, keys)}
    return out


def _worker() -> dict[str, dict[str, float]]:
    r = subprocess.run([sys.executable, __file__, "--worker"], capture_output=True, text=True,
                       check=True, timeout=600)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_scalar_timing_agrees_between_processes(benchmark, figure):
    runs: list[dict[str, dict[str, float]]] = []
    benchmark.group = "scalar timing, two processes"
    benchmark.pedantic(lambda: runs.extend([_worker(), _worker()]), rounds=1, iterations=1)
    a, b = runs
    from tabulate import tabulate

    rows, worst = [], {"loops": 1.0, "per_call": 1.0}
    for case in a:
        row = [case]
        for method in ("loops", "per_call"):
            x, y = a[case][method], b[case][method]
            ratio = max(x, y) / min(x, y) if min(x, y) > 0 else float("inf")
            worst[method] = max(worst[method], ratio)
            row += [f"{x:,.0f}", f"{y:,.0f}", f"{ratio:.3f}"]
        rows.append(row)
    print()
    print(tabulate(rows, headers=["strategy:N", "loops ns (1)", "loops ns (2)", "ratio",
                                  "per-call ns (1)", "per-call ns (2)", "ratio"],
                   disable_numparse=True))
    figure("scalar lookup, worst ratio of two processes (calibrated loops)",
           worst["loops"], "x", BAR)
    figure("scalar lookup, worst ratio of two processes (per call, the old method)",
           worst["per_call"], "x")


if __name__ == "__main__" and "--worker" in sys.argv:
    print(json.dumps(measure()))
