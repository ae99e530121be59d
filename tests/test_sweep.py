"""routebench sweep: the grid file, derived seeds, streaming + resume, failures, and Dask
for real (an embedded LocalCluster, and a `dask scheduler` with two `dask worker`s)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from routebench._errors import RoutebenchError
from routebench.cli import main
from routebench.harness.sweep import cell_seed, parse_config
from routebench.records import TIMING_METRICS
from routebench.reports.compare import compare

GRID = """\
seed = 7
seeds = [0, 1]
nodes = [4, 16]
traces = ["zipf:s=1.1"]
strategies = [{ name = "ring", vnodes = [20] }]
[run]
keys = "2k"
"""


def _write(tmp_path: Path, text: str = GRID, name: str = "s.toml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


#: measured with tracemalloc, so the allocator's state moves it by a few hundred bytes
#: from process to process (a Dask worker's own threads no longer count: see
#: harness/sweep/_memory.py); every other quality metric must be equal to the bit
MEASURED = ("memory_bytes",)


def _quality(path: str) -> list[tuple]:
    """Each cell's identity, seed, quality metrics and counts (timing metrics left out)."""
    data = json.loads(Path(path).read_text())
    out = []
    for r in data["results"]:
        m = {k: v for k, v in r["metrics"].items()
             if k not in TIMING_METRICS and k not in MEASURED}
        out.append((r["cell"], r["status"], r["seed"], m, r["counts"]))
    return out


def _same_memory(a: str, b: str) -> None:
    ra, rb = (json.loads(Path(p).read_text())["results"] for p in (a, b))
    for x, y in zip(ra, rb, strict=True):
        ma, mb = x["metrics"]["memory_bytes"], y["metrics"]["memory_bytes"]
        assert abs(ma - mb) <= max(2048, 0.05 * ma), (x["cell"], ma, mb)


# -- the file ---------------------------------------------------------------------------------
def test_grid_expands_and_seeds_derive_from_identity_not_position():
    cfg = parse_config({"seed": 3, "seeds": [0, 1], "nodes": [5, 50],
                        "traces": ["uniform", "zipf:s=1.2"],
                        "strategies": ["jump", {"name": "ring", "vnodes": [10, 40]}]})
    assert len(cfg.cells) == 2 * 2 * 2 * 3
    seeds = {(c.workload, c.replicate): c.seed for c in cfg.cells}
    for c in cfg.cells:  # every strategy and N of a replicate sees the same trace
        assert c.seed == seeds[(c.workload, c.replicate)] == cell_seed(3, c.workload, c.replicate)
    assert len(set(seeds.values())) == 4
    # the same cell keeps its seed in another grid (order, other cells do not matter)
    other = parse_config({"seed": 3, "seeds": [1], "nodes": [50], "traces": ["zipf:s=1.2"],
                          "strategies": ["jump"]})
    assert other.cells[0].seed == seeds[("zipf:s=1.2", 1)]
    assert {c.spec for c in cfg.cells} == {"jump", "ring:vnodes=10", "ring:vnodes=40"}


@pytest.mark.parametrize("data, message", [
    ({"nodez": [1]}, "unknown key 'nodez'; accepted: engine, seed, seeds, nodes"),
    ({"run": {"kees": "1k"}}, "unknown key [run] 'kees'; accepted: keys, route_on"),
    ({"nodes": []}, "the grid is empty: nodes = []"),
    ({"strategies": [{"name": "ring", "vnodes": []}]}, "the grid is empty: ring.vnodes = []"),
    ({"strategies": ["rign"]}, "unknown strategy 'rign'"),
    ({"strategies": [{"name": "ring", "vnodez": [1]}]}, "unknown parameter 'vnodez'"),
    ({"strategies": ["p2c"]}, "'p2c' is a balancer; it belongs in balancers"),
    ({"traces": ["nope/*.log"]}, "'nope/*.log' matches no file"),
    ({"engine": "simulate", "traces": ["uniform"]}, "'traces' belongs to engine = 'run'"),
    ({"engine": "simulate", "simulate": {"lod": 1}}, "unknown key [simulate] 'lod'"),
    ({"engine": "bench"}, "engine = 'bench'; accepted: run, simulate"),
    ({"nodes": [0]}, "nodes = 0: expected a whole number >= 1"),
])
def test_bad_files_name_the_key_and_what_is_accepted(data, message, tmp_path):
    with pytest.raises(RoutebenchError) as e:
        parse_config(data, "s.toml", base=tmp_path)
    assert message in str(e.value)


