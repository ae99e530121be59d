"""Typed records and the report schema: /2 written, /1 migrated on read, labels stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import routebench
from routebench import RoutebenchError
from routebench.records import (
    INTERLEAVED_METRICS,
    METRICS,
    SCHEMA,
    TIMING_METRICS,
    Report,
    SimRecord,
    StaticResult,
    identity,
    make_report,
    metric,
    record_from_json,
)
from routebench.reports import compare, read_json, run_table, sim_table, write_json
from routebench.strategies import KeyedStrategy, Param
from routebench.strategies.modulo import ModuloStrategy

DATA = Path(__file__).parent / "data"


def test_committed_v1_run_report_loads_as_v2():
    data = read_json(DATA / "run-v1.json")
    assert data["schema"] == SCHEMA and data["migrated_from"] == "routebench/1"
    r = data["results"][0]
    assert r["record"] == "static" and r["trace"] == "uniform"
    # /1 kept every parameter: the label shows them all
    assert r["label"] == "ring:hash=xxh3,vnodes=10"
    typed = Report.records(data)
    assert all(isinstance(x, StaticResult) for x in typed)
    assert typed[0].workload == "uniform" and typed[0].nodes == r["nodes"]
    table = run_table(data["results"], "github")
    assert "ring:hash=xxh3,vnodes=10" in table
    # a migrated report compares with itself: every pair matches, nothing fails
    cmp = compare(data, read_json(DATA / "run-v1.json"), {})
    assert cmp.passed and not any(r.describe().startswith("only") for r in cmp.rows)


def test_committed_v1_simulate_report_loads_as_v2():
    data = read_json(DATA / "simulate-v1.json")
    r = data["results"][0]
    assert r["record"] == "sim" and r["scenario"] == "sticky-vs-p2c"
    assert isinstance(Report.records(data)[0], SimRecord)
    assert "cookie-sticky:base=round-robin,d=2" in sim_table(data["results"], "github")


def test_unknown_schema_and_record_kind_are_one_line_errors(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"schema": "routebench/9", "results": []}))
    with pytest.raises(RoutebenchError, match="routebench/9.*reads routebench/1, routebench/2"):
        read_json(p)
    with pytest.raises(RoutebenchError, match="unknown record kind 'nope'"):
        record_from_json({"record": "nope"})


class _Tunable(ModuloStrategy):
    name = "tunable-test"
    params = (*KeyedStrategy.params, Param("spread", 3, "a parameter", minimum=1))


def _run_report(tmp_path: Path) -> Path:
    from routebench.datasets import open_trace
    from routebench.harness.static import StrategySpec, run_static
    from routebench.registry import Registry

    reg = Registry(load_entry_points=False)
    reg.register(_Tunable)
    results = run_static([StrategySpec("tunable-test"), StrategySpec("tunable-test",
                                                                     {"spread": 5})],
                         [4], [open_trace("uniform", 2_000)], reg=reg)
    return write_json(tmp_path / "run.json", make_report("run", results, {}))


def test_stored_report_renders_the_same_when_defaults_change(tmp_path, monkeypatch):
    path = _run_report(tmp_path)
    data = read_json(path)
    assert [r["label"] for r in data["results"]] == ["tunable-test", "tunable-test:spread=5"]
    assert data["results"][0]["params"] == {"hash": "xxh3", "spread": 3}  # defaults filled in
    before = run_table(data["results"], "github")
    # the plugin changes its default, or is not installed at all: the stored file reads the same
    monkeypatch.setattr(_Tunable, "params",
                        (*KeyedStrategy.params, Param("spread", 5, "a parameter")))
    assert run_table(read_json(path)["results"], "github") == before
    assert "tunable-test" not in routebench.strategy_names()


def test_records_round_trip_through_json():
    r = StaticResult(strategy="ring", params={"vnodes": 10}, label="ring:vnodes=10", nodes=5,
                     metrics={"peak_to_mean": 1.2}, trace="uniform", counts=[1, 2])
    j = r.to_json()
    assert j["record"] == "static"
    assert record_from_json(json.loads(json.dumps(j))) == r
    assert identity(j) == r.identity() and r.workload == "uniform"


def test_metric_catalogue_drives_timing_gates():
    assert set(INTERLEAVED_METRICS) == {"batch_ns_per_key", "lookup_ns_p50", "build_ms"}
    assert set(INTERLEAVED_METRICS) <= TIMING_METRICS
    assert metric("peak_to_mean").better == "lower" and not metric("peak_to_mean").timing
    assert metric("a-plugin-metric").kind == "quality"
    assert all(m.better in ("lower", "higher", None) for m in METRICS.values())


def test_written_reports_are_schema_2(tmp_path):
    data = json.loads(_run_report(tmp_path).read_text())
    assert data["schema"] == "routebench/2"
    assert {r["record"] for r in data["results"]} == {"static"}
