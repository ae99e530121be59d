"""`routebench compare` on two 1,000-result reports: the issue's figure is < 1 s.

Also the plugin's helpers at work: each built-in's batch lookup timed through
the `rb` fixture (ns/key lands in the benchmark JSON's extra_info).
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time

import pytest

import routebench
from routebench.datasets import open_trace
from routebench.harness.static import StrategySpec, run_static
from routebench.records import make_report
from routebench.reports import compare, parse_gate, read_json, write_json


@pytest.fixture(scope="module")
def thousand(tmp_path_factory):
    """Two 1,000-result run reports (a real run's records, one node count each)."""
    specs = [StrategySpec(n) for n in routebench.strategy_names("keyed")]
    results = run_static(specs, [10, 100], [open_trace("uniform", 20_000)], seed=0)
    report = make_report("run", results, {})
    base, new = copy.deepcopy(report), copy.deepcopy(report)
    for rep, bump in ((base, 1.0), (new, 1.01)):
        rep["results"] = []
        for i in range(1000):
            r = copy.deepcopy(report["results"][i % len(results)])
            r["nodes"] = 1000 + i
            r["metrics"]["peak_to_mean"] *= bump if i % 3 == 0 else 1.0
            rep["results"].append(r)
    d = tmp_path_factory.mktemp("cmp")
    return write_json(d / "base.json", base), write_json(d / "new.json", new)


def test_compare_1000_results_in_process(benchmark, thousand, figure):
    gates = [parse_gate("peak_to_mean: +2%"), parse_gate("remap_leave: +0.005")]

    def run():
        cmp = compare(read_json(thousand[0]), read_json(thousand[1]), gates)
        return cmp.table("github")

    table = benchmark(run)
    assert "peak_to_mean" in table
    figure("compare two 1,000-result reports (read, gate, table; in process)",
           benchmark.stats.stats.median * 1e3, "ms", bar=1000)


def test_compare_1000_results_command_line(benchmark, thousand, figure):
    """Wall time of the whole command, interpreter start-up included."""
    cmd = [sys.executable, "-m", "routebench.cli", "compare", str(thousand[0]),
           str(thousand[1]), "--no-config", "--gate", "peak_to_mean: +2%"]

    def run():
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - t0

    benchmark.pedantic(run, rounds=5, iterations=1)
    benchmark.extra_info["note"] = "python -m routebench.cli compare, start-up included"
    figure("routebench compare, two 1,000-result files (whole command)",
           benchmark.stats.stats.median * 1e3, "ms", bar=1000)


@pytest.mark.parametrize("name", routebench.strategy_names("keyed"))
def test_lookup_many_via_plugin(rb, benchmark, name):
    s = rb.create(name, 100)
    ns = rb.bench_lookup_many(benchmark, s, n=200_000)
    assert ns > 0
