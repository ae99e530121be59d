"""routebench compare: gates, matching, exact quality gating, timing intervals, bad input."""

from __future__ import annotations

import copy
import json

import pytest
from _reportdata import scaled, small_run

from routebench import RoutebenchError
from routebench.cli import main
from routebench.reports import compare, parse_gate, write_json
from routebench.reports.compare import TIMING_METRICS, load_gates, merge_gates


# -- gate syntax -------------------------------------------------------------
@pytest.mark.parametrize("text, sign, amount, relative", [
    ("peak_to_mean: +2%", 1, 0.02, True),
    ("peak_to_mean=+2%", 1, 0.02, True),
    ("remap_leave: +0.005", 1, 0.005, False),
    ("chi2_p: -50%", -1, 0.5, True),
    ("monotonicity_violations: +0", 1, 0.0, False),
    ("batch_ns_per_key:+1e1%", 1, 0.1, True),
])
def test_gate_syntax(text, sign, amount, relative):
    g = parse_gate(text)
    assert (g.sign, g.relative) == (sign, relative)
    assert g.amount == pytest.approx(amount)


@pytest.mark.parametrize("text, expect", [
    ("peak_to_mean: +2", "cannot be meant; write +2% for a relative threshold"),
    ("peak_to_mean: 2%", "needs a sign"),
    ("peak_to_mean +2%", "expected METRIC: +N%"),
    ("peak_to_mean: +two%", "is not a threshold"),
    ("remap_leave: +1.5", "cannot be meant"),
])
def test_bad_gate_is_one_clear_error(text, expect):
    with pytest.raises(RoutebenchError, match=expect.replace("+", r"\+")):
        parse_gate(text)


def test_gate_decisions_are_exact():
    g = parse_gate("peak_to_mean: +2%")
    assert not g.fails(1.10, 1.10 * 1.02)     # exactly at the threshold passes
    assert g.fails(1.10, 1.10 * 1.0201)
    assert not g.fails(1.10, 0.5)             # an improvement never fails
    down = parse_gate("chi2_p: -0.1")
    assert down.fails(0.5, 0.39) and not down.fails(0.5, 0.41)


def test_pyproject_gates_and_command_line_override(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.routebench.gate]\npeak_to_mean = "+2%"\nremap_leave = "+0.005"\n')
    gates = load_gates(p)
    assert {g.metric: str(g) for g in gates} == {"peak_to_mean": "+2%", "remap_leave": "+0.005"}
    merged = merge_gates(gates, [parse_gate("peak_to_mean: +5%")])
    assert str(merged["peak_to_mean"]) == "+5%" and "remap_leave" in merged
    p.write_text('[tool.routebench.gate]\npeak_to_mean = "2%"\n')
    with pytest.raises(RoutebenchError, match=r"pyproject.toml \[tool.routebench.gate\]"):
        load_gates(p)
    p.write_text("[tool.routebench.gate\n")
    with pytest.raises(RoutebenchError, match="not valid TOML"):
        load_gates(p)
    # a bare number has no direction: say how to write it
    p.write_text("[tool.routebench.gate]\nremap_leave = 0.005\n")
    with pytest.raises(RoutebenchError, match='"\\+0.005" \\(fail on an increase\\)'):
        load_gates(p)
    for text in ("tool = 3\n", "[tool]\nroutebench = 5\n", "[tool.routebench]\ngate = [1]\n"):
        p.write_text(text)
        with pytest.raises(RoutebenchError, match="tool.routebench.gate must be a table"):
            load_gates(p)


# -- comparing real reports --------------------------------------------------
def test_two_runs_of_one_seed_differ_only_in_timing():
    a, b = small_run(), small_run(tag=1)  # two real runs, same seed
    cmp = compare(a, b, [parse_gate("peak_to_mean: +0%"), parse_gate("remap_leave: +0")])
    assert cmp.passed
    assert cmp.compared == len(a["results"])
    # quality is deterministic; tracemalloc's memory figure may wobble by a few bytes
    assert {r.metric for r in cmp.rows} <= TIMING_METRICS | {"memory_bytes"}
    assert any(r.metric in TIMING_METRICS for r in cmp.rows)
    assert cmp.checked == 2 * len(a["results"])  # both gates on every result


def test_a_balance_regression_fails_its_gate_and_names_it():
    base = small_run(("ring:vnodes=160",), nodes=(20,))
    new = small_run(("ring:vnodes=20",), nodes=(20,))  # fewer points: worse balance
    cmp = compare(base, new, [parse_gate("peak_to_mean: +2%")])
    assert cmp.compared == 1                  # params differ: matched by strategy/trace/N
    (fail,) = cmp.failures
    assert fail.metric == "peak_to_mean" and fail.new > fail.old * 1.02
    assert "peak_to_mean" in cmp.summary() and "FAIL" in cmp.summary()
    table = cmp.table("github")
    assert "| ring" in table and "FAIL" in table


