"""One cell, run where it lands (this process or a Dask worker): a ``SweepCell`` record.

Nothing here depends on where the cell runs except the ``worker`` and
``host`` fields, which say where its timing metrics were measured.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

from ...records import SweepCell
from ._config import Cell

__all__ = ["run_cell", "failed_cell", "warm", "worker_name", "FAULT_ENV"]

#: for tests of failure handling: ``raise:TEXT`` makes cells whose id contains TEXT raise,
#: ``exit:TEXT`` makes their worker process exit (as if it died) mid-cell
FAULT_ENV = "ROUTEBENCH_SWEEP_FAULT"


def worker_name() -> str:
    """The Dask worker this runs on (its address), or ``local`` outside a worker."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def _fault(cell: Cell) -> None:
    how, _, text = os.environ.get(FAULT_ENV, "").partition(":")
    if not text or text not in cell.id:
        return
    if how == "raise":
        raise RuntimeError(f"injected fault in {cell.id}")
    if how == "exit":
        os._exit(17)


def _base(cell: Cell) -> dict[str, Any]:
    return {"cell": cell.id, "engine": cell.engine, "trace": cell.workload,
            "replicate": cell.replicate, "seed": cell.seed, "worker": worker_name(),
            "host": socket.gethostname()}


def run_cell(cell: Cell) -> dict[str, Any]:
    """Run one cell: its record as JSON, ``status`` ``ok`` or ``failed`` with the error.

    An exception in the cell is caught and recorded (a Python error would fail
    again: it is not retried); a worker that dies is the scheduler's to report.
    """
    t0 = time.perf_counter()
    try:
        _fault(cell)
        rec = _run_static(cell) if cell.engine == "run" else _run_sim(cell)
    except Exception as exc:  # recorded, and the sweep goes on
        return failed_cell(cell, f"{type(exc).__name__}: {exc}",
                           time.perf_counter() - t0, traceback.format_exc(limit=6))
    rec["elapsed_s"] = time.perf_counter() - t0
    return SweepCell(**rec).to_json()


def failed_cell(cell: Cell, error: str, elapsed: float = 0.0, detail: str = "",
                attempts: int = 1) -> dict[str, Any]:
    """The record of a cell that did not finish."""
    from ..._params import format_spec

    return SweepCell(strategy=cell.strategy, params=dict(cell.params),
                     label=format_spec(cell.strategy, cell.params), nodes=cell.nodes,
                     metrics={}, status="failed", error=error, detail=detail,
                     attempts=attempts, elapsed_s=elapsed, **_base(cell)).to_json()


def _read_options(cell: Cell) -> dict[str, Any]:
    from ...datasets import is_file_spec

    opts = {("format" if k == "trace_format" else k): v for k, v in cell.options.items()
            if k != "keys"}
    if not is_file_spec(cell.workload):
        return {"route_on": opts["route_on"]} if "route_on" in opts else {}
    return opts


def _run_static(cell: Cell) -> dict[str, Any]:
    from ..._units import parse_count
    from ...datasets import open_trace
    from ..static.runner import StrategySpec, run_static

    keys = cell.options.get("keys")
    requests = parse_count(keys, "keys") if keys is not None else None
    trace = open_trace(cell.workload, requests, cell.seed, **_read_options(cell))
    import warnings

    with warnings.catch_warnings():  # the noise-floor note is the report's to make
        warnings.simplefilter("ignore", RuntimeWarning)
        (r,) = run_static([StrategySpec(cell.strategy, cell.params)], [cell.nodes], [trace],
                          seed=cell.seed)
    from ...registry import registry
    from ._memory import held_bytes

    names = [f"node-{i}" for i in range(cell.nodes)]
    metrics = dict(r.metrics)
    # tracemalloc's process total counts a Dask worker's own threads too: count this
    # thread's build alone, the same here and on any worker
    metrics["memory_bytes"] = held_bytes(
        lambda: registry.create_keyed(cell.strategy, names, **cell.params))
    return {**_base(cell), "strategy": r.strategy, "params": r.params, "label": r.label,
            "nodes": r.nodes, "metrics": metrics, "trace_params": r.trace_params,
            "route_on": r.route_on, "counts": r.counts}


def _run_sim(cell: Cell) -> dict[str, Any]:
    from ..sim.scenarios import scenario_fields
    from ..sim.simulator import Scenario, simulate

    fields, _ = scenario_fields({**cell.options, "scenario": cell.workload,
                                 "backends": str(cell.nodes)})
    sc = Scenario(**fields)
    r = simulate(sc, (cell.strategy, cell.params), seed=cell.seed).record(cell.workload)
    return {**_base(cell), "strategy": r.strategy, "params": r.params, "label": r.label,
            "nodes": r.nodes, "metrics": r.metrics, "trace_params": r.scenario_params,
            "route_on": None, "counts": r.counts}


def warm(specs: list[tuple[str, str, dict[str, Any]]]) -> int:
    """Import routebench and load every strategy's compiled loops in this process (a
    worker's first cell then pays no numba cache load); the count warmed."""
    import numpy as np

    from ...registry import registry

    d = np.arange(1, 257, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for kind, name, params in specs:
        if kind == "run":
            s = registry.create_keyed(name, [f"node-{i}" for i in range(3)], **params)
            s.lookup_many(d)
    return len(specs)
