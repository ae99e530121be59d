"""The trace commands as a user runs them: help, inspect, generate, convert, run --trace."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _trace_helpers import REAL_LOG, combined, write

from routebench.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_trace_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["trace", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for sub in ("inspect", "generate", "convert", "formats"):
        assert sub in out


@pytest.mark.skipif(not REAL_LOG.exists(), reason="../shared/datasets not present")
def test_inspect_real_log(capsys, tmp_path):
    rc, out, _ = run(capsys, "trace", "inspect", str(REAL_LOG), "--json", str(tmp_path / "i.json"))
    assert rc == 0
    assert "access-log (combined)" in out
    assert "10,000 read, 10,000 used, 0 rejected" in out
    assert "requests:   10,000" in out
    assert "client 1,753" in out
    assert "/24 clusters" in out and "NAT hints" in out
    summary = json.loads((tmp_path / "i.json").read_text())["results"][0]
    assert summary["distinct"]["client"]["count"] == 1753


def test_generate_inspect_run_convert(capsys, tmp_path):
    log = tmp_path / "access.log.gz"
    rc, _, err = run(capsys, "trace", "generate", "access-log", "--requests", "20k", "-o",
                     str(log), "-q")
    assert rc == 0 and log.exists()
    rc, out, _ = run(capsys, "trace", "inspect", str(log), "-q")
    assert rc == 0 and "20,000 read, 20,000 used, 0 rejected" in out
    assert "compression gzip" in out
    rc, out, err = run(capsys, "run", "--trace", str(log), "--strategy", "jump", "--strategy",
                       "maglev", "--nodes", "5", "--json", str(tmp_path / "r.json"))
    assert rc == 0
    assert "access.log.gz" in out and "NAT peak/mean" in out
    assert "20,000 lines read, 20,000 used, 0 rejected; routed on client" in err
    report = json.loads((tmp_path / "r.json").read_text())
    res = report["results"][0]
    assert res["route_on"] == "client" and res["metrics"]["requests"] == 20_000
    assert res["trace_params"]["read"]["rejected"] == 0
    rc, out, _ = run(capsys, "run", "--trace", str(log), "--route-on", "client24", "--strategy",
                     "ring", "--nodes", "3", "--keys", "5000", "--no-json", "-q")
    assert rc == 0
    csv_out = tmp_path / "a.csv"
    rc, _, err = run(capsys, "trace", "convert", str(log), "-o", str(csv_out), "--keep",
                     "client,path")
    assert rc == 0 and "20,000 requests as csv" in err
    lines = csv_out.read_text().splitlines()
    assert lines[0] == "ts,client,path" and len(lines) == 20_001


def test_generate_is_reproducible(capsys, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for p in (a, b):
        assert run(capsys, "trace", "generate", "nat:users=500,groups=50", "-n", "3000",
                   "--seed", "7", "-o", str(p), "-q")[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().splitlines()[0] == "client,user"


def test_formats(capsys):
    rc, out, _ = run(capsys, "trace", "formats")
    assert rc == 0
    for name in ("access-log", "csv", "tsv", "jsonl", "twitter", "cachelib", "arc", "combined"):
        assert name in out


@pytest.mark.parametrize("argv,message", [
    (["trace", "inspect", "/nonexistent/x.log"], "no such file"),
    (["trace", "inspect", "{tmp}/empty.log"], "empty file"),
    (["trace", "inspect", "{tmp}/junk.bin"], "unknown trace format"),
    (["trace", "inspect", "{tmp}/cut.log.gz"], "corrupt or truncated"),
    (["trace", "inspect", "{tmp}/bad.log", "--strict"], "line 2: "),
    (["trace", "inspect", "{tmp}/bad.log", "--trace-format", "xml"], "unknown trace format 'xml'"),
    (["run", "--trace", "{tmp}/bad.log", "--route-on", "nope"], "cannot route on 'nope'"),
    (["trace", "generate", "nosuch", "-o", "{tmp}/x.csv"], "unknown trace 'nosuch'"),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, message):
    import gzip

    write(tmp_path, "empty.log", b"")
    write(tmp_path, "junk.bin", b"\x00\x01\x02garbage\x03")
    write(tmp_path, "cut.log.gz", gzip.compress(combined().encode() * 100)[:50])
    write(tmp_path, "bad.log", combined() + "\nnot a log line\n" + combined() + "\n")
    rc, out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_rejected_lines_reported(capsys, tmp_path):
    path = write(tmp_path, "bad.log", combined() + "\nnot a log line\n" + combined() + "\n")
    rc, out, _ = run(capsys, "trace", "inspect", str(path), "-q")
    assert rc == 0
    assert "3 read, 2 used, 1 rejected" in out
    assert "line 2:" in out and "not a log line" in out


def test_stdin(tmp_path):
    data = "\n".join(combined(ip=f"10.1.1.{i}") for i in range(30)) + "\n"
    proc = subprocess.run([sys.executable, "-m", "routebench.cli", "trace", "inspect", "-", "-q"],
                          input=data.encode(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"30 read, 30 used, 0 rejected" in proc.stdout
    assert b"client 30" in proc.stdout


def test_simulate_takes_arrivals_from_a_trace(capsys, tmp_path):
    # times out of order, as access logs are written at completion
    lines = [combined(ip=f"10.0.0.{i}").replace("10:05:03", f"10:05:{s:02d}")
             for i, s in enumerate([3, 1, 2, 5, 4, 6])]
    path = write(tmp_path, "a.log", "\n".join(lines) + "\n")
    rc, out, err = run(capsys, "simulate", "--trace", str(path), "--balancer", "p2c",
                       "--json", str(tmp_path / "s.json"))
    assert rc == 0, err
    assert "6 lines read, 6 used, 0 rejected; its request times are the arrivals" in err
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["results"][0]["metrics"]["sessions"] == 6
    rc, _, err = run(capsys, "simulate", "--trace", "zipf", "--no-json")
    assert rc == 2 and "no request times" in err


@pytest.mark.parametrize("name", ["t.jsonl.gzip", "t.tsv.lzma", "t.jsonl.zstd"])
def test_every_compression_suffix_names_both_format_and_compression(capsys, tmp_path, name):
    path = tmp_path / name
    rc, _, _ = run(capsys, "trace", "generate", "uniform", "--requests", "500", "-o", str(path),
                   "-q")
    assert rc == 0
    rc, out, _ = run(capsys, "trace", "inspect", str(path), "-q")
    fmt, comp = name.split(".")[1:]
    kind = {"gzip": "gzip", "lzma": "xz", "zstd": "zstd"}[comp]
    assert rc == 0 and "500 read, 500 used, 0 rejected" in out and f"compression {kind}" in out
    assert f"format:     {fmt}, compression {kind}" in out
