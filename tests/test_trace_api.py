"""``open_trace`` as the one entry point, and replaying a file equals replaying its source."""

from __future__ import annotations

import numpy as np
import pytest
from _trace_helpers import combined, write

from routebench import RoutebenchError
from routebench.datasets import FileTrace, is_file_spec, open_trace
from routebench.datasets.writers import write_trace
from routebench.harness.static import StrategySpec, run_static


def test_open_trace_tells_names_from_files(tmp_path):
    path = write(tmp_path, "a.log", combined() + "\n")
    assert is_file_spec(str(path)) and is_file_spec("-") and is_file_spec("x/y.csv")
    assert not is_file_spec("zipf:s=1.2") and not is_file_spec("access-log")
    assert isinstance(open_trace(str(path)), FileTrace)
    assert open_trace("zipf", 10).requests == 10
    with pytest.raises(RoutebenchError, match="apply to trace files only"):
        open_trace("zipf", 10, log_format="combined")
    # route_on is every trace's: synthetic ones take it too, and refuse a column they lack
    assert open_trace("nat", 10, route_on="user").route_on == "user"
    with pytest.raises(RoutebenchError, match="route_on 'path': trace 'zipf' has columns key"):
        open_trace("zipf", 10, route_on="path")
    with pytest.raises(RoutebenchError, match="unknown trace 'zipff'"):
        open_trace("zipff")


def test_file_trace_has_times_and_columns(tmp_path):
    lines = [combined(ip=f"10.0.0.{i}") for i in range(3)]
    t = open_trace(str(write(tmp_path, "a.log", "\n".join(lines))))
    assert t.requests is None  # unknown until read
    chunks = list(t.chunks())
    assert t.requests == 3
    c = chunks[0]
    assert c.ts is not None and c.ts.dtype == np.float64
    assert {"client", "client24", "user", "path"} <= set(c.columns)
    assert t.describe()["read"]["used"] == 3


def test_replaying_a_written_trace_equals_replaying_its_source(tmp_path):
    src = open_trace("access-log:users=2000,groups=300,50", 30_000, 3)
    path = tmp_path / "a.log.zst"
    write_trace(src, str(path), "access-log")
    specs = [StrategySpec("jump"), StrategySpec("maglev")]
    mem = [r.to_json() for r in run_static(specs, [7], [open_trace("access-log:users=2000,groups=300,50", 30_000, 3)])]
    rec = [r.to_json() for r in run_static(specs, [7], [open_trace(str(path))])]
    for a, b in zip(mem, rec):
        assert a["counts"] == b["counts"]
        for k in ("remap_join", "remap_leave", "nat_peak_to_mean_ip", "distinct_keys"):
            assert a["metrics"][k] == b["metrics"][k]
    # routing on the user: the file's user is client IP + user agent, so it can only be
    # coarser than the generator's user ids (several users share an IP and an agent)
    rec = [r.to_json() for r in run_static(specs, [7], [open_trace(str(path), route_on="user")])]
    assert rec[0]["metrics"]["distinct_keys"] <= 2000


def test_every_trace_is_iterable_and_abstract_base_is_honest(tmp_path):
    from routebench.datasets import SyntheticTrace, Trace

    with pytest.raises(TypeError):
        Trace()  # type: ignore[abstract]
    syn = open_trace("nat", 1_000)
    path = write(tmp_path, "a.log", combined() + "\n")
    rec = open_trace(str(path))
    assert isinstance(syn, SyntheticTrace) and not syn.recorded and syn.stats is None
    assert isinstance(rec, Trace) and rec.recorded and rec.stats is None  # not read yet
    assert sum(len(c) for c in syn) == 1_000  # iterating a trace yields its chunks
    assert sum(len(c) for c in rec) == 1 and rec.stats is not None and rec.requests == 1
    assert syn.with_columns("user").columns == ("client", "user")
    with pytest.raises(RoutebenchError, match="column 'ua': trace 'nat' has columns client, user"):
        syn.with_columns("ua")
