"""Interleaved A/B timing: base and candidate timed in one job, round by round.

Timings taken in two CI jobs (or two runs minutes apart) differ by more than
most regressions: other jobs share the machine, clocks boost and throttle. So
both versions are timed here, in the same job, alternating: in round r the
base and the candidate time scenario i back to back (base first when r + i is
even, candidate first otherwise). Each round's new/base ratio then sees the
same machine conditions, and ``routebench compare`` gates on a bootstrap
interval of those ratios.

An *arm* is one side. ``PythonArm`` runs a worker in another interpreter, for
example the virtualenv of the main branch::

    python -m venv /tmp/base && /tmp/base/bin/pip install 'routebench @ git+...@main'
    routebench ab --base-python /tmp/base/bin/python --strategy ring --nodes 100

``LocalArm`` times in this process with any factory, e.g. two implementations
registered under different names, or a test's deliberately slowed wrapper.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Protocol

from ..._errors import RoutebenchError
from ..._params import parse_spec
from . import _abworker

__all__ = ["Arm", "PythonArm", "LocalArm", "ABResult", "interleaved_timing", "DEFAULT_METRICS"]

DEFAULT_METRICS = _abworker.METRICS


class _Channel(Protocol):
    def send(self, msg: dict[str, Any]) -> None: ...
    def receive(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class Arm(Protocol):
    """One side of an A/B session: something that can start timing workers."""

    @property
    def label(self) -> str: ...

    def start(self) -> _Channel: ...


@dataclass(frozen=True)
class PythonArm:
    """Time in another interpreter: ``python`` is that environment's executable.

    ``preload`` names modules the worker imports first (a plugin that
    registers strategies without an entry point); ``env`` adds environment
    variables. The worker uses only routebench's public API, so the base may
    be any installed routebench version.
    """

    python: str
    label: str = ""
    preload: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def start(self) -> _Channel:
        return _Process(self)


@dataclass(frozen=True)
class LocalArm:
    """Time in this process; ``create(name, nodes, **params)`` builds a strategy."""

    create: Callable[..., Any] | None = None
    label: str = "local"

    def start(self) -> _Channel:
        return _Local(_abworker.Bench(self.create))


class _Local:
    def __init__(self, bench: _abworker.Bench) -> None:
        self.bench = bench
        self.pending: dict[str, Any] | None = None

    def send(self, msg: dict[str, Any]) -> None:
        self.pending = msg

    def receive(self) -> dict[str, Any]:
        msg, self.pending = self.pending, None
        assert msg is not None
        try:
            if msg["op"] == "setup":
                return self.bench.setup(msg)
            return {"ok": True, "sample": self.bench.time(int(msg["index"]))}
        except (RoutebenchError, TypeError) as exc:  # TypeError: the worker's "not keyed"
            return {"error": str(exc)}

    def close(self) -> None:
        pass


class _Process:
    def __init__(self, arm: PythonArm) -> None:
        self.arm = arm
        exe = arm.python
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise RoutebenchError(f"python {exe!r}: not an executable file; give the "
                                  "interpreter of the environment to time, e.g. .venv/bin/python")
        source = Path(_abworker.__file__).read_text(encoding="utf-8")
        env = {**os.environ, **dict(arm.env)}
        env.pop("PYTHONSTARTUP", None)
        self.proc = subprocess.Popen(
            [exe, "-P", "-c", source], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, bufsize=1,
        )

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # receive() reports the worker's end

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            line = self.proc.stdout.readline()
        except OSError:
            line = ""
        if not line:
            err = self._stderr_tail()
            raise RoutebenchError(f"{self.arm.label or 'worker'} ({self.arm.python}): the timing "
                                  f"worker exited{': ' + err if err else ''}")
        return json.loads(line)

    def _stderr_tail(self) -> str:
        try:
            self.proc.wait(timeout=5)
            assert self.proc.stderr is not None
            lines = [ln for ln in self.proc.stderr.read().splitlines() if ln.strip()]
        except (subprocess.TimeoutExpired, OSError, ValueError):
            return ""
        return lines[-1].strip() if lines else ""

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()
        finally:
            for f in (self.proc.stdout, self.proc.stderr):
                if f is not None:
                    f.close()


@dataclass
class ABResult:
    """The two sides as routebench reports (kind ``"ab"``), ready to write or compare."""

    base: dict[str, Any]
    new: dict[str, Any]
    session: str


def _scenarios(specs: Iterable[Any], node_counts: Iterable[int]) -> list[dict[str, Any]]:
    out = []
    counts = list(node_counts)
    if not counts or any(n < 1 for n in counts):
        raise RoutebenchError(f"node counts {counts}: need at least one count, each >= 1")
    for spec in specs:
        if isinstance(spec, str):
            name, params = parse_spec(spec)
        elif hasattr(spec, "name"):
            name, params = spec.name, dict(spec.params)
        else:
            name, params = spec[0], dict(spec[1])
        for n in counts:
            out.append({"strategy": name, "params": params, "nodes": int(n)})
    if not out:
        raise RoutebenchError("no strategies to time")
    return out


def _request(ch: _Channel, side: str, msg: dict[str, Any]) -> dict[str, Any]:
    ch.send(msg)
    reply = ch.receive()
    if "error" in reply:
        raise RoutebenchError(f"{side} side: {reply['error']}")
    return reply


def interleaved_timing(specs: Iterable[Any], node_counts: Iterable[int], base: Arm, new: Arm,
                       *, rounds: int = 20, processes: int = 4, keys: int = 20_000,
                       scalar_keys: int = 500, reps: int = 5, seed: int = 0, pin: bool = True,
                       metrics: Sequence[str] = DEFAULT_METRICS,
                       progress: Callable[[str, int], Any] | None = None,
                       command: list[str] | None = None) -> ABResult:
    """Time every strategy spec at every node count on both arms, interleaved.

    ``specs`` are ``"name:param=value"`` strings, ``StrategySpec`` objects or
    ``(name, params)`` pairs. In each round, each scenario is measured
    ``reps`` times on each arm, alternating arm by arm (A B B A A ...), and
    the round's value is each arm's best: one batch ``lookup_many`` over
    ``keys`` digests (ns/key), the median scalar ``lookup`` over
    ``scalar_keys`` keys (ns, timer overhead subtracted), one build (ms).
    Alternating within the round keeps both arms' measurements milliseconds
    apart, so a neighbour's burst of work hits both.

    A process's memory layout alone can make its Python paths steadily a few
    percent faster or slower than an identical process's, so the rounds are
    spread over ``processes`` pairs of fresh workers, taking turns (round r
    on pair r mod P): ``compare`` then counts the worker pair as a source of
    variance (a two-level bootstrap) instead of mistaking it for a change.

    The result records carry every round's value and block under
    ``"timing"``, which ``compare`` gates on.
    """
    _check_settings(rounds, processes, reps, metrics)
    scenarios = _scenarios(specs, node_counts)
    setup = {"op": "setup", "scenarios": scenarios, "keys": int(keys),
             "scalar_keys": int(scalar_keys), "min_ns": 1e6, "seed": int(seed),
             "metrics": list(metrics), "cpu": None}
    if pin and hasattr(os, "sched_getaffinity"):
        setup["cpu"] = max(os.sched_getaffinity(0))
    arms = {"base": base, "new": new}
    workers: dict[str, list[_Channel]] = {"base": [], "new": []}
    samples: _Samples = {side: [{m: [] for m in metrics} for _ in scenarios] for side in arms}
    # round r on worker pair r mod P: a burst of load on the machine lands on every
    # pair alike instead of on one pair's block of rounds
    blocks = [r % processes for r in range(rounds)]
    bar = None
    try:
        infos = _start(arms, setup, processes, workers)
        bar = progress("interleaved timing", rounds * len(scenarios)) if progress else None
        for r in range(rounds):
            pair = {side: workers[side][blocks[r]] for side in arms}
            for i in range(len(scenarios)):
                _time_scenario(pair, r, i, reps, samples)
                if bar:
                    bar.update(1)
    finally:
        if bar:
            bar.close()
        for chs in workers.values():
            for ch in chs:
                ch.close()

    session = uuid.uuid4().hex
    config = {"rounds": rounds, "processes": processes, "keys": keys,
              "scalar_keys": scalar_keys, "reps": reps, "seed": seed, "metrics": list(metrics),
              "session": session,
              "interleaving": "each round: every scenario measured reps times per arm, "
                              "alternating A B B A ...; each block of rounds on a fresh "
                              "worker pair"}
    from ...environment import environment

    timing = {"session": session, "blocks": blocks}
    machine = environment()
    reports = {side: _report(side, arm, scenarios, samples[side], infos[side], timing,
                             {**config, "arm": side}, command, machine)
               for side, arm in arms.items()}
    return ABResult(reports["base"], reports["new"], session)


#: per side, per scenario, per metric: the value of each round
_Samples = dict[str, list[dict[str, list[float]]]]


def _check_settings(rounds: int, processes: int, reps: int, metrics: Sequence[str]) -> None:
    if rounds < 3:
        raise RoutebenchError(f"rounds {rounds}: need at least 3 for an interval (20 is typical)")
    if not 1 <= processes <= rounds:
        raise RoutebenchError(f"processes {processes}: need 1 to rounds ({rounds}) worker pairs")
    if reps < 1:
        raise RoutebenchError(f"reps {reps}: need at least 1 measurement a round")
    unknown = [m for m in metrics if m not in DEFAULT_METRICS]
    if unknown:
        raise RoutebenchError(f"cannot time metric {unknown[0]!r}; timed: "
                              + ", ".join(DEFAULT_METRICS))


def _start(arms: Mapping[str, Arm], setup: Mapping[str, Any], processes: int,
           workers: dict[str, list[_Channel]]) -> dict[str, dict[str, Any]]:
    """Start ``processes`` workers an arm (into ``workers``, closed by the caller), all at
    once so their imports and builds overlap; each side's first setup reply."""
    for side, arm in arms.items():
        msg = {**setup, "preload": list(getattr(arm, "preload", ()))}
        for _ in range(processes):
            ch = arm.start()
            workers[side].append(ch)
            ch.send(msg)
    infos: dict[str, dict[str, Any]] = {}
    for side in arms:
        for ch in workers[side]:
            reply = ch.receive()
            if "error" in reply:
                raise RoutebenchError(f"{side} side: {reply['error']}")
            infos.setdefault(side, reply)
    return infos


