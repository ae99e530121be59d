"""routebench report: Markdown + self-contained HTML with plots, from run (and simulate) JSON."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
from _reportdata import small_run

from routebench.cli import main
from routebench.reports import make_report, write_json


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _simulation():
    """A simulate report in the shape the report reads (series + latency percentiles)."""
    rng = np.random.default_rng(0)
    results = []
    for name, skew in (("round-robin", 1.0), ("p2c", 0.3), ("ip-hash-sticky", 2.5)):
        t = np.linspace(0, 60, 61)
        load = rng.poisson(10, size=(61, 8)) * (1 + skew * rng.random(8))
        results.append({
            "strategy": name, "params": {}, "scenario": "sticky-vs-p2c", "nodes": 8,
            "metrics": {"latency_ms_p50": 10 * (1 + skew), "latency_ms_p99": 40 * (1 + skew),
                        "latency_ms_p999": 90 * (1 + skew), "sessions_lost": 0},
            "series": {"t": t.tolist(), "load": load.tolist()},
        })
    return make_report("simulate", results, {"seed": 0}, ["routebench", "simulate"])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    static = small_run(("ring", "jump", "maglev", "modulo"), nodes=(5, 20))
    sweep = small_run(("ring:vnodes=10", "ring:vnodes=40", "ring:vnodes=160", "jump"),
                      nodes=(20,))
    return (write_json(d / "static.json", static), write_json(d / "sweep.json", sweep),
            write_json(d / "sim.json", _simulation()))


def test_report_writes_markdown_html_and_plots(inputs, tmp_path):
    out = tmp_path / "out"
    assert main(["report", *map(str, inputs), "-o", str(out), "-q", "--title", "T"]) == 0
    md = (out / "report.md").read_text()
    for img in ("keys-per-node", "peak-vs-vnodes", "remap-vs-nodes", "lookup-vs-nodes",
                "load-over-time", "latency-percentiles"):
        assert f"](img/{img}.png)" in md, img
        w, h = _png_size(out / "img" / f"{img}.png")
        assert w >= 800 and h >= 400
    assert md.startswith("# T\n")
    assert "### Trace `uniform`" in md and "| ring" in md
    assert "## Environment" in md and "numpy" in md
    page = (out / "report.html").read_text()
    # self-contained: every image embedded, nothing fetched from elsewhere
    assert page.count('src="data:image/png;base64,') == 6
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "<table>" in page


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
