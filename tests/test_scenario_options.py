"""The one table of ``Scenario`` fields and ``routebench simulate`` options: options read into a
scenario, the scenario written back as options (``scenario_flags``) and read again is the same
scenario, and ``Scenario.describe`` records every field the table names."""

from __future__ import annotations

import shlex
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from routebench import RoutebenchError
from routebench.cli import build_parser, main
from routebench.harness.sim import PRESETS, Event, Scenario, scenario_flags
from routebench.harness.sim.scenarios import OPTIONS, scenario_fields


def _options(*argv: str) -> dict:
    return vars(build_parser().parse_args(["simulate", *argv]))


def _scenario(*argv: str) -> tuple[Scenario, list[str], int]:
    opts = _options(*argv)
    f, balancers = scenario_fields(opts)
    return Scenario(**f), balancers, opts["seed"]


def _in_effect(sc: Scenario) -> Scenario:
    """A session rate overrides the load: a load kept beside it (a preset's) is not in effect."""
    return sc.replace(load=None) if sc.session_rate is not None else sc


def _round_trip(sc: Scenario, balancers: list[str], seed: int) -> None:
    flags = scenario_flags(sc, balancers, seed)
    again, balancers_again, seed_again = _scenario(*shlex.split(flags))
    assert _in_effect(again) == _in_effect(sc), flags
    assert (balancers_again, seed_again) == (balancers, seed)
    assert scenario_flags(again, balancers_again, seed_again) == flags


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips(name: str) -> None:
    sc, balancers, _ = _scenario("--scenario", name)
    assert balancers == list(PRESETS[name].balancers)
    _round_trip(sc, balancers, 3)


@pytest.mark.parametrize("argv", [
    ["--scenario", "slow-backend", "--session-rate", "40"],  # over a preset's load
    ["--backends", "5", "--speed", "2=0.5", "--speed", "backend-4=3", "--workers", "2"],
    ["--requests", "0", "--duration", "2m", "--warmup", "500ms", "--window", "1.5"],
    ["--duration", "30"],  # a duration alone: no request limit
    ["--crash", "backend-1@10", "--join", "20", "--join", "x@25", "--drain", "backend-10@30",
     "--recover", "1@40"],
    ["--store", "external", "--store-rtt", "2ms", "--ttl", "1h", "--ip-change-rate", "0.05"],
    ["--nat", "50,20", "--clients", "2000", "--queue-limit", "8", "--no-warm-start"],
    ["--service", "lognormal:mean=0.02,sigma=0.5", "--think", "2",
     "--session-length", "pareto:mean=5,alpha=2", "--keys", "zipf:s=1.2,universe=500"],
    ["--scenario", "crash-failover", "--load", "0.5", "--requests", "1M"],
    ["--balancer", "p2c:d=3", "--balancer", "bounded-load", "--seed", "11"],
])
def test_options_round_trip(argv: list[str]) -> None:
    _round_trip(*_scenario(*argv))


def test_service_times_from_a_file_round_trip(tmp_path: Path) -> None:
    f = tmp_path / "service.txt"
    f.write_text("0.01\n0.02\n0.005\n")
    _round_trip(*_scenario("--service", f"file:{f}"))


def test_every_scenario_field_has_one_option(capsys: pytest.CaptureFixture[str]) -> None:
    names = [o.field for o in OPTIONS]
    assert sorted(names) == sorted(f.name for f in fields(Scenario))
    assert len(set(names)) == len(names)
    flags = [flag for o in OPTIONS for flag in o.flags]
    assert len(set(flags)) == len(flags)
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    help_text = capsys.readouterr().out
    assert all(f"{flag} " in help_text for flag in flags)  # each flag is on the command line


def test_describe_records_every_field_but_the_window() -> None:
    sc = Scenario(events=(Event("crash", "backend-1", 2.0),), speeds={"backend-0": 0.5},
                  nat=(5,), window=2.0)
    d = sc.describe()
    assert list(d) == [f.name for f in fields(Scenario) if f.name != "window"]
    assert d["events"] == ["crash backend-1@2s"] and d["nat"] == [5]
    assert d["service"] == "exp:mean=0.01" and d["keys"] == "zipf:s=1,universe=100000"
    assert d["arrivals"] == "poisson" and d["speeds"] == {"backend-0": 0.5}
    assert Scenario(arrivals=np.array([0.0, 1.0])).describe()["arrivals"] == "array"


def test_fields_from_a_plain_mapping() -> None:
    """No argparse needed: option names as keys, values as typed (or as numbers)."""
    f, balancers = scenario_fields({"backends": 4, "requests": "2k", "crash": ["1@1s"],
                                    "join": ["@2"], "balancer": ["p2c"]})
    sc = Scenario(**f)
    assert (sc.backends, sc.requests, balancers) == (4, 2000, ["p2c"])
    assert sc.events == (Event("crash", "backend-1", 1.0), Event("join", "backend-4", 2.0))


def test_arrival_times_from_a_trace_replace_load_and_end() -> None:
    seen = []

    def times(spec: str) -> np.ndarray:
        seen.append(spec)
        return np.arange(5, dtype=np.float64)

    f, _ = scenario_fields({"trace": "access.log"}, trace_times=times)
    assert seen == ["access.log"] and f["load"] is None and f["requests"] is None
    assert list(f["arrivals"]) == [0, 1, 2, 3, 4]
    f, _ = scenario_fields({"trace": "t", "load": "0.5", "requests": "100"}, trace_times=times)
    assert (f["load"], f["requests"]) == (0.5, 100)
    with pytest.raises(RoutebenchError, match="--trace and --arrivals both"):
        scenario_fields({"trace": "t", "arrivals": "poisson"}, trace_times=times)