def _time_scenario(pair: Mapping[str, _Channel], r: int, i: int, reps: int,
                   samples: _Samples) -> None:
    """Round ``r`` of scenario ``i``: ``reps`` measurements a side, alternating, best kept."""
    order = ("base", "new") if (r + i) % 2 == 0 else ("new", "base")
    best: dict[str, dict[str, float]] = {"base": {}, "new": {}}
    for k in range(reps):  # A B B A A B ...: who goes first alternates
        for side in (order if k % 2 == 0 else order[::-1]):
            reply = _request(pair[side], side, {"op": "time", "index": i})
            b = best[side]
            for m, v in reply["sample"].items():
                b[m] = min(b.get(m, float("inf")), float(v))
    for side in pair:
        for m, v in best[side].items():
            samples[side][i][m].append(v)


def _report(side: str, arm: Arm, scenarios: Sequence[Mapping[str, Any]],
            samples: list[dict[str, list[float]]], info: Mapping[str, Any],
            timing: Mapping[str, Any], config: Mapping[str, Any],
            command: list[str] | None, machine: Mapping[str, Any]) -> dict[str, Any]:
    """One side's timings as a report of kind ``"ab"``."""
    from ...records import make_report

    keys, seed = config["keys"], config["seed"]
    records = []
    for i, sc in enumerate(scenarios):
        per_round = samples[i]
        records.append({
            "strategy": sc["strategy"],
            "params": info["params"][i],
            "trace": "uniform",
            "trace_params": {"name": "uniform", "keys": keys, "seed": seed},
            "route_on": "key",
            "nodes": sc["nodes"],
            "metrics": {m: float(median(v)) for m, v in per_round.items()},
            "timing": {"session": timing["session"], "arm": side, "blocks": timing["blocks"],
                       "rounds": per_round},
        })
    env = {k: machine[k] for k in ("platform", "machine", "cpu", "cpu_count")}
    env.update(info["environment"])
    env["arm"] = side
    env["arm_label"] = getattr(arm, "label", "") or side
    return make_report("ab", records, dict(config), command, env)
