"""Small real reports for the compare, gate and report tests (built once per session)."""

from __future__ import annotations

import copy
import functools
from typing import Any

from routebench.datasets import open_trace
from routebench.harness.static import StrategySpec, run_static
from routebench.records import make_report


@functools.cache
def _run(strategies: tuple[str, ...], nodes: tuple[int, ...], traces: tuple[str, ...],
         keys: int, seed: int, tag: int) -> dict[str, Any]:
    from routebench._params import parse_spec

    specs = [StrategySpec(*parse_spec(s)) for s in strategies]
    results = run_static(specs, nodes, [open_trace(t, keys, seed) for t in traces], seed=seed)
    return make_report("run", results, {"seed": seed, "nodes": list(nodes)},
                       ["routebench", "run", "--keys", str(keys)])


def small_run(strategies: tuple[str, ...] = ("ring", "jump", "maglev", "modulo"),
              nodes: tuple[int, ...] = (5, 20), traces: tuple[str, ...] = ("uniform",),
              keys: int = 4000, seed: int = 0, tag: int = 0) -> dict[str, Any]:
    """A fresh copy of a small `routebench run` report (cached by arguments; another
    ``tag`` runs again)."""
    return copy.deepcopy(_run(strategies, nodes, traces, keys, seed, tag))


def scaled(report: dict[str, Any], n: int) -> dict[str, Any]:
    """``report`` with its results repeated up to ``n``, each a distinct scenario (node count)."""
    out = copy.deepcopy(report)
    base = report["results"]
    out["results"] = []
    for i in range(n):
        r = copy.deepcopy(base[i % len(base)])
        r["nodes"] = 1000 + i
        out["results"].append(r)
    return out
