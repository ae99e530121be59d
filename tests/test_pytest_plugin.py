"""The pytest11 plugin: a strategy author's test suite using the `rb` fixture."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

AUTHOR_TESTS = '''
import math

import numpy as np
import routebench
from routebench import KeyedStrategy


class HalfJump(KeyedStrategy):
    """A plugin author's strategy, not registered: jump consistent hash."""

    name = "halfjump"
    weighted = False
    removable = "last"

    def _rebuild(self):
        self._inner = routebench.create("jump", len(self._names), **self.config)

    def _lookup_one(self, digest):
        return int(self._inner.lookup_many(np.array([digest], dtype=np.uint64))[0])

    def _lookup_many(self, digests):
        return self._inner.lookup_many(digests)


def test_balance_and_remap(rb):
    s = rb.create(HalfJump, 50)
    assert s.config["hash"] == (rb.hash or "xxh3")
    rb.assert_balanced(s, max_peak_to_mean=1.15)
    rb.assert_minimal_disruption(s, slack=0.2)
    assert rb.remap_on_leave(s).between_survivors == 0.0


def _timed(benchmark, ns, items):
    # --benchmark-disable runs the function once, untimed: the helpers return nan then;
    # timed, the figure is pytest-benchmark's median round over the items
    if benchmark.disabled:
        assert math.isnan(ns)
    else:
        assert 0 < ns < 1e6
        assert ns == benchmark.stats.stats.median / items * 1e9


def test_benchmark_lookup_many(rb, benchmark):
    s = rb.create("ring", 100)
    ns = rb.bench_lookup_many(benchmark, s, n=20_000)
    assert benchmark.extra_info["keys"] == 20_000
    assert benchmark.extra_info["ns_per_key"] is ns
    _timed(benchmark, ns, 20_000)


def test_benchmark_lookup(rb, benchmark):
    s = rb.create("ketama", 50)
    ns = rb.bench_lookup(benchmark, s, n=500)
    assert benchmark.extra_info["calls"] == 500
    assert benchmark.extra_info["ns_per_call"] is ns
    _timed(benchmark, ns, 500)


def test_conformance(rb):
    report = rb.check_conformance(HalfJump, max_examples=3, keys=3000)
    assert report["leave"].status == "passed"


def test_hash_fixture(routebench_hash):
    assert routebench_hash == "mmh3"
'''


@pytest.fixture
def author_dir(tmp_path):
    (tmp_path / "test_mine.py").write_text(textwrap.dedent(AUTHOR_TESTS))
    return tmp_path


def _pytest(cwd, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_author_suite_runs_with_the_plugin(author_dir):
    r = _pytest(author_dir, "-q", "--routebench-hash", "mmh3", "--benchmark-disable")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 passed" in r.stdout


def test_author_benchmarks_return_the_figures_pytest_benchmark_records(author_dir):
    # benchmarks on (a few short rounds): each helper's figure is the recorded median over
    # its items, read back from pytest-benchmark's own JSON
    out = author_dir / "bench.json"
    r = _pytest(author_dir, "-q", "--routebench-hash", "mmh3", "-k", "benchmark",
                "--benchmark-min-rounds=3", "--benchmark-max-time=0.05",
                f"--benchmark-json={out}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout
    benches = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert set(benches) == {"test_benchmark_lookup_many", "test_benchmark_lookup"}
    for name, items, key in (("test_benchmark_lookup_many", 20_000, "ns_per_key"),
                             ("test_benchmark_lookup", 500, "ns_per_call")):
        b = benches[name]
        ns = b["extra_info"][key]
        assert b["stats"]["rounds"] >= 3
        assert ns == pytest.approx(b["stats"]["median"] / items * 1e9, rel=1e-9)
        assert 1 < ns < 1e6  # ns per key or call: a real figure, not nan
    assert "ketama" in benches["test_benchmark_lookup"]["extra_info"]["strategy"]


def test_header_and_bad_hash(author_dir):
    r = _pytest(author_dir, "--routebench-hash", "mmh3", "--collect-only")
    assert "routebench: hash=mmh3" in r.stdout
    r = _pytest(author_dir, "--routebench-hash", "sha1", "--collect-only")
    assert r.returncode != 0 and "--routebench-hash 'sha1'" in r.stderr
