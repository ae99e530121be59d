"""Bad input on the command line: one line naming the input and what is accepted, exit 2,
and no work done before the error."""

from __future__ import annotations

import pytest

from routebench.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--seed", "-1"], "--seed -1: expected a whole number >= 0"),
    (["trace", "generate", "uniform", "--seed", "-1", "-o", "x.csv"],
     "--seed -1: expected a whole number >= 0"),
    (["trace", "generate", "uniform", "-o", "."], "--output '.' is a directory"),
    (["run", "--json", ".", "--strategy", "jump"], "--json '.' is a directory"),
    (["run", "--nodes", "5,5"], "node count 5 is given twice"),
    (["run", "--strategy", "ring:vnodes=200,vnodes=300"], "parameter 'vnodes' is given twice"),
    (["trace", "generate", "uniform", "--requests", "10", "-o", "x.parquet"],
     "does not write .parquet files"),
    (["simulate", "--nat", "0"], "a NAT group needs at least 1 client"),
    (["simulate", "--balancer", "p2c:d=100"], "d=100 samples more backends than the 10"),
    (["run", "--strategy", "ring:vnodes=1000000000", "--nodes", "2"],
     "would take about"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, *argv)
    assert rc == 2, (out, err)
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""  # no table, no banner: the error comes before any work
    assert not list(tmp_path.iterdir())  # and nothing was written


def test_nat_none_switches_off_a_presets_groups(capsys, tmp_path):
    rc, out, err = run(capsys, "simulate", "--scenario", "nat", "--nat", "none", "--requests",
                       "2000", "--balancer", "p2c", "--no-json", "-q")
    assert rc == 0, err
    assert "NAT groups" not in out


def test_max_memory_raises_or_lowers_the_limit(capsys):
    rc, _, err = run(capsys, "run", "--strategy", "ring:vnodes=1000", "--nodes", "2",
                     "--max-memory", "100kB", "--no-json", "-q")
    assert rc == 2 and "would take about 351.6 KiB" in err and "limit of 97.7 KiB" in err
    rc, _, err = run(capsys, "run", "--max-memory", "lots")
    assert rc == 2 and "--max-memory 'lots': expected a size" in err
    from routebench.strategies import memory_limit

    default = memory_limit()
    run(capsys, "run", "--strategy", "jump", "--nodes", "2", "--keys", "1000",
        "--max-memory", "64MiB", "--no-json", "-q")
    assert memory_limit() == default  # the flag lasts one command


def test_lookup_hash_given_twice_and_empty_lines(capsys, monkeypatch):
    rc, _, err = run(capsys, "lookup", "--strategy", "ring:hash=md5", "--hash", "mmh3",
                     "--nodes", "a,b", "k")
    assert rc == 2 and "the key hash is given twice" in err
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"k1\n\nk2\n\n")))
    rc, out, err = run(capsys, "lookup", "--strategy", "jump", "--nodes", "a,b")
    assert rc == 0 and [ln.split("\t")[0] for ln in out.splitlines()] == ["k1", "k2"]
    assert "2 empty lines skipped" in err


def test_simulate_says_when_trace_arrivals_leave_the_backends_idle(capsys):
    from pathlib import Path

    import routebench

    log = Path(routebench.__file__).parent / "datasets" / "samples" / "access.log"
    rc, out, err = run(capsys, "simulate", "--trace", str(log), "--balancer", "p2c",
                       "--no-json", "-q")
    assert rc == 0 and "too idle for balancers to differ" in err and "--backends" in err
