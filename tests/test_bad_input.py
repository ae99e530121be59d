"""Bad input through the Python API: one clear RoutebenchError naming what is wrong."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest

import routebench
from routebench import RoutebenchError
from routebench._params import parse_spec
from routebench.datasets import open_trace
from routebench.registry import BrokenPlugin, Registry
from routebench.reports import sim_table, write_json
from routebench.strategies import Param, set_memory_limit
from routebench.strategies.modulo import ModuloStrategy


def test_node_counts_of_any_integer_type_and_no_floats():
    assert len(routebench.create("ring", np.int64(3)).nodes) == 3
    with pytest.raises(RoutebenchError, match="expected a whole node count or node names, got 3.5"):
        routebench.create("ring", 3.5)
    with pytest.raises(RoutebenchError, match="expected a node count, node names"):
        routebench.create("ring", object())


@pytest.mark.parametrize(("name", "nodes", "params"), [
    ("ring", 2, {"vnodes": 1_000_000_000}),  # 32 bytes a point (no Python lists above 2M)
    ("maglev", 3, {"M": 1_000_000_007}),
    ("ring", {"a": 1e8, "b": 1.0}, {}),
])
def test_runaway_structures_are_refused_with_their_estimate(name, nodes, params):
    with pytest.raises(RoutebenchError, match=r"would take about [\d,.]+ GiB of memory, above "
                                              r"the limit .*--max-memory"):
        routebench.create(name, nodes, **params)


def test_the_memory_limit_can_be_set_and_applies_to_add():
    try:
        set_memory_limit(200_000)  # bytes: ~1,100 ring points
        s = routebench.create("ring", 5, vnodes=160)
        with pytest.raises(RoutebenchError, match="above the limit of 195.3 KiB"):
            for i in range(5):
                s.add(f"extra-{i}")
        assert len(s.nodes) == len(set(s.nodes))  # a refused add leaves the ring as it was
        assert s.lookup("k") in s.nodes
    finally:
        set_memory_limit(None)


def test_a_parameter_given_twice_is_refused():
    with pytest.raises(RoutebenchError, match="parameter 'vnodes' is given twice"):
        parse_spec("ring:vnodes=200,vnodes=300")


def test_lookup_many_refuses_2d_and_negative_digests():
    s = routebench.create("jump", 4)
    with pytest.raises(RoutebenchError, match="1-D array.*shape \\(2, 2\\)"):
        s.lookup_many(np.zeros((2, 2), dtype=np.uint64))
    with pytest.raises(RoutebenchError, match="negative values"):
        s.lookup_many(np.array([1, -5], dtype=np.int64))
    assert s.lookup_many(np.array([1, 5], dtype=np.int64)).tolist() == \
        s.lookup_many(np.array([1, 5], dtype=np.uint64)).tolist()


class _OwnParams(ModuloStrategy):
    name = "own-params-test"
    params = (Param("spread", 2, "a parameter, and no hash="),)


def test_a_plugin_without_the_hash_param_hashes_with_xxh3():
    s = _OwnParams(["a", "b", "c"])
    ref = routebench.create("modulo", ["a", "b", "c"])
    assert [s.lookup(f"k{i}") for i in range(50)] == [ref.lookup(f"k{i}") for i in range(50)]


def test_a_broken_plugin_is_named_as_failed_not_unknown():
    r = Registry(load_entry_points=False)
    r.broken.append(BrokenPlugin("sparkly", "sparkly:Ring from package sparkles",
                                 "ImportError: no module named sparkles"))
    with pytest.raises(RoutebenchError, match="strategy 'sparkly' failed to load .*ImportError"):
        r.get("sparkly")


def test_reports_are_written_with_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_json(tmp_path / "r.json", {"schema": "routebench/2", "results": []})
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644
    assert json.loads(p.read_text())["results"] == []


def test_latency_cells_have_no_trailing_point():
    m = {"latency_p50": 0.376, "latency_p99": 0.462, "latency_p999": 0.653, "failed": 0}
    table = sim_table([{"label": "p2c", "strategy": "p2c", "metrics": m}], "plain")
    assert "376 / 462 / 653" in table and "376." not in table


def test_a_truncated_gzip_says_how_far_it_was_good(tmp_path):
    lines = b"".join(b'10.0.%d.%d - - [17/May/2015:10:05:03 +0000] "GET /p%d HTTP/1.1" 200 5 '
                     b'"-" "ua"\n' % (i // 250, i % 250, i) for i in range(200_000))
    data = gzip.compress(lines)
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RoutebenchError, match=r"after [1-9][\d,]* good decompressed bytes"):
        for _ in open_trace(str(path)):
            pass




def test_requests_without_the_session_cookie_are_rejected_not_routed_on_empty(tmp_path):
    lines = []
    for i in range(10):
        cookie = f"sid=s{i % 3}; x=1" if i % 2 == 0 else "x=1"
        lines.append(f'10.0.0.{i} - - [17/May/2015:10:05:0{i} +0000] "GET /p{i} HTTP/1.1" 200 5 '
                     f'"-" "ua" "{cookie}"')
    path = tmp_path / "c.log"
    path.write_text("\n".join(lines) + "\n")
    fmt = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
           '"$http_referer" "$http_user_agent" "$http_cookie"')
    t = open_trace(str(path), log_format=fmt, session="cookie:sid", route_on="session")
    keys = [k for c in t for k in c.columns["session"].keys()]
    assert b"" not in keys and len(keys) == 5
    assert t.stats.rejected == 5 and "no cookie 'sid' to route on" in t.stats.summary()


def test_binary_input_is_shown_escaped_once_and_short(tmp_path):
    path = tmp_path / "bin.log"
    path.write_bytes(b"\x00\x01\x02garbage\xff\xfe" * 200 + b"\n")
    with pytest.raises(RoutebenchError) as err:
        open_trace(str(path))
    msg = str(err.value)
    assert "\\\\x" not in msg  # one backslash per escape, not two
    assert len(msg) < 400


def test_a_very_long_first_line_asks_for_the_format_and_then_reads(tmp_path):
    line = (b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /' + b"a" * (2 << 20)
            + b' HTTP/1.1" 200 5 "-" "ua"\n')
    path = tmp_path / "long.log"
    path.write_bytes(line * 2)
    with pytest.raises(RoutebenchError, match="first line is longer than 1 MiB.*--trace-format"):
        open_trace(str(path))
    t = open_trace(str(path), format="access-log", log_format="combined")
    assert sum(len(c) for c in t) == 2 and t.stats.rejected == 0


def test_convert_says_when_it_escapes_bytes(tmp_path, capsys):
    from routebench.cli import main

    src = tmp_path / "in.log"
    src.write_bytes(b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /caf\xe9 HTTP/1.1" 200 5 '
                    b'"-" "ua"\n')
    assert main(["trace", "convert", str(src), "-o", str(tmp_path / "out.csv"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "3 values were not UTF-8" in err
    header = (tmp_path / "out.csv").read_text().splitlines()[0]
    assert "client24" not in header  # the file's own columns, not derived ones


def test_a_trace_with_one_routing_key_is_an_error_naming_the_column(tmp_path, capsys):
    from routebench.cli import main

    path = tmp_path / "blocks.csv"
    path.write_text("".join(f"1,{i * 7},8\n" for i in range(300)))
    rc = main(["run", "--trace", str(path), "--columns", "key=0", "--strategy", "jump",
               "--nodes", "5", "--no-json", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "every request has the same 'key' value" in err
    assert "--columns key=N" in err
    # through the API too: one user behind one address is one key
    from routebench.harness.static import StrategySpec, run_static

    nat = open_trace("nat:users=1,groups=1", 500, route_on="client")
    with pytest.raises(RoutebenchError, match="same 'client' value.*route on a column"):
        run_static([StrategySpec("jump")], [3], [nat])
