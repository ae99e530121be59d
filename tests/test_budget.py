"""``run --budget`` / ``--over-budget``: the cost estimate said before a run that exceeds the
budget, and the user's choice: a key sample that fits, a stop (exit 2), or the whole run."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from routebench.cli import main
from routebench.datasets import open_trace
from routebench.harness.static.runner import (
    CostEstimate,
    CostPart,
    KeySampledTrace,
    StrategySpec,
    calibrate,
    estimate_run_cost,
)

#: O(N) a key: at N = 3000 a lookup takes microseconds, so 40k requests exceed 50 ms
SLOW = ["run", "--strategy", "rendezvous", "--nodes", "3000", "--trace", "uniform",
        "--keys", "40k"]


def _run(capsys, tmp_path, *extra):
    out = tmp_path / "r.json"
    rc = main([*SLOW, *extra, "--json", str(out), "-q"])
    text, err = capsys.readouterr()
    return rc, err, (json.loads(out.read_text()) if out.exists() else None)


def test_over_budget_stop_says_why_and_exits_2(capsys, tmp_path):
    rc, err, data = _run(capsys, tmp_path, "--budget", "50ms", "--over-budget", "stop")
    assert rc == 2 and data is None
    line, = err.strip().splitlines()  # one line: the estimate, how, and the choice
    assert "estimated" in line and "above the budget of 50 ms" in line
    assert "rendezvous at N=3,000" in line and "ns a key over" in line
    assert "stopped (--over-budget stop)" in line


def test_over_budget_sample_fits_and_says_so(capsys, tmp_path):
    rc, err, data = _run(capsys, tmp_path, "--budget", "50ms")  # sample is the default
    assert rc == 0, err
    assert "sampling" in err and "of the keys" in err
    budget = data["config"]["budget"]
    assert budget["over_budget"] == "sample" and budget["estimate_s"] > 0.05
    assert 0 < budget["key_sample"] < 1
    (sampled,) = budget["sampled"]
    (result,) = data["results"]
    # what ran is what the report says: fewer requests than asked, all of them counted
    assert sampled["requests"] == result["metrics"]["requests"] < 40_000
    assert sampled["distinct_keys"] == result["metrics"]["distinct_keys"]
    (trace,) = data["config"]["traces"]
    assert trace["key_sample"] == budget["key_sample"]
    assert trace["sampled_requests"] == sampled["requests"]


def test_over_budget_run_runs_everything(capsys, tmp_path):
    rc, err, data = _run(capsys, tmp_path, "--budget", "50ms", "--over-budget", "run")
    assert rc == 0, err
    assert "running it all (--over-budget run)" in err
    assert data["results"][0]["metrics"]["requests"] == 40_000
    assert data["config"]["budget"]["key_sample"] == 1.0


def test_within_budget_nothing_is_said(capsys, tmp_path):
    out = tmp_path / "r.json"
    rc = main(["run", "--strategy", "jump", "--nodes", "10", "--trace", "uniform", "--keys",
               "5000", "--json", str(out)])
    _, err = capsys.readouterr()
    assert rc == 0 and "estimated" not in err
    budget = json.loads(out.read_text())["config"]["budget"]
    assert budget["key_sample"] == 1.0 and budget["budget_s"] == 180
    assert budget["estimate_s"] < 180


@pytest.mark.parametrize("bad", ["soon", "-3m", "0"])
def test_bad_budget_is_one_line(capsys, bad):
    assert main([*SLOW, f"--budget={bad}"]) == 2
    err = capsys.readouterr().err
    assert "--budget" in err and len(err.strip().splitlines()) == 1


def test_help_teaches_the_budget(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "--budget" in text and "--over-budget" in text and "rendezvous is O(N)" in text


# -- the pieces, through the API ----------------------------------------------------------
def test_estimate_grows_with_n_for_an_o_n_strategy():
    spec = StrategySpec("rendezvous")
    small, large = calibrate(spec, 100), calibrate(spec, 10_000)
    assert large.lookup_ns > 10 * small.lookup_ns
    trace = open_trace("uniform", requests=10_000)
    est = estimate_run_cost([spec], [100, 10_000], [trace])
    assert est.seconds() > est.seconds(0.5) > est.seconds(0.1)


def test_share_to_fit_is_the_largest_that_fits():
    part = CostPart("x", 10, build_s=0.0, lookup_ns=1000.0, calibration_keys=1000)
    est = CostEstimate([part], [1_000_000])
    share = est.share_to_fit(1.0)
    assert est.seconds(share) <= 1.0 < est.seconds(min(1.0, share * 1.05))
    assert est.share_to_fit(est.seconds() + 1) == 1.0
    slow_build = CostEstimate([CostPart("y", 10, 100.0, 1.0, 10)], [1_000_000])
    assert slow_build.share_to_fit(1.0) == pytest.approx(0.01)  # the least: 10,000 requests
    assert CostEstimate([part], [None]).unknown == 1


def test_key_sample_keeps_every_request_of_each_kept_key():
    full = open_trace("zipf", requests=30_000, seed=2)
    sampled = KeySampledTrace(open_trace("zipf", requests=30_000, seed=2), 0.3)

    def counts(t):
        c = Counter()
        for chunk in t.chunks():
            c.update(chunk.columns[t.route_on].keys())
        return c

    a, b = counts(full), counts(sampled)
    assert b and set(b) < set(a)
    assert all(a[k] == b[k] for k in b)  # a kept key keeps all its requests
    assert sampled.kept == sum(b.values())
    share = len(b) / len(a)
    assert 0.2 < share < 0.4  # about the share of the keys
    assert sampled.describe()["key_sample"] == 0.3
    # no arc of the ring: the kept keys' xxh3 digests spread over the whole space
    from routebench.hashing import get_hasher

    d = get_hasher("xxh3").many(list(b))
    assert np.histogram(d.astype(np.float64), bins=4, range=(0, 2.0**64))[0].min() > 0.2 * d.size


# -- run --remove: the same options, the keys assigned as the sample -----------------------
REMOVE = ["run", "--remove", "10%,30%", "--strategy", "rendezvous", "--nodes", "3000",
          "--keys", "100k"]


def test_remove_over_budget_stop_and_sample(capsys, tmp_path):
    assert main([*REMOVE, "--budget", "50ms", "--over-budget", "stop", "-q"]) == 2
    line, = capsys.readouterr().err.strip().splitlines()
    assert "error: --remove: estimated" in line and "5 steps over 100,000 keys" in line
    assert "stopped (--over-budget stop)" in line
    out = tmp_path / "rm.json"
    assert main([*REMOVE, "--budget", "1s", "--json", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    assert "sampling" in err and "of the 100,000 keys" in err
    data = json.loads(out.read_text())
    budget = data["config"]["budget"]
    (r,) = data["results"]
    assert budget["keys_asked"] == 100_000 and budget["keys"] < 100_000
    assert r["metrics"]["sample_keys"] == budget["keys"]  # what ran is what it says


def test_a_loaded_machine_stretches_the_estimate(monkeypatch):
    import os

    from routebench.harness.static import runner

    part = CostPart("x", 10, build_s=0.1, lookup_ns=100.0, calibration_keys=1000)
    quiet, busy = CostEstimate([part], [100_000]), CostEstimate([part], [100_000], stretch=2.5)
    assert busy.seconds() == pytest.approx(2.5 * quiet.seconds())
    assert "x2.5 for the machine's load (load average" in busy.describe()
    monkeypatch.setattr(os, "getloadavg", lambda: (8.0, 0.0, 0.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert runner.load_stretch() == 4.0
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.0, 0.0))
    assert runner.load_stretch() == 1.0


# -- trace files: their length estimated from their size --------------------------------------
def _log(tmp_path, lines: int, name: str = "a.log") -> str:
    path = tmp_path / name
    assert main(["trace", "generate", "access-log", "-n", str(lines), "-o", str(path),
                 "-q"]) == 0
    return str(path)


@pytest.mark.parametrize("name", ["a.log", "a.log.gz", "a.log.zst"])
def test_a_files_lines_are_estimated_from_its_size(tmp_path, name):
    from routebench.datasets.readers._io import PEEK, estimate_lines

    small = _log(tmp_path, 2_000, "s-" + name)
    assert estimate_lines(small) == 2_000  # read whole: exact
    big = _log(tmp_path, 120_000, name)
    est = estimate_lines(big)
    assert est is not None and abs(est - 120_000) <= 0.1 * 120_000
    assert open_trace(big).estimated_requests() == est
    import os

    assert name != "a.log" or os.path.getsize(big) > PEEK  # the plain one is estimated


def test_a_trace_file_over_the_budget_is_said_before_the_run(capsys, tmp_path):
    log = _log(tmp_path, 20_000)
    rc = main(["run", "--trace", log, "--strategy", "rendezvous", "--nodes", "3000",
               "--budget", "50ms", "--over-budget", "stop", "-q", "--no-json"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "about 20,000 requests in 1 trace (1 estimated from its size)" in err
    assert "routebench run: error: estimated" in err  # said once, not twice


def test_a_split_replay_over_the_budget_stops_rather_than_sampling(capsys, tmp_path):
    log = _log(tmp_path, 20_000)
    rc = main(["run", "--trace", log, "--strategy", "rendezvous", "--nodes", "3000",
               "--budget", "50ms", "--workers", "1", "--split-size", "1MiB", "-q",
               "--no-json"])
    err = capsys.readouterr().err
    assert rc == 2 and "a split replay cannot sample keys" in err


def test_a_globs_length_is_estimated_from_a_few_of_its_files(tmp_path):
    from routebench.datasets.readers._split import _ESTIMATE_FILES

    for i in range(2 * _ESTIMATE_FILES + 1):
        _log(tmp_path, 500, f"p{i:02d}.log")
    est = open_trace(str(tmp_path / "p*.log")).estimated_requests()
    assert est is not None and abs(est - 500 * (2 * _ESTIMATE_FILES + 1)) <= 0.05 * est
