"""Interleaved A/B timing: an A/A run passes its gates, an injected 25% slowdown fails them.

Small and in-process here (LocalArm: same interpreter, two factories); the
study over 20 + 20 runs with two worker interpreters is
benchmarks/gate_power.py.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from _reportdata import small_run

import routebench
from routebench import RoutebenchError
from routebench.cli import main
from routebench.harness.ab import LocalArm, PythonArm, interleaved_timing
from routebench.reports import compare, parse_gate, read_json, write_json

GATES = [parse_gate("batch_ns_per_key: +10%")]


class _Slowed:
    """A strategy whose batch lookup does ``factor`` times the work of the real one."""

    def __init__(self, inner, factor: float) -> None:
        self.inner, self.extra = inner, factor - 1.0
        self.config, self.nodes = inner.config, inner.nodes
        self.digest, self.lookup = inner.digest, inner.lookup

    def lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = self.inner.lookup_many(digests)
        self.inner.lookup_many(digests[: int(digests.size * self.extra)])
        return out


def _slow(factor: float):
    return lambda name, nodes, **p: _Slowed(routebench.create(name, nodes, **p), factor)


def _ab(new_arm, **kw):
    return interleaved_timing(["ring", "jump"], [50], LocalArm(label="base"), new_arm,
                              rounds=12, processes=3, keys=10_000, scalar_keys=200,
                              metrics=("batch_ns_per_key",), **kw)


def test_a_a_passes_and_reports_an_interval_around_one():
    ab = _ab(LocalArm(label="new"))
    cmp = compare(ab.base, ab.new, GATES, show_all=True)
    assert cmp.passed, cmp.summary()
    for row in cmp.rows:
        assert row.ratio is not None and row.ratio.low <= row.ratio.estimate <= row.ratio.high
        assert 0.85 < row.ratio.estimate < 1.15


def test_a_25_percent_slowdown_is_caught_in_that_strategy():
    ab = _ab(LocalArm(_slow(1.25), label="slow"))
    cmp = compare(ab.base, ab.new, GATES, show_all=True)
    failed = {(r.group[0], r.metric) for r in cmp.failures}
    assert ("ring", "batch_ns_per_key") in failed, cmp.table()
    ring = next(r for r in cmp.rows if r.group[0] == "ring")
    assert ring.ratio.low > 1.10 and 1.1 < ring.ratio.estimate < 1.5


def test_records_carry_rounds_blocks_and_one_session():
    ab = _ab(LocalArm(label="new"))
    (b, *_), (n, *_) = ab.base["results"], ab.new["results"]
    assert b["timing"]["session"] == n["timing"]["session"] == ab.session
    assert len(b["timing"]["rounds"]["batch_ns_per_key"]) == 12
    assert b["timing"]["blocks"] == [0, 1, 2] * 4
    assert b["params"] == {"hash": "xxh3", "vnodes": 160} and b["nodes"] == 50
    assert ab.base["kind"] == "ab" and ab.base["environment"]["arm"] == "base"


def test_bad_setups_are_clear_errors(tmp_path):
    with pytest.raises(RoutebenchError, match="unknown strategy 'rign'"):
        interleaved_timing(["rign"], [5], LocalArm(), LocalArm(), rounds=3, processes=1)
    with pytest.raises(RoutebenchError, match="'p2c' is a balancer: A/B timing times keyed"):
        interleaved_timing(["p2c"], [5], LocalArm(), LocalArm(), rounds=3, processes=1)
    with pytest.raises(RoutebenchError, match="rounds 2"):
        interleaved_timing(["ring"], [5], LocalArm(), LocalArm(), rounds=2)
    with pytest.raises(RoutebenchError, match="not an executable"):
        interleaved_timing(["ring"], [5], PythonArm(str(tmp_path / "nope")), LocalArm(),
                           rounds=3, processes=1)


def test_cli_ab_with_two_interpreters_writes_comparable_reports(tmp_path, capsys):
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    rc = main(["ab", "--base-python", sys.executable, "--strategy", "jump", "--nodes", "20",
               "--rounds", "4", "--processes", "2", "--keys", "5000", "--reps", "2", "-q",
               "--no-config", "--gate", "batch_ns_per_key: +200%",
               "--json", str(new), "--json-base", str(base)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "batch_ns_per_key" in out and "[" in out  # the interval is printed
    b = read_json(base)
    assert b["environment"]["executable"] == sys.executable
    # the written files gate the same way later
    assert main(["compare", str(base), str(new), "--no-config", "--gate",
                 "batch_ns_per_key: +200%"]) == 0
    assert json.loads(new.read_text())["results"][0]["timing"]["arm"] == "new"


def test_run_baseline_in_one_step(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pyproject.toml here: only the command line's gates
    base = write_json(tmp_path / "base.json", small_run(("ring:vnodes=160",), nodes=(20,)))
    args = ["run", "--strategy", "ring:vnodes=160", "--nodes", "20", "--trace", "uniform",
            "--keys", "4000", "-q", "--json", str(tmp_path / "new.json"),
            "--baseline", str(base), "--gate", "peak_to_mean: +0%"]
    assert main(args) == 0
    assert "1 results compared" in capsys.readouterr().out
    args[2] = "ring:vnodes=20"  # a worse-balanced ring against the same baseline
    assert main(args) == 1
    assert "FAIL" in capsys.readouterr().out


def test_a_misspelt_gate_fails_before_any_timing_or_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["ab", "--base-python", sys.executable, "--strategy", "jump", "--nodes", "20",
                 "--gate", "lookup_ns_p99: +10%"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no timing session ran
    assert "not a metric that routebench ab times" in err and "batch_ns_per_key" in err
    base = write_json(tmp_path / "base.json", small_run(("jump",), nodes=(20,)))
    assert main(["run", "--strategy", "jump", "--nodes", "20", "--baseline", str(base),
                 "--gate", "peak_to_maen: +2%", "-q", "--no-json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no run: its table would be on stdout
    assert "--gate 'peak_to_maen': not a metric of the baseline" in err
    assert "peak_to_mean" in err and err.count("\n") == 1