def _only(report, *names):
    report["results"] = [r for r in report["results"] if r["strategy"] in names]
    return report


def test_only_in_one_report_and_grouping():
    base = _only(small_run(), "ring", "jump")
    new = _only(small_run(), "ring", "maglev")
    cmp = compare(base, new)
    statuses = {(r.group[0], r.status) for r in cmp.rows if r.metric == "-"}
    assert ("jump", "only in base") in statuses and ("maglev", "only in new") in statuses
    assert (cmp.only_base, cmp.only_new) == (2, 2)


def test_unknown_gate_metric_names_the_metrics_there_are(tmp_path):
    a = small_run()
    with pytest.raises(RoutebenchError, match="'peak_to_men' is in neither report; metrics"):
        compare(a, a, [parse_gate("peak_to_men: +2%")])
    # a project's configured gates apply to the metrics a report has, and say which not
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.routebench.gate]\npeak_to_mean = "+2%"\nlatency_p99 = "+5%"\n')
    cmp = compare(a, a, load_gates(p))
    assert cmp.passed and "latency_p99" in cmp.summary()


def _with_rounds(report, session, values):
    out = copy.deepcopy(report)
    for r in out["results"]:
        r["timing"] = {"session": session, "rounds": {"batch_ns_per_key": list(values)},
                       "blocks": [i * 4 // len(values) for i in range(len(values))]}
    return out


def test_timing_is_gated_only_on_interleaved_rounds():
    base = _only(small_run(), "jump")
    base["results"] = base["results"][:1]
    new = copy.deepcopy(base)
    new["results"][0]["metrics"]["batch_ns_per_key"] *= 3  # separately taken: not gated
    gate = [parse_gate("batch_ns_per_key: +10%")]
    cmp = compare(base, new, gate)
    assert cmp.passed and cmp.not_gated == 1 and "not gated" in cmp.summary()

    flat = [50.0, 51, 49, 50.5, 49.5, 50, 52, 48, 50, 51, 49, 50, 50.2, 49.8, 50.1, 49.9]
    slow = [v * 1.25 for v in flat]
    same = compare(_with_rounds(base, "s1", flat), _with_rounds(base, "s1", flat), gate)
    assert same.passed
    worse = compare(_with_rounds(base, "s1", flat), _with_rounds(base, "s1", slow), gate)
    (row,) = worse.failures
    assert row.ratio.low > 1.10 and row.ratio.estimate == pytest.approx(1.25)
    assert "CI" in worse.summary()
    # rounds from two different sessions are not paired: shown, not gated
    apart = compare(_with_rounds(base, "s1", flat), _with_rounds(base, "s2", slow), gate)
    assert apart.passed and apart.not_gated == 1


# -- the command line --------------------------------------------------------
def _write(tmp_path, name, report):
    return str(write_json(tmp_path / name, report))


def test_cli_exit_codes(tmp_path, capsys):
    base = _write(tmp_path, "base.json", small_run(("ring:vnodes=160",), nodes=(20,)))
    new = _write(tmp_path, "new.json", small_run(("ring:vnodes=20",), nodes=(20,)))
    assert main(["compare", base, base, "--no-config"]) == 0
    assert main(["compare", base, new, "--no-config", "--gate", "peak_to_mean: +2%"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "peak_to_mean" in out
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.routebench.gate]\npeak_to_mean = "+2%"\n')
    assert main(["compare", base, new, "--config", str(cfg)]) == 1
    assert main(["compare", base, new, "--config", str(cfg), "--gate",
                 "peak_to_mean: +500%"]) == 0


@pytest.mark.parametrize("setup, expect", [
    ("missing", "cannot read"),
    ("notjson", "is not JSON"),
    ("other", "is not a routebench report"),
    ("schema", "has schema 'routebench/9'"),
])
def test_cli_bad_files_are_one_line(tmp_path, capsys, setup, expect):
    good = _write(tmp_path, "good.json", _only(small_run(), "jump"))
    bad = tmp_path / "bad.json"
    if setup == "notjson":
        bad.write_text("{not json")
    elif setup == "other":
        bad.write_text(json.dumps({"results": []}))
    elif setup == "schema":
        bad.write_text(json.dumps({"schema": "routebench/9", "results": []}))
    assert main(["compare", good, str(bad), "--no-config"]) == 2
    err = capsys.readouterr().err
    assert expect in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_bad_gate_is_one_line(tmp_path, capsys):
    good = _write(tmp_path, "good.json", _only(small_run(), "jump"))
    assert main(["compare", good, good, "--gate", "peak_to_mean: +2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean" not in err and "+2%" in err


def test_compare_two_1000_result_files(tmp_path, capsys):
    report = small_run()
    base = _write(tmp_path, "base.json", scaled(report, 1000))
    other = scaled(report, 1000)
    for r in other["results"][::3]:  # a third of the results changed
        r["metrics"]["peak_to_mean"] *= 1.01
    new = _write(tmp_path, "new.json", other)
    # the < 1 s figure is benchmarks/test_bench_compare.py's; here, that it works at scale
    rc = main(["compare", base, new, "--no-config", "--gate", "peak_to_mean: +2%"])
    assert rc == 0
    assert "1000 results compared" in capsys.readouterr().out


# -- nothing passes unchecked -----------------------------------------------------
@pytest.mark.parametrize("value", [None, float("nan"), "absent"])
def test_a_gated_metric_that_goes_missing_fails(value):
    base, new = small_run(), small_run()
    m = new["results"][0]["metrics"]
    if value == "absent":
        del m["peak_to_mean"]
    else:
        m["peak_to_mean"] = value
    cmp = compare(base, new, [parse_gate("peak_to_mean: +2%")])
    assert not cmp.passed
    assert [r.metric for r in cmp.failures] == ["peak_to_mean"]


def test_metric_narrows_the_table_not_the_gates():
    base = _only(small_run(("ring:vnodes=160",), nodes=(20,)), "ring")
    new = _only(small_run(("ring:vnodes=20",), nodes=(20,)), "ring")
    cmp = compare(base, new, [parse_gate("peak_to_mean: +2%")], metrics=["remap_leave"])
    assert not cmp.passed and cmp.checked == 1
    assert {r.metric for r in cmp.rows} == {"remap_leave", "peak_to_mean"}


def test_a_changed_parameter_shows_both_values():
    base = _only(small_run(("ring:vnodes=160",), nodes=(20,)), "ring")
    new = _only(small_run(("ring:vnodes=20",), nodes=(20,)), "ring")
    cmp = compare(base, new, [parse_gate("peak_to_mean: +2%")])
    assert cmp.failures[0].group[0] == "ring:vnodes=160->20"


def test_different_seeds_are_noted():
    base, new = small_run(), small_run(seed=7)
    cmp = compare(base, new)
    assert any("seed 0 -> 7" in n for n in cmp.notes)
    assert not any("different settings" in n for n in compare(base, small_run()).notes)


def test_different_kinds_and_nothing_to_gate_are_errors():
    run = small_run()
    sim = {**small_run(), "kind": "simulate"}
    with pytest.raises(RoutebenchError, match="cannot compare a 'run' report with a 'simulate'"):
        compare(run, sim)
    empty = {**small_run(), "results": []}
    with pytest.raises(RoutebenchError, match="nothing to gate: the reports share no result"):
        compare(run, empty, [parse_gate("peak_to_mean: +2%")])
    assert compare(run, empty).compared == 0  # without gates: shown, nothing to fail


@pytest.mark.parametrize("results, expect", [
    ([1, 2], "result 1 is int, expected an object"),
    ([{"strategy": "x", "metrics": None}], '"metrics" must be an object'),
    ([{"strategy": "x", "metrics": {}, "nodes": "ten"}], '"nodes" is \'ten\''),
    ([{"strategy": "x", "metrics": {"peak_to_mean": "1.3"}}], "metric 'peak_to_mean' is '1.3'"),
])
def test_malformed_results_are_one_line(tmp_path, capsys, results, expect):
    good = _write(tmp_path, "good.json", _only(small_run(), "jump"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**small_run(), "results": results}))
    for argv in (["compare", good, str(bad), "--no-config"],
                 ["report", str(bad), "-o", str(tmp_path / "o")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert expect in err and err.count("\n") == 1 and "Traceback" not in err


def test_timing_columns_agree_with_the_ratio_shown():
    # skewed rounds: the medians of each side say ~1.0, the paired rounds say ~0.86
    base = _only(small_run(), "jump")
    base["results"] = base["results"][:1]
    b = [3.70, 3.71, 3.72, 3.70, 4.60, 4.65, 4.70, 4.62, 3.69, 3.73, 4.61, 4.66]
    n = [3.72, 3.73, 3.71, 3.72, 3.90, 3.95, 3.97, 3.93, 3.70, 3.74, 3.91, 3.96]
    cmp = compare(_with_rounds(base, "s1", b), _with_rounds(base, "s1", n),
                  [parse_gate("batch_ns_per_key: +10%")])
    (row,) = [r for r in cmp.rows if r.metric == "batch_ns_per_key"]
    assert row.new / row.old == pytest.approx(row.ratio.estimate)
    assert row.ratio.estimate < 0.95  # and it is the paired ratio, not the medians' ratio
