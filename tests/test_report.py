"""routebench report: Markdown + self-contained HTML with plots, from run (and simulate) JSON."""

from __future__ import annotations

import json
import re
import struct

import pytest
from _reportdata import small_run

from routebench.cli import main
from routebench.reports import write_json


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _simulation(tmp_path):
    """A real (small) ``routebench simulate`` report: series, per-backend load, latencies."""
    out = tmp_path / "sim.json"
    assert main(["simulate", "-q", "--backends", "8", "--requests", "20000",
                 "--balancer", "round-robin", "--balancer", "p2c",
                 "--balancer", "ip-hash-sticky", "--json", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    static = small_run(("ring", "jump", "maglev", "modulo"), nodes=(5, 20))
    sweep = small_run(("ring:vnodes=10", "ring:vnodes=40", "ring:vnodes=160", "jump"),
                      nodes=(20,))
    return (write_json(d / "static.json", static), write_json(d / "sweep.json", sweep),
            write_json(d / "sim.json", _simulation(d)))


def test_report_writes_markdown_html_and_plots(inputs, tmp_path):
    out = tmp_path / "out"
    assert main(["report", *map(str, inputs), "-o", str(out), "-q", "--title", "T"]) == 0
    md = (out / "report.md").read_text()
    for img in ("keys-per-node", "peak-vs-vnodes", "remap-vs-nodes", "lookup-vs-nodes",
                "load-over-time", "backend-load", "latency-percentiles"):
        assert f"](img/{img}.png)" in md, img
        w, h = _png_size(out / "img" / f"{img}.png")
        assert w >= 800 and h >= 400
    assert md.startswith("# T\n")
    assert "### Trace `uniform`" in md and "| ring" in md
    assert "## Environment" in md and "numpy" in md
    page = (out / "report.html").read_text()
    # self-contained: every image embedded, nothing fetched from elsewhere
    assert page.count('src="data:image/png;base64,') == 7
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "<table>" in page
    assert "simulate" in md and "p2c" in md  # the simulation table


def test_simulation_without_series_gets_the_per_backend_plot(tmp_path):
    sim = _simulation(tmp_path)
    for r in sim["results"]:
        del r["series"]
    src = write_json(tmp_path / "sim.json", sim)
    assert main(["report", str(src), "-o", str(tmp_path / "o"), "-q"]) == 0
    md = (tmp_path / "o" / "report.md").read_text()
    assert "backend-load.png" in md and "latency-percentiles.png" in md
    assert "load-over-time" not in md and "carry a `series`" in md


def test_report_svg_and_a_baseline_section(inputs, tmp_path):
    out = tmp_path / "svg"
    rc = main(["report", str(inputs[0]), "-o", str(out), "-q", "--image-format", "svg",
               "--baseline", str(inputs[0])])
    assert rc == 0
    assert (out / "img" / "remap-vs-nodes.svg").read_text().lstrip().startswith("<?xml")
    md = (out / "report.md").read_text()
    assert "## Changes against the baseline" in md and "results compared" in md
    # one node-count pair and no vnodes sweep: those plots are left out, not drawn empty
    assert "peak-vs-vnodes" not in md


def test_report_bad_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text('{"schema": "other/1"}')
    assert main(["report", str(bad), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not a routebench report" in err and err.count("\n") == 1


def test_report_without_matplotlib_says_what_to_install(inputs, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert main(["report", str(inputs[0]), "-o", str(tmp_path / "o")]) == 2
    assert "pip install 'routebench[report]'" in capsys.readouterr().err


def test_report_baseline_gate_fails_the_job_and_repeats_are_noted(inputs, tmp_path, capsys):
    base = write_json(tmp_path / "base.json", small_run(("ring:vnodes=160",), nodes=(5, 20)))
    worse = write_json(tmp_path / "worse.json", small_run(("ring:vnodes=10",), nodes=(5, 20)))
    out = tmp_path / "o"
    assert main(["report", str(base), str(worse), "-o", str(out), "-q", "--no-config",
                 "--baseline", str(base), "--gate", "peak_to_mean: +2%"]) == 1
    assert "FAIL" in capsys.readouterr().err
    assert (out / "report.md").is_file()  # written all the same
    # the same scenarios twice: shown once, and the report says so
    again = write_json(tmp_path / "again.json", small_run(("ring:vnodes=160",), nodes=(5, 20)))
    assert main(["report", str(base), str(again), "-o", str(out), "-q"]) == 0
    md = (out / "report.md").read_text()
    assert "2 result(s) repeat a scenario" in md and "`again.json` (2)" in md