def test_dry_run_prints_cells_and_estimate(tmp_path, capsys):
    assert main(["sweep", _write(tmp_path), "--dry-run", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "run|ring:vnodes=20|N=16|zipf:s=1.1|r1" in out
    assert "4 cells, 4 to run; estimated" in out and "on 2 workers" in out
    assert not (tmp_path / "routebench-sweep.json").exists()


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = _write(tmp_path, "nodes = [4]\ncolour = 1\n", "bad.toml")
    assert main(["sweep", bad, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'colour'" in err


# -- serial: streaming, failures, resume --------------------------------------------------------
def test_failed_cells_are_recorded_and_resume_runs_only_them(tmp_path, monkeypatch, capsys):
    cfg = _write(tmp_path)
    out = str(tmp_path / "sw.json")
    monkeypatch.setenv("ROUTEBENCH_SWEEP_FAULT", "raise:N=16")
    assert main(["sweep", cfg, "--workers", "1", "--json", out, "-q"]) == 1
    data = json.loads(Path(out).read_text())
    assert data["kind"] == "sweep"
    status = {r["cell"]: r["status"] for r in data["results"]}
    assert sorted(status.values()) == ["failed", "failed", "ok", "ok"]
    failed = [r for r in data["results"] if r["status"] == "failed"]
    assert all("injected fault" in r["error"] and "N=16" in r["cell"] for r in failed)
    csv = (tmp_path / "sw.csv").read_text().splitlines()
    assert csv[0].startswith("cell,status,") and len(csv) == 5
    # the file is there: without --resume it is not overwritten
    assert main(["sweep", cfg, "--workers", "1", "--json", out, "-q"]) == 2
    assert "--resume" in capsys.readouterr().err
    monkeypatch.delenv("ROUTEBENCH_SWEEP_FAULT")
    before = {r["cell"]: r for r in data["results"] if r["status"] == "ok"}
    assert main(["sweep", cfg, "--workers", "1", "--json", out, "--resume"]) == 0
    assert "2 of 2 cells ran ok, 0 failed, 2 kept" in capsys.readouterr().out
    again = json.loads(Path(out).read_text())
    assert [r["status"] for r in again["results"]] == ["ok"] * 4
    for r in again["results"]:  # kept cells are the very same records
        if r["cell"] in before:
            assert r == before[r["cell"]]
    # another grid in the same file is refused
    other = _write(tmp_path, GRID.replace("seed = 7", "seed = 8"), "other.toml")
    assert main(["sweep", other, "--workers", "1", "--json", out, "--resume"]) == 2


def test_compare_does_not_gate_timing_from_different_workers():
    def rep(worker: str, ns: float, ptm: float = 1.1) -> dict:
        return {"schema": "routebench/2", "kind": "sweep", "results": [
            {"record": "sweep-cell", "strategy": "jump", "params": {}, "label": "jump",
             "nodes": 4, "trace": "uniform", "cell": "c", "worker": worker,
             "metrics": {"batch_ns_per_key": ns, "peak_to_mean": ptm}}]}

    from routebench.reports.compare import parse_gate

    gates = [parse_gate("batch_ns_per_key: +10%"), parse_gate("peak_to_mean: +2%")]
    cmp = compare(rep("tcp://a:1", 10.0), rep("tcp://b:2", 30.0), gates)
    rows = {r.metric: r.status for r in cmp.rows}
    assert rows["batch_ns_per_key"] == "not gated" and cmp.passed
    assert any("different workers" in n for n in cmp.notes)
    cmp = compare(rep("tcp://a:1", 10.0), rep("tcp://b:2", 10.0, ptm=1.5), gates)
    assert not cmp.passed  # quality metrics are still gated


def test_compare_matches_sweep_cells_by_replicate():
    """Replicate 1 pairs with replicate 1: not by position, so a report that lacks a
    replicate (a failed or not yet resumed cell) or lists them in another order still
    compares each run of a cell with the same run."""
    def cell(rep: int, ptm: float) -> dict:
        return {"record": "sweep-cell", "strategy": "jump", "params": {}, "label": "jump",
                "nodes": 4, "trace": "uniform", "cell": f"run|jump|N=4|uniform|r{rep}",
                "replicate": rep, "worker": "local", "metrics": {"peak_to_mean": ptm}}

    def rep(*cells: dict) -> dict:
        return {"schema": "routebench/2", "kind": "sweep", "results": list(cells)}

    from routebench.reports.compare import parse_gate

    gate = [parse_gate("peak_to_mean: +2%")]
    base = rep(cell(0, 1.30), cell(1, 1.10))
    cmp = compare(base, rep(cell(1, 1.10), cell(0, 1.30)), gate, show_all=True)
    assert cmp.passed and cmp.compared == 2  # order does not matter
    assert {r.group[1] for r in cmp.rows} == {"uniform r0", "uniform r1"}
    cmp = compare(base, rep(cell(1, 1.10)), gate)  # replicate 0 missing: 1 still pairs with 1
    assert cmp.passed and cmp.compared == 1 and cmp.only_base == 1
    cmp = compare(base, rep(cell(1, 1.30)), gate)  # by position it would pair with r0 and pass
    assert cmp.compared == 1 and not cmp.passed


# -- Dask: an embedded LocalCluster -------------------------------------------------------------
try:
    import distributed  # noqa: F401
except ImportError:  # pragma: no cover - routebench[test] installs it
    HAVE_DASK = False
else:
    HAVE_DASK = True
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="needs dask.distributed (routebench[dask])")


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("serial")
    out = str(d / "serial.json")
    assert main(["sweep", _write(d), "--workers", "1", "--json", out, "-q"]) == 0
    return out


@needs_dask
def test_two_workers_give_the_serial_quality_metrics(serial_run, tmp_path, capsys):
    out = str(tmp_path / "two.json")
    assert main(["sweep", _write(tmp_path), "--workers", "2", "--json", out, "-q"]) == 0
    assert _quality(out) == _quality(serial_run)
    _same_memory(out, serial_run)
    data = json.loads(Path(out).read_text())
    workers = {r["worker"] for r in data["results"]}
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers)
    assert data["config"]["timed_on_workers"] == sorted(workers)
    assert {r["worker"] for r in json.loads(Path(serial_run).read_text())["results"]} == {"local"}


@needs_dask
def test_a_worker_dying_mid_cell_is_retried_once_then_recorded(tmp_path, monkeypatch, capsys):
    grid = GRID.replace("seeds = [0, 1]", "seeds = [0]")
    monkeypatch.setenv("ROUTEBENCH_SWEEP_FAULT", "exit:N=16")
    out = str(tmp_path / "die.json")
    t0 = time.monotonic()
    assert main(["sweep", _write(tmp_path, grid), "--workers", "2", "--json", out, "-q"]) == 1
    assert time.monotonic() - t0 < 60
    res = {r["cell"]: r for r in json.loads(Path(out).read_text())["results"]}
    dead = res["run|ring:vnodes=20|N=16|zipf:s=1.1|r0"]
    assert dead["status"] == "failed" and dead["attempts"] == 2
    assert "KilledWorker" in dead["error"]
    assert res["run|ring:vnodes=20|N=4|zipf:s=1.1|r0"]["status"] == "ok"


@needs_dask
def test_an_unreachable_scheduler_is_one_line_within_10_s(tmp_path, capsys):
    from routebench.harness.live._procs import free_ports

    (port,) = free_ports(1)
    t0 = time.monotonic()
    assert main(["sweep", _write(tmp_path), "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--json", str(tmp_path / "x.json"), "-q"]) == 2
    assert time.monotonic() - t0 < 10
    err = capsys.readouterr().err.strip()
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in err
    assert err.count("\n") == 0


# -- Dask: a real `dask scheduler` and two `dask worker` processes on loopback ----------------
@needs_dask
def test_a_running_scheduler_with_two_workers(serial_run, tmp_path, capsys):
    from routebench.harness.live._procs import ServerProcess, free_ports

    dask_cli = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask_cli is None:
        pytest.skip("no `dask` command")
    sp, w1, n1, w2, n2 = free_ports(5)
    addr = f"tcp://127.0.0.1:{sp}"
    procs = [ServerProcess([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(sp),
                            "--no-dashboard"], ports=[sp], name="dask-scheduler",
                           start_timeout=30)]
    for wp, np_ in ((w1, n1), (w2, n2)):
        procs.append(ServerProcess(
            [dask_cli, "worker", addr, "--nthreads", "1", "--nworkers", "1", "--host",
             "127.0.0.1", "--worker-port", str(wp), "--nanny-port", str(np_),
             "--no-dashboard"], ports=[wp], name="dask-worker", start_timeout=30))
    try:
        for p in procs:
            p.start()
        out = str(tmp_path / "remote.json")
        assert main(["sweep", _write(tmp_path), "--scheduler", addr, "--json", out, "-q"]) == 0
        assert _quality(out) == _quality(serial_run)
        data = json.loads(Path(out).read_text())
        assert {r["worker"] for r in data["results"]} <= {f"tcp://127.0.0.1:{w1}",
                                                          f"tcp://127.0.0.1:{w2}"}
        assert data["config"]["ran_on"] == f"Dask scheduler {addr}"
    finally:
        for p in reversed(procs):
            p.stop()
    for p in procs:
        assert p.proc is not None and p.proc.poll() is not None


def test_report_draws_the_sweep_axes(serial_run, tmp_path):
    pytest.importorskip("matplotlib")
    assert main(["report", serial_run, "-o", str(tmp_path / "rep"), "-q"]) == 0
    imgs = sorted(p.name for p in (tmp_path / "rep" / "img").iterdir())
    assert "serial-peak_to_mean-vs-nodes.png" in imgs
    assert "Sweep `serial` (4 cells" in (tmp_path / "rep" / "report.md").read_text()
