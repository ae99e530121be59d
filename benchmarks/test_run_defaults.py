"""Issue 2 figure: `routebench run` with its defaults finishes in under 60 s."""

from __future__ import annotations

import time

from routebench.cli import main


def test_routebench_run_defaults(benchmark, figure, tmp_path):
    out = tmp_path / "run.json"
    t = {}

    def run():
        t0 = time.perf_counter()
        assert main(["run", "--json", str(out), "--quiet"]) == 0
        t["s"] = time.perf_counter() - t0

    benchmark.group = "routebench run (defaults)"
    benchmark.pedantic(run, rounds=1, iterations=1)
    figure("routebench run, defaults (42 results)", t["s"], "s", 60)
