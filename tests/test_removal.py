"""Mass removal and restore (issue 13): ``run_removals`` against a replay done by hand
through the public API, the properties every consistent strategy must show, and bad
input refused with one line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import routebench
from routebench import RoutebenchError
from routebench.datasets import open_trace
from routebench.harness import metrics
from routebench.harness.static import parse_removals, run_removals
from routebench.harness.static.removal import ORDERS, removal_order
from routebench.records import METRICS, RECORD_KINDS, RemovalResult, Report, make_report
from routebench.reports.table import FORMATS, removal_table
from routebench.testing import tolerance_for

#: few keys a node here, on purpose: the warning that balance is then noise is tested once
pytestmark = pytest.mark.filterwarnings("ignore:mass removal at N=:RuntimeWarning")

ANY = ("anchor", "dx", "memento")
LAST = ("jump", "jumpback", "flip", "binomial", "power")
FAST = {"time_lookups": False, "resize_repeats": 3}
KEYS = np.random.default_rng(5).integers(0, 2**64 - 1, 3000, dtype=np.uint64, endpoint=True)

shares = st.lists(st.floats(0.01, 0.5), min_size=1, max_size=3, unique=True)
quick = settings(derandomize=True, deadline=None)  # examples: the profile's (tests/conftest.py)


def replay(name: str, n: int, steps: list[dict], order: str, seed: int = 0) -> list[np.ndarray]:
    """The node (as its index at the start) of each key after each step, done by hand:
    ``remove``/``add`` one at a time, ``nodes`` read after every step."""
    s = routebench.registry.create_keyed(name, n)
    names = list(s.nodes)
    start = {x: i for i, x in enumerate(names)}
    leaving = removal_order(n, order, seed).tolist()

    def owners() -> np.ndarray:
        now = np.array([start[x] for x in s.nodes])
        return now[s.lookup_many(KEYS)]

    out, done = [], 0
    for step in steps:
        k = step["removed_nodes"]
        for i in leaving[done:k]:  # removals
            s.remove(names[i])
        for i in reversed(leaving[k:done]):  # restores, in reverse
            s.add(names[i])
        done = k
        out.append(owners())
    return out


def check_against_replay(r: RemovalResult, order: str) -> None:
    got = replay(r.strategy, r.nodes or 0, r.steps, order)
    a0 = got[0]
    n = r.nodes or 0
    for step, now in zip(r.steps, got):
        moved = now != a0
        assert step["keys_moved"] == pytest.approx(moved.mean())
        counts = np.bincount(now, minlength=n)
        present = n - step["removed_nodes"]
        top = np.sort(counts)[::-1][:present]
        assert step["peak_to_mean"] == pytest.approx(top[0] / (KEYS.size / present))
        assert step["survivors"] == present


# -- the engine's numbers are those of the same changes made by hand -----------------------
@pytest.mark.parametrize("name", ["memento", "anchor", "dx", "maglev", "ring", "jumpback",
                                  "modulo"])
@pytest.mark.parametrize("order", ORDERS)
def test_steps_equal_a_replay_by_hand(name, order):
    (r,) = run_removals([name], [60], KEYS, (0.1, 0.3, 0.5), order, **FAST)
    assert [x["step"] for x in r.steps] == ["start", "10% out", "30% out", "50% out",
                                            "back: 30% out", "back: 10% out", "back: all in"]
    assert [x["removed_nodes"] for x in r.steps] == [0, 6, 18, 30, 18, 6, 0]
    ran = "lifo" if name in LAST else order
    assert r.order == ran and (r.note != "") == (ran != order)
    check_against_replay(r, ran)


# -- properties --------------------------------------------------------------------------
# The properties themselves (keys move only off removed nodes; restoring in reverse brings
# them home) are routebench.testing.check_strategy's "removals" check, run on every keyed
# strategy in tests/test_conformance.py. Here: the engine reports what each class declares.
CONSISTENT = [x for x in routebench.strategy_names("keyed")
              if routebench.registry.get(x).consistent]


@quick
@given(name=st.sampled_from(CONSISTENT), n=st.integers(2, 150), fractions=shares,
       order=st.sampled_from(ORDERS), seed=st.integers(0, 3))
def test_engine_reports_what_each_strategy_declares(name, n, fractions, order, seed):
    cls = routebench.registry.get(name)
    tol = tolerance_for(cls)
    (r,) = run_removals([name], [n], KEYS, fractions, order, seed=seed, **FAST)
    assert r.order == (order if cls.removable == "any" else "lifo")
    exact = tol.mass_moves(weighted=False) == 0
    removing = [x for x in r.steps if x["phase"] == "remove"]
    restores = [x for x in r.steps if x["phase"] == "restore"]
    assert restores[-1]["step"] == "back: all in" and restores[-1]["removed_nodes"] == 0
    if exact:  # keys move only off removed nodes
        for step in removing:
            assert step["moved_between_survivors"] == 0
            assert step["keys_moved"] == pytest.approx(step["keys_moved_min"])
        assert r.metrics["keys_moved_excess_max"] == pytest.approx(0)
    if tol.restore == 1.0:  # the restored state is the state before: back all in, the start
        assert r.metrics["restored_share_final"] == 1.0
        if exact:  # and every state on the way back is the start's, less the nodes out
            assert r.metrics["moved_between_survivors_max"] == 0
            for step in restores:
                assert step["restored_share"] == pytest.approx(1 - step["keys_moved_min"])


@quick
@given(name=st.sampled_from(LAST), n=st.integers(2, 150), fractions=shares,
       order=st.sampled_from(ORDERS))
def test_last_only_strategies_run_lifo(name, n, fractions, order):
    (r,) = run_removals([name], [n], KEYS, fractions, order, **FAST)
    assert r.order == "lifo"
    if order == "lifo":
        assert r.note == ""
    else:
        assert r.note == f"{name} removes only its last node: ran lifo, not {order}"
    for step in r.steps:  # lifo: the highest buckets leave, and only their keys move
        assert step["moved_between_survivors"] == 0
    assert r.metrics["restored_share_final"] == 1.0
    if order != "lifo":
        with pytest.raises(RoutebenchError, match="can only remove its last node"):
            run_removals([name], [n], KEYS, fractions, order, strict=True, **FAST)
    else:
        run_removals([name], [n], KEYS, fractions, order, strict=True, **FAST)


@quick
@given(name=st.sampled_from(("modulo", "maglev", "multiprobe", "ring", *ANY, *LAST)),
       n=st.integers(2, 120), fractions=shares, order=st.sampled_from(ORDERS))
def test_moved_share_is_at_least_the_minimum(name, n, fractions, order):
    (r,) = run_removals([name], [n], KEYS, fractions, order, **FAST)
    for step in r.steps:
        assert step["keys_moved"] >= step["keys_moved_min"] - 1e-12
        # the minimum is the share of keys whose node is out
        out = step["removed_nodes"]
        assert step["survivors"] == n - out
        assert step["keys_moved"] == pytest.approx(
            step["keys_moved_min"] + step["moved_between_survivors_share"])
    removing = [x["removed_nodes"] for x in r.steps if x["phase"] == "remove"]
    expect = sorted(max(1, math.floor(f * n + 0.5)) for f in fractions)
    assert removing == expect


# -- noise floors, resize cost, memory, records -----------------------------------------------
def test_noise_floors_resize_cost_and_memory():
    bars = []

    class Bar:
        def __init__(self, stage, total):
            self.done, self.closed = 0, False
            bars.append((stage, total, self))

        def update(self, n):
            self.done += n

        def close(self):
            self.closed = True

    with pytest.warns(RuntimeWarning, match=r"N=500: 40.0 keys a node; .* peak/mean 1.51"):
        rs = run_removals(["memento", "jump"], [500], None, (0.2,), "random", keys=20_000,
                          resize_repeats=7, progress=Bar)
    ((stage, total, bar),) = bars
    assert (stage, total, bar.done, bar.closed) == ("mass removal", 2, 2, True)
    memento, jump = rs
    for r in rs:
        assert r.metrics["sample_keys"] == 20_000
        assert r.metrics["resize_repeats"] == 7
        assert r.metrics["remove_ns_median"] > 0 and r.metrics["add_ns_median"] > 0
        for step in r.steps:
            m = step["survivors"]
            assert step["cov_random"] == pytest.approx(math.sqrt((m - 1) / 20_000))
            assert step["peak_to_mean_random"] == pytest.approx(
                metrics.peak_to_mean_random(20_000, [1.0] * m))
            assert step["batch_ns_per_key"] > 0
    # memory where the strategy reports it: memento's grows with its removals
    assert jump.steps[0]["memory_bytes"] is None and jump.metrics["memory_bytes_max"] is None
    start, out = memento.steps[0], memento.steps[1]
    assert out["memory_state_bytes"] > start["memory_state_bytes"]
    assert memento.metrics["memory_bytes_max"] >= out["memory_bytes"]


def test_records_round_trip_and_tables():
    rs = run_removals(["memento", "maglev", "jumpback"], [40], KEYS, ("10%", "25%"), "fifo",
                      **FAST)
    assert RECORD_KINDS["removal"] is RemovalResult
    data = Report.from_json(json.loads(json.dumps(make_report("removal", rs, {}))))
    assert Report.records(data) == rs
    assert rs[0].scenario == rs[2].scenario == "remove 10%,25% fifo; 3,000 given digests"
    assert rs[2].order == "lifo" and rs[0].workload == rs[0].scenario
    for name in ("keys_moved", "keys_moved_min", "moved_between_survivors", "restored_share",
                 "cov_random", "remove_ns_median", "add_ns_median"):
        assert name in METRICS
    assert METRICS["remove_ns_median"].timing and not METRICS["keys_moved"].timing
    for fmt in FORMATS:
        out = removal_table(data["results"], fmt)
        assert "memento" in out and "back: all in" in out
    table = removal_table(rs)
    assert "lifo (last only)" in table and "fifo" in table
    csv = removal_table(rs, "csv").splitlines()
    assert len(csv) == 1 + 3 * 5  # start, 2 removals, 2 restores a record
    assert "moved_between_survivors" in csv[0].split(",")


def test_keys_from_a_trace_hashed_as_each_strategy_hashes():
    trace = open_trace("zipf", requests=20_000, seed=3)
    rs = run_removals(["ring", "ketama", "anchor"], [30], trace, (0.2,), keys=5000, **FAST)
    distinct = {r.metrics["sample_keys"] for r in rs}
    assert len(distinct) == 1 and 0 < distinct.pop() <= 5000
    assert rs[0].keys.startswith("zipf")
    for r in rs:  # ketama routes on 32-bit md5 digests: the trace's keys, hashed its way
        if r.strategy != "ketama":
            assert r.metrics["moved_between_survivors_max"] == 0
        assert r.steps[0]["peak_to_mean"] < 3


def test_parse_removals():
    assert parse_removals("10%,30%,50%") == (0.1, 0.3, 0.5)
    assert parse_removals("5, 10") == (5, 10)
    assert parse_removals("0.25") == (0.25,)
    assert parse_removals([0.1, 3]) == (0.1, 3)
    for bad in ("", "10%,", "ten", "0%", "-5%", "150%", "0"):
        with pytest.raises(RoutebenchError) as e:
            parse_removals(bad)
        assert "\n" not in str(e.value)


# -- bad input: one line, before any work ------------------------------------------------------
@pytest.mark.parametrize("kwargs,message", [
    ({"fractions": (1.0,)}, "removing 100% of 10 nodes leaves none"),
    ({"fractions": (0.0,)}, "removal share 0: not in (0%, 100%)"),
    ({"fractions": (1.5,)}, "removal share 1.5: not in (0%, 100%)"),
    ({"fractions": (float("nan"),)}, "not in (0%, 100%)"),
    ({"fractions": ("ten",)}, "removal 'ten': expected a share"),
    ({"fractions": (0.99,)}, "removing 99% of 10 nodes removes 10 and leaves none"),
    ({"fractions": (12,)}, "removing 12 nodes of 10: there are only 10"),
    ({"fractions": (10,)}, "removing 10 of 10 nodes leaves none"),
    ({"fractions": ()}, "no removals to run"),
    ({"fractions": (0.1, "10%")}, "removal 10% is given twice"),
    ({"order": "middle"}, "removal order 'middle': expected one of random, fifo, lifo"),
    ({"specs": ["nope"]}, "unknown strategy 'nope'"),
    ({"specs": ["least-connections"]}, "is a balancer"),
    ({"specs": ["ring:vnodes=-1"]}, "vnodes"),
    ({"node_counts": [0]}, "node count 0"),
    ({"keys": 0, "digests": None}, "keys 0: need a whole number of at least 1"),
    ({"digests": np.array([-1, 2])}, "digests: expected a non-empty 1-D array of uint64"),
    ({"node_counts": [1]}, "removing 10% of 1 node removes 1 and leaves none"),
    ({"specs": ["jump"], "order": "fifo", "strict": True},
     "'jump' can only remove its last node: removal order 'fifo' is not possible"),
])
def test_bad_input_is_one_line(kwargs, message):
    args = {"specs": ["memento", "ring"], "node_counts": [10], "fractions": (0.1,),
            "order": "random", **kwargs}
    digests = args.pop("digests", KEYS)
    with pytest.raises(RoutebenchError) as e:
        run_removals(args.pop("specs"), args.pop("node_counts"), digests, **args, **FAST)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_input_is_refused_before_any_strategy_is_built(monkeypatch):
    built = []
    orig = routebench.registry.create_keyed
    monkeypatch.setattr(routebench.registry, "create_keyed",
                        lambda *a, **k: built.append(a) or orig(*a, **k))
    with pytest.raises(RoutebenchError):  # the second node count removes every node
        run_removals(["memento"], [100, 2], KEYS, (0.8,), **FAST)
    with pytest.raises(RoutebenchError):
        run_removals(["memento", "jump"], [10], KEYS, (0.1,), "random", strict=True, **FAST)
    assert built == []
    run_removals(["memento"], [10], KEYS, (0.1,), **FAST)
    assert built == [("memento", 10)]  # (the patch does see the strategies built)


def test_run_remove_on_the_command_line(capsys, tmp_path):
    import json

    from routebench.cli import main

    out = tmp_path / "rm.json"
    rc = main(["run", "--remove", "10%,30%", "--removal-order", "fifo", "--strategy", "memento",
               "--strategy", "jumpback", "--nodes", "50", "--keys", "20k", "--json", str(out),
               "-q"])
    text, err = capsys.readouterr()
    assert rc == 0, err
    assert "back: all in" in text and "lifo (last only)" in text
    data = json.loads(out.read_text())
    assert {r["record"] for r in data["results"]} == {"removal"}
    assert main(["run", "--remove", "100%", "--strategy", "jump", "--nodes", "10"]) == 2


@pytest.mark.parametrize("argv,message", [
    (["--remove", "12", "--strategy", "anchor", "--nodes", "10"],
     "removing 12 nodes of 10: there are only 10"),
    (["--remove", "10%", "--strategy", "anchor:capacity=5", "--nodes", "10"],
     "'anchor' capacity=5 is below the 10 nodes"),
    (["--strategy", "anchor:capacity=5", "--nodes", "10", "--trace", "uniform"],
     "'anchor' capacity=5 is below the 10 nodes"),
    (["--remove", "10%", "--strategy", "dx:capacity=100", "--nodes", "500"],
     "'dx' capacity=100 is below the 500 nodes"),
    (["--remove", "10%", "--strategy", "jumpback", "--nodes", "3000000000"],
     "'jumpback' supports at most 2,147,483,647 nodes (hash4j's getBucket takes an int"),
    (["--strategy", "jump", "--nodes", "2147483648", "--trace", "uniform"],
     "'jump' supports at most 2,147,483,647 nodes (Lamping & Veach's reference takes an "
     "int32 bucket count); got 2,147,483,648"),
    (["--remove", "10%", "--strategy", "memento", "--nodes", "1000000000"],
     "1,000,000,000 nodes for 'memento': their names alone would take about"),
    (["--strategy", "ring", "--nodes", "1000000000", "--trace", "uniform"],
     "their names alone would take about 149.0 GiB of memory"),
])
def test_bad_input_on_the_command_line_is_one_line_and_exit_2(capsys, argv, message):
    from routebench.cli import main

    assert main(["run", *argv, "--keys", "1000", "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_removal_order_a_strategy_cannot_do():
    # through the API with strict=True: refused; on the command line (not strict) it runs
    # lifo and says so (test_run_remove_on_the_command_line)
    with pytest.raises(RoutebenchError) as e:
        run_removals(["flip"], [10], KEYS, (0.2,), "random", strict=True, **FAST)
    assert str(e.value) == ("'flip' can only remove its last node: removal order 'random' is "
                            "not possible for it; use lifo (or run without strict to have it "
                            "run lifo)")
    s = routebench.create("power", 5)
    with pytest.raises(RoutebenchError, match=r"'power' can only remove its last node"):
        s.remove("node-2")


@pytest.mark.parametrize("name", ANY)
def test_memory_returns_to_the_start_after_a_full_restore(name):
    # issue 13: the join-order bookkeeping doubled on the first restore (departed nodes'
    # sequence numbers kept their room); it now reuses it. What may stay: a removal stack
    # grown past its first 16 slots keeps 64 (anchor, dx: 192 bytes).
    (r,) = run_removals([name], [2000], KEYS, (0.1, 0.3, 0.5), "random", **FAST)
    start, out, back = r.steps[0], r.steps[3], r.steps[-1]
    assert out["step"] == "50% out" and back["step"] == "back: all in"
    assert out["memory_state_bytes"] > start["memory_state_bytes"]  # grows with removals
    assert back["memory_bytes"] - start["memory_bytes"] <= 192
    assert back["memory_state_bytes"] - start["memory_state_bytes"] <= 192
    s = routebench.create(name, 2000)  # and removing and restoring again does not grow it
    gone = [f"node-{i}" for i in np.random.default_rng(1).permutation(2000)[:1000]]
    sizes = []
    for _ in range(3):
        for x in gone:
            s.remove(x)
        for x in reversed(gone):
            s.add(x)
        s.lookup_many(KEYS[:10])
        sizes.append(sum(s.memory().values()))
    assert sizes[0] == sizes[1] == sizes[2]
