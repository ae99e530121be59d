"""Timing a run against a base version: the flow behind ``routebench ab`` and
``routebench run --baseline BASE.json --base-python PY``.

Both time the same strategies in two interpreters, interleaved (``ABPlan.run``);
``run`` then gives the rounds to its own report and the baseline's
(``time_against_baseline``), so ``compare`` can gate on timing as well as on
quality.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .abtiming import ABResult, PythonArm, interleaved_timing

__all__ = ["ABPlan", "DEFAULT_PROCESSES", "baseline_metrics", "time_against_baseline",
           "worker_pairs"]

#: fresh worker pairs the rounds are spread over, unless there are fewer rounds
DEFAULT_PROCESSES = 4


def worker_pairs(rounds: int, processes: int | None = None) -> int:
    """The worker pairs for ``rounds``: ``processes`` if given, else 4 or ``rounds`` if fewer."""
    return min(DEFAULT_PROCESSES, rounds) if processes is None else processes


@dataclass(frozen=True)
class ABPlan:
    """What to time, how often, and in which two interpreters (base first)."""

    specs: Sequence[Any]
    nodes: Sequence[int]
    base_python: str
    new_python: str = field(default_factory=lambda: sys.executable)
    rounds: int = 20
    processes: int | None = None
    keys: int = 20_000
    reps: int = 5
    seed: int = 0

    @property
    def pairs(self) -> int:
        return worker_pairs(self.rounds, self.processes)

    def run(self, progress: Callable[[str, int], Any] | None = None) -> ABResult:
        """Both sides' timings as reports (kind ``"ab"``), from ``interleaved_timing``."""
        return interleaved_timing(
            self.specs, self.nodes, PythonArm(self.base_python, "base"),
            PythonArm(self.new_python, "new"), rounds=self.rounds, processes=self.pairs,
            keys=self.keys, reps=self.reps, seed=self.seed, progress=progress)


def baseline_metrics(base: Mapping[str, Any]) -> set[str]:
    """Every metric a baseline report's results carry: what a gate on it may name."""
    return {m for r in base["results"] for m in (r.get("metrics") or {})}


def time_against_baseline(base: Mapping[str, Any], new: Mapping[str, Any], plan: ABPlan,
                          progress: Callable[[str, int], Any] | None = None) -> ABResult:
    """Time ``plan`` on both interpreters and give the rounds to both reports' results.

    ``base`` is the baseline report, ``new`` this run's: their records get the
    interleaved rounds of the matching timed records (by strategy, parameters
    and node count), which ``compare`` gates timing metrics on.
    """
    from ...records import attach_timing

    ab = plan.run(progress)
    attach_timing(base["results"], ab.base["results"])
    attach_timing(new["results"], ab.new["results"])
    return ab
