"""The command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import routebench
from routebench.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_small_writes_table_and_json(capsys, tmp_path):
    path = tmp_path / "out.json"
    code, out, err = run_cli(capsys, "run", "--strategy", "ring:vnodes=50", "--strategy", "jump",
                             "--nodes", "3,5", "--trace", "uniform", "--trace", "nat:groups=40",
                             "--keys", "3k", "--json", str(path), "--quiet")
    assert code == 0, err
    assert "ring:vnodes=50" in out and "| jump" in out and "nat:groups=40" in out
    report = json.loads(path.read_text())
    assert report["schema"] == "routebench/2"
    env = report["environment"]
    for key in ("python", "numpy", "platform", "cpu", "routebench"):
        assert env[key]
    assert "git_commit" in env
    results = report["results"]
    assert len(results) == 2 * 2 * 2
    required = {"chi2", "chi2_p", "peak_to_mean", "cov", "remap_join", "remap_join_ideal",
                "remap_leave", "remap_leave_ideal", "monotonicity_violations", "lookup_ns_p50",
                "batch_ns_per_key", "build_ms", "memory_bytes"}
    for r in results:
        assert {"strategy", "params", "trace", "nodes", "metrics", "counts"} <= set(r)
        assert required <= set(r["metrics"])
        assert len(r["counts"]) == r["nodes"] and sum(r["counts"]) == 3000
    nat = [r for r in results if r["trace"].startswith("nat")]
    assert all("nat_peak_to_mean_ip" in r["metrics"] for r in nat)


def test_run_csv_has_every_metric(capsys):
    code, out, _ = run_cli(capsys, "run", "--strategy", "maglev:M=1009", "--nodes", "4",
                           "--trace", "zipf", "--keys", "2000", "--format", "csv", "--no-json",
                           "-q")
    assert code == 0
    header, row = out.strip().splitlines()
    assert header.startswith("strategy,params,trace,nodes,requests,chi2,chi2_p")
    assert row.startswith("maglev,hash=xxh3;M=1009,zipf,4,2000,")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--strategy", "rign"], "unknown strategy 'rign'; available: modulo, ring"),
        (["run", "--strategy", "ring:vnode=3"], "unknown parameter 'vnode' for strategy 'ring'"),
        (["run", "--strategy", "maglev:M=100"], "100 is not prime; nearest primes: 97, 101"),
        (["run", "--strategy", "ring:hash=sha1"], "'sha1' is not one of xxh3, xxh64, mmh3, md5, crc32"),
        (["run", "--nodes", "0"], "node count 0 is below 1"),
        (["run", "--nodes", "ten"], "'ten' is not a whole number"),
        (["run", "--keys", "lots"], "--keys 'lots': expected a whole number"),
        (["run", "--trace", "zipfy"], "unknown trace 'zipfy'; available: uniform, zipf, nat"),
        (["run", "--trace", "nat:groups=5000,users=100"], "hold 5000 users, more than users=100"),
        (["lookup", "--strategy", "ring", "--nodes", ",", "k"], "node list is empty"),
        (["lookup", "--strategy", "ring", "--nodes", "a,b,a", "k"], "node 'a' is listed twice"),
        (["lookup", "--strategy", "ring", "--nodes", "a,b\udcff", "k"], "not valid Unicode text"),
        (["lookup", "--strategy", "ketama", "--nodes", "a", "--hash", "md5", "k"],
         "'ketama' has a fixed hash function"),
    ],
)
def test_bad_input_is_one_line(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv, *(["--no-json", "-q"] if argv[0] == "run" else []))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--format", "xls"], "invalid choice: 'xls'"),
        (["lookup", "--strategy", "ring", "--nodes", "a", "--hash", "sha1"], "invalid choice: 'sha1'"),
    ],
)
def test_usage_errors_are_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_lookup_keys_from_arguments(capsys):
    code, out, _ = run_cli(capsys, "lookup", "--strategy", "ring:vnodes=100", "--nodes",
                           "a,b,c", "user:1", "user:2")
    assert code == 0
    s = routebench.create("ring", ["a", "b", "c"], vnodes=100)
    assert out == f"user:1\t{s.lookup('user:1')}\nuser:2\t{s.lookup('user:2')}\n"


def test_lookup_hashes_undecodable_arguments_and_stdin_alike():
    cmd = [sys.executable, "-m", "routebench.cli", "lookup", "--strategy", "ring", "--nodes",
           "a,b,c,d,e"]
    keys = [b"caf\xe9-%d" % i for i in range(40)]  # Latin-1 bytes: not UTF-8
    by_arg = subprocess.run(cmd + keys, capture_output=True, timeout=120)
    by_stdin = subprocess.run(cmd, input=b"\n".join(keys) + b"\n", capture_output=True,
                              timeout=120)
    assert by_arg.returncode == 0 and by_stdin.returncode == 0, by_arg.stderr + by_stdin.stderr
    assert by_arg.stdout == by_stdin.stdout
    s = routebench.create("ring", ["a", "b", "c", "d", "e"])
    assert by_arg.stdout.splitlines()[0].split(b"\t")[1].decode() == s.lookup(keys[0])


def test_lookup_weights_and_hash(capsys):
    code, out, _ = run_cli(capsys, "lookup", "--strategy", "rendezvous", "--hash", "mmh3",
                           "--nodes", "a=1,b=3", "k1")
    s = routebench.create("rendezvous", {"a": 1, "b": 3}, hash="mmh3")
    assert code == 0 and out == f"k1\t{s.lookup('k1')}\n"


def test_lookup_streams_stdin():
    keys = [f"session-{i}" for i in range(70_000)]  # more than one read batch
    out = subprocess.run(
        [sys.executable, "-m", "routebench.cli", "lookup", "--strategy", "jump", "--nodes",
         "n0,n1,n2,n3"],
        input=("\n".join(keys) + "\n").encode(), capture_output=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert len(lines) == len(keys)
    s = routebench.create("jump", ["n0", "n1", "n2", "n3"])
    for line in lines[:: 997]:
        key, node = line.split("\t")
        assert s.lookup(key) == node


def test_list_shows_strategies_params_and_traces(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for text in ("ring", "vnodes=160", "maglev", "M=65537", "multiprobe", "probes=21",
                 "zipf", "s=1.0", "hash functions", "xxh3"):
        assert text in out


def test_help_teaches():
    out = subprocess.run([sys.executable, "-m", "routebench.cli", "run", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "NAME[:param=value,...]" in out.stdout and "--nodes" in out.stdout
    assert "routebench-run.json" in out.stdout


def test_list_one_strategy_explains_its_parameters(capsys):
    code, out, _ = run_cli(capsys, "list", "maglev")
    assert code == 0 and "a prime well above N" in out and "65537" in out
    code, _, err = run_cli(capsys, "list", "maglevv")
    assert code == 2 and "unknown strategy or trace 'maglevv'" in err and "traces: uniform" in err
