"""Huge traces: `run --trace` over globs and byte ranges, merged exactly.

A split replay (ranges in this process with --workers 1, and on a LocalCluster of 2
workers) must give the very numbers one pass gives: counts, balance, remap over the
distinct keys, NAT skew and read statistics; only timing is measured apart. The
splitter must put every line in exactly one range, whatever the contents, the range
size and where gzip members or zstd frames end.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from routebench._errors import RoutebenchError
from routebench.cli import main
from routebench.datasets import open_file_set, open_trace
from routebench.datasets._distinct import DistinctSample
from routebench.datasets.readers._split import open_range, plan_ranges
from routebench.datasets.synthetic import synthetic_trace
from routebench.datasets.writers import write_trace
from routebench.harness.static.runner import StrategySpec, run_static
from routebench.harness.static.split import Split
from routebench.hashing import get_hasher
from routebench.records import TIMING_METRICS

SPECS = [StrategySpec("ring", {"vnodes": 40}), StrategySpec("maglev")]
NODES = [5, 16]
#: measured (timing and memory), not counted: the only metrics a split may change
MEASURED = set(TIMING_METRICS) | {"memory_bytes", "build_ms"}
BAD = b"this is not a log line\n"


def _lines(n: int, tmp: Path) -> list[bytes]:
    """``n`` NCSA combined lines (the access-log generator), with a few rejected lines."""
    p = tmp / "gen.log"
    write_trace(synthetic_trace("access-log", n, 3), str(p))
    lines = p.read_bytes().splitlines(keepends=True)
    for i in (5, len(lines) // 2, len(lines) - 3):  # rejected lines, counted and quoted
        lines.insert(i, BAD)
    return lines


def _cuts(data: bytes, parts: int, seed: int) -> list[bytes]:
    """``data`` cut at random byte offsets (mid-line too): members/frames of their own."""
    rnd = random.Random(seed)
    at = sorted(rnd.sample(range(1, len(data)), parts - 1))
    return [data[a:b] for a, b in zip([0, *at], [*at, len(data)])]


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, str]:
    """The same requests as a plain file, a gzip of 9 members, a zstd of 7 frames, and a
    glob of 3 files (plain, gzip, zstd)."""
    tmp = tmp_path_factory.mktemp("split")
    lines = _lines(6000, tmp)
    data = b"".join(lines)
    (tmp / "plain.log").write_bytes(data)
    (tmp / "multi.log.gz").write_bytes(b"".join(gzip.compress(p) for p in _cuts(data, 9, 1)))
    z = zstandard.ZstdCompressor()
    (tmp / "multi.log.zst").write_bytes(b"".join(z.compress(p) for p in _cuts(data, 7, 2)))
    d = tmp / "parts"
    d.mkdir()
    third = len(lines) // 3
    a, b, c = lines[:third], lines[third:2 * third], lines[2 * third:]
    (d / "a.log").write_bytes(b"".join(a))
    (d / "b.log.gz").write_bytes(b"".join(gzip.compress(p) for p in _cuts(b"".join(b), 4, 3)))
    (d / "c.log.zst").write_bytes(b"".join(z.compress(p) for p in _cuts(b"".join(c), 3, 4)))
    return {"plain": str(tmp / "plain.log"), "gzip": str(tmp / "multi.log.gz"),
            "zstd": str(tmp / "multi.log.zst"), "glob": str(d / "*.log*")}


def _quality(results) -> list[tuple]:
    return [(r.label, r.nodes, r.counts,
             {k: v for k, v in r.metrics.items() if k not in MEASURED}) for r in results]


def _read(trace) -> dict:
    d = dict(trace.describe()["read"])
    d.pop("source")
    return d


@pytest.fixture(scope="module")
def one_pass(logs):
    """The plain file read in one pass, the way `run --trace FILE` reads it."""
    trace = open_trace(logs["plain"])
    return trace, run_static(SPECS, NODES, [trace])


@pytest.mark.parametrize("kind", ["plain", "gzip", "zstd", "glob"])
def test_split_in_process_equals_one_pass(logs, one_pass, kind) -> None:
    one_trace, one = one_pass
    trace = open_trace(logs[kind]) if kind == "glob" else open_file_set(logs[kind])
    notes: list[str] = []
    split = run_static(SPECS, NODES, [trace],
                       split=Split(1, size={"plain": 150_000, "glob": 60_000}.get(kind, 25_000),
                                   note=notes.append))
    assert _quality(split) == _quality(one)
    assert all(r.metrics["requests"] == 6000 for r in split)
    # read statistics add up; rejected lines keep the line numbers one pass gives
    got, want = _read(trace), _read(one_trace)
    if kind == "glob":  # three files of 2001 lines: their line numbers restart in each
        lines = [e["line"] for e in want["rejected_examples"]]
        assert [e["line"] for e in got["rejected_examples"]] == [(n - 1) % 2001 + 1
                                                                 for n in lines]
        got["rejected_examples"] = want["rejected_examples"] = None
    assert got.pop("compression") in ("none", "gzip", "zstd", "mixed")
    want.pop("compression")
    assert got == want
    ranges = int(notes[0].split(" in ")[1].split()[0])
    assert ranges >= 3  # it was split


def test_glob_in_one_process_is_one_trace(logs, one_pass) -> None:
    """Without --workers a glob is read file after file: the numbers of the whole file."""
    glob = run_static(SPECS, NODES, [open_trace(logs["glob"])])
    assert _quality(glob) == _quality(one_pass[1])


def test_cli_local_cluster_two_workers_equals_one_pass(logs, tmp_path) -> None:
    pytest.importorskip("distributed")
    out = {}
    for name, extra in (("one", ["--trace", logs["plain"]]),
                        ("two", ["--trace", logs["glob"], "--workers", "2",
                                 "--split-size", "40000"])):
        path = tmp_path / f"{name}.json"
        assert main(["run", *extra, "--strategy", "ring:vnodes=40", "--strategy", "maglev",
                     "--nodes", "5", "--json", str(path), "-q"]) == 0
        out[name] = json.loads(path.read_text())
    def quality(rep):
        return [(r["label"], r["nodes"], r["counts"],
                 {k: v for k, v in r["metrics"].items() if k not in MEASURED})
                for r in rep["results"]]
    assert quality(out["two"]) == quality(out["one"])
    assert out["two"]["config"]["split"] == {"workers": 2, "scheduler": None, "size": 40000}
    read = out["two"]["results"][0]["trace_params"]["read"]
    assert read["used"] == 6000 and read["rejected"] == 3


def test_a_range_whose_worker_dies_runs_again_then_stops_the_run(logs, capsys,
                                                               monkeypatch) -> None:
    """A worker that dies mid-range: the range runs once more; dying again stops the run with
    one line naming the range, never a hang or a merge without it."""
    pytest.importorskip("distributed")
    from routebench.harness.static.split import FAULT_ENV

    monkeypatch.setenv(FAULT_ENV, "exit:1")
    err = _err(capsys, ["run", "--trace", logs["plain"], "--workers", "2", "--split-size",
                        "300000", "--strategy", "jump", "--nodes", "4", "--no-json", "-q"])
    assert "the task failed twice" in err and "plain.log bytes 300,000-600,000" in err


# -- the splitter: every line in exactly one range ---------------------------------------------
_LINE = st.one_of(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")),
                  st.sampled_from([b"", b"x" * 300]))


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(_LINE, max_size=40), end_nl=st.booleans(),
       kind=st.sampled_from(["none", "gzip", "zstd"]), size=st.integers(1, 400),
       members=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_ranges_cover_every_line_exactly_once(tmp_path_factory, lines, end_nl, kind, size,
                                              members, seed) -> None:
    data = b"\n".join(lines) + (b"\n" if end_nl and lines else b"")
    path = tmp_path_factory.mktemp("prop") / "t"
    if kind == "none" or len(data) < 2:
        blob = data if kind == "none" else (gzip.compress(data) if kind == "gzip"
                                            else zstandard.ZstdCompressor().compress(data))
    else:
        parts = _cuts(data, min(members, len(data)), seed)
        z = zstandard.ZstdCompressor()
        blob = b"".join(gzip.compress(p) if kind == "gzip" else z.compress(p) for p in parts)
    path.write_bytes(blob)
    ranges = plan_ranges([str(path)], size)
    got = [open_range(r).read() for r in ranges]
    assert b"".join(got) == data  # in order, nothing lost, nothing twice
    full = [p for p in got if p]
    for piece in full[:-1]:  # and no line is cut: every range but the last ends a line
        assert piece.endswith(b"\n")
    assert [r.start for r in ranges] == sorted({r.start for r in ranges})
    assert ranges[-1].end == len(blob)


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.integers(0, 5000), max_size=400), parts=st.integers(1, 6),
       capacity=st.integers(1, 64), seed=st.integers(0, 2**16))
def test_distinct_samples_merge_to_the_one_pass_sample(keys, parts, capacity, seed) -> None:
    hashers = [get_hasher("xxh3"), get_hasher("crc32")]
    values = [str(k).encode() for k in keys]

    def sample(vals):
        s = DistinctSample(hashers, capacity)
        if vals:
            s.add(lambda h: h.many(vals))
        return s

    whole = sample(values)
    rnd = random.Random(seed)
    cuts = sorted(rnd.randint(0, len(values)) for _ in range(parts - 1))
    merged = sample([])
    for a, b in zip([0, *cuts], [*cuts, len(values)]):
        merged.merge(*sample(values[a:b]).state())
    assert np.array_equal(merged.refs, whole.refs)
    for name in whole.digests:
        assert np.array_equal(merged.digests[name], whole.digests[name])
    assert merged.sampled == whole.sampled and merged.estimate() == whole.estimate()


# -- bad input: one line each ------------------------------------------------------------------
def _err(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_bad_split_input(logs, capsys, tmp_path) -> None:
    base = ["run", "--strategy", "jump", "--nodes", "4", "--no-json", "-q"]
    assert "no file matches the pattern" in _err(
        capsys, [*base, "--trace", str(tmp_path / "none-*.log"), "--workers", "1"])
    assert "drop --cache" in _err(
        capsys, [*base, "--trace", logs["plain"], "--workers", "1", "--cache", "LRU:size=10"])
    assert "--keys" in _err(capsys, [*base, "--trace", logs["plain"], "--workers", "1",
                                     "--keys", "100"])
    assert "split trace files" in _err(capsys, [*base, "--trace", "zipf", "--workers", "1"])
    assert "standard input" in _err(capsys, [*base, "--trace", "-", "--workers", "1"])
    assert "--split-size" in _err(capsys, [*base, "--trace", logs["plain"],
                                           "--split-size", "lots"])
    assert "sessions rebuilt" in _err(capsys, [*base, "--trace", logs["plain"], "--workers",
                                               "1", "--route-on", "session"])
    assert "--workers sizes a local cluster" in _err(
        capsys, [*base, "--trace", logs["plain"], "--workers", "2", "--scheduler",
                 "tcp://127.0.0.1:9"])


def test_glob_files_must_share_a_format(logs, tmp_path) -> None:
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "a.log").write_bytes(Path(logs["plain"]).read_bytes()[:5000])
    (d / "b.csv").write_text("key\n" + "\n".join(f"k{i}" for i in range(50)) + "\n")
    with pytest.raises(RoutebenchError, match="must share a format"):
        open_trace(str(d / "*"))


def test_one_member_gzip_is_one_task(tmp_path, logs) -> None:
    p = tmp_path / "one.log.gz"
    p.write_bytes(gzip.compress(Path(logs["plain"]).read_bytes()))
    ranges = plan_ranges([str(p)], 1000)
    assert len(ranges) == 1 and ranges[0].end == os.path.getsize(p)
