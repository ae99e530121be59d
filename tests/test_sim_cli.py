"""``routebench simulate`` and ``routebench list`` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from routebench.cli import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "routebench.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_simulate_help() -> None:
    p = _run("simulate", "--help")
    assert p.returncode == 0
    for flag in ("--balancer", "--crash", "--store", "--nat", "--ip-change-rate", "--scenario"):
        assert flag in p.stdout


def test_simulate_writes_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim.json"
    rc = main(["simulate", "--balancer", "p2c", "--balancer", "cookie-sticky:base=p2c",
               "--backends", "5", "--requests", "3000", "--crash", "backend-2@0.5",
               "--nat", "20", "--ip-change-rate", "0.2", "--json", str(out), "-q"])
    assert rc == 0
    table = capsys.readouterr().out
    assert "p2c" in table and "cookie-sticky:base=p2c" in table
    assert "IP-change survival" in table and "crash: lost of pinned" in table
    data = json.loads(out.read_text())
    assert data["schema"] == "routebench/2" and data["kind"] == "simulate"
    assert data["config"]["reproduce"].startswith("routebench simulate ")
    assert [r["strategy"] for r in data["results"]] == ["p2c", "cookie-sticky"]
    for r in data["results"]:
        m = r["metrics"]
        assert m["requests"] == 3000 == m["completed"] + m["failed"]
        assert len(r["counts"]) == 5 and sum(r["counts"]) == m["completed"]
        assert r["events"][0]["event"] == "crash"
        assert r["nat_groups"][0]["size"] == 20


def test_reproduce_command_gives_the_same_numbers(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["simulate", "--scenario", "slow-backend", "--balancer", "p2c",
                 "--requests", "2000", "--json", str(a), "-q"]) == 0
    cmd = json.loads(a.read_text())["config"]["reproduce"].split()[2:]
    assert main(["simulate", *cmd, "--json", str(b), "-q"]) == 0
    ma = json.loads(a.read_text())["results"][0]["metrics"]
    mb = json.loads(b.read_text())["results"][0]["metrics"]
    ma.pop("wall_s"), mb.pop("wall_s")
    assert ma == mb


def test_simulate_csv(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--scenario", "nat", "--requests", "2000", "--format", "csv",
                 "--no-json", "-q"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["strategy"] for r in rows] == ["ip-hash-sticky", "ip-hash-sticky", "cookie-sticky",
                                             "p2c"]
    assert all(float(r["latency_p99"]) > 0 for r in rows)


def test_list_shows_balancers_and_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "balancer strategies:" in out and "scenario presets" in out
    for name in ("round-robin", "random", "least-connections", "p2c", "cookie-sticky",
                 "ip-hash-sticky", "bounded-load", "crash-failover", "sticky-vs-p2c"):
        assert name in out
    assert "eps=0.25" in out and "d=2" in out


@pytest.mark.parametrize("args, message", [
    (["--crash", "backend-7@30", "--backends", "5"], "no backend 'backend-7'"),
    (["--balancer", "rign"], "unknown strategy 'rign'; available:"),
    (["--balancer", "ring"], "is a keyed strategy, not a balancer"),
    (["--load", "-1"], "--load '-1': must be above 0"),
    (["--session-rate", "abc"], "--session-rate 'abc': expected a number"),
    (["--ip-change-rate", "-0.5"], "--ip-change-rate '-0.5'"),
    (["--balancer", "p2c:d=0"], "parameter 'd'"),
    (["--balancer", "p2c:k=3"], "unknown parameter 'k'"),
    (["--balancer", "bounded-load:eps=0"], "must be above 0"),
    (["--balancer", "ip-hash-sticky:keyed=rign"], "is not a keyed strategy"),
    (["--service", "weibull:mean=1"], "unknown distribution 'weibull'"),
    (["--session-length", "pareto:mean=5,alpha=1"], "must be above 1"),
    (["--crash", "backend-1@soon"], "expected a time"),
    (["--crash", "backend-1"], "expected BACKEND@TIME"),
    (["--join", "backend-0@5"], "already a backend"),
    (["--speed", "backend-0"], "expected BACKEND=FACTOR"),
    (["--nat", "50,x"], "--nat '50,x'"),
    (["--nat", "20000"], "more than clients=10000"),
    (["--scenario", "nope"], "unknown scenario 'nope'; available:"),
    (["--keys", "uniform"], "unknown key distribution"),
    (["--arrivals", "file:/nonexistent/times.txt"], "--arrivals file"),
    (["--requests", "lots"], "--requests 'lots'"),
    (["--seed", "-3"], "--seed -3"),
])
def test_bad_input_is_one_clear_line(args: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    base = ["simulate", "--no-json", "-q"] + ([] if "--requests" in args else ["--requests", "100"])
    try:
        rc = main(base + args)
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert message in err


def test_bad_input_from_the_shell_has_no_traceback() -> None:
    p = _run("simulate", "--no-json", "--backends", "5", "--crash", "backend-7@30")
    assert p.returncode == 2
    assert p.stderr.strip() == ("routebench simulate: error: --crash backend-7@30: no backend "
                                "'backend-7'; backends: backend-0, backend-1, backend-2, "
                                "backend-3, backend-4")


def test_arrivals_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "t.txt"
    f.write_text("\n".join(str(0.01 * i) for i in range(300)))
    out = tmp_path / "a.json"
    assert main(["simulate", "--balancer", "p2c", "--arrivals", f"file:{f}",
                 "--session-length", "1", "--json", str(out), "-q"]) == 0
    m = json.loads(out.read_text())["results"][0]["metrics"]
    assert m["sessions"] == 300 == m["requests"]
    f.write_text("0\n2\n1\n")
    assert main(["simulate", "--arrivals", f"file:{f}", "--no-json", "-q"]) == 2
    assert "line 3 (1) is earlier than the line before (2)" in capsys.readouterr().err
