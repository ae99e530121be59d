"""Running a sweep's cells: serially in this process, or on Dask (an embedded
``LocalCluster`` or a running scheduler), results streaming to JSON and CSV.

The JSON report is rewritten atomically as cells finish (at most once a
second, and at the end or on an interrupt), records in grid order; the CSV
gets a line a cell as it finishes and is rewritten in grid order at the end.
``--resume`` keeps a report's finished cells and runs the others.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from ..._errors import RoutebenchError
from ...records import METRICS, make_report
from .._dask import CONNECT_TIMEOUT, SCHEDULER_ENV, default_workers
from .._dask import dask_client as _client
from ._cells import failed_cell, run_cell, warm
from ._config import Cell, SweepConfig

__all__ = ["SweepOutcome", "run_sweep", "resume_state", "csv_columns", "estimate",
           "default_workers", "CONNECT_TIMEOUT", "SCHEDULER_ENV"]  # the last two: .._dask

_FIXED = ("cell", "status", "engine", "strategy", "label", "params", "nodes", "trace",
          "replicate", "seed", "worker", "elapsed_s", "attempts", "error")


@dataclass
class SweepOutcome:
    """What a sweep did: its records in grid order, and counts."""

    records: list[dict[str, Any]]
    ran: int
    kept: int
    failed: int
    elapsed_s: float
    where: str
    report: dict[str, Any] = field(default_factory=dict)


def csv_columns(engine: str) -> list[str]:
    """The CSV's columns: the cell's fields, then the engine's metrics in catalogue order."""
    names = list(METRICS)
    if engine == "run":
        metrics = names[:names.index("round_robin_requests")]
        metrics.remove("lookup_ns_p99")  # retired
    else:
        metrics = names[names.index("wall_s"):]
    return [*_FIXED, *metrics]


def _csv_row(r: dict[str, Any], columns: Sequence[str]) -> list[Any]:
    import json

    m = r.get("metrics") or {}
    out = []
    for c in columns:
        if c in _FIXED:
            v = r.get(c)
            out.append(json.dumps(v, sort_keys=True) if c == "params" else
                       "" if v is None else v)
        else:
            v = m.get(c)
            out.append("" if v is None else v)
    return out


class _Writer:
    """The report and CSV on disk, kept up to date as cells finish."""

    def __init__(self, cfg: SweepConfig, json_path: str | None, csv_path: str | None,
                 config: dict[str, Any], kept: dict[str, dict[str, Any]]) -> None:
        from ...environment import environment

        self.cfg = cfg
        self.json_path = json_path
        self.csv_path = csv_path
        self.config = config
        self.done: dict[str, dict[str, Any]] = dict(kept)
        self.env = environment()
        self.order = {c.id: i for i, c in enumerate(cfg.cells)}
        self.columns = csv_columns(cfg.engine)
        self.last = 0.0
        self._csv: Any = None
        if csv_path:
            self._write_csv()
            self._csv = open(csv_path, "a", newline="", encoding="utf-8")  # noqa: SIM115

    def records(self) -> list[dict[str, Any]]:
        return sorted(self.done.values(), key=lambda r: self.order.get(r["cell"], 1 << 30))

    def add(self, rec: dict[str, Any]) -> None:
        self.done[rec["cell"]] = rec
        if self._csv is not None:
            csv.writer(self._csv).writerow(_csv_row(rec, self.columns))
            self._csv.flush()
        if time.monotonic() - self.last >= 1.0:
            self.write_json()

    def report(self) -> dict[str, Any]:
        recs = self.records()
        config = {**self.config,
                  "cells_done": sum(r.get("status") == "ok" for r in recs),
                  "cells_failed": sum(r.get("status") != "ok" for r in recs),
                  "timed_on_workers": sorted({str(r.get("worker")) for r in recs})}
        return make_report("sweep", recs, config, env=self.env)

    def write_json(self) -> None:
        self.last = time.monotonic()
        if self.json_path:
            from ...reports import write_json

            write_json(self.json_path, self.report())

    def _write_csv(self) -> None:
        from ...reports.json_report import write_atomic

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(self.columns)
        for r in self.records():
            w.writerow(_csv_row(r, self.columns))
        assert self.csv_path is not None
        write_atomic(self.csv_path, buf.getvalue(), "CSV")

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
            self._csv = None
            self._write_csv()
        self.write_json()


def resume_state(cfg: SweepConfig, json_path: str | None,
                 resume: bool) -> dict[str, dict[str, Any]]:
    """The finished cells to keep from an earlier run of this sweep (``--resume``)."""
    if not json_path or not os.path.exists(json_path):
        return {}
    if not resume:
        raise RoutebenchError(f"{json_path!r} already exists: give --resume to run only the "
                              "cells it lacks, --overwrite to start again, or another --json")
    from ...reports import read_json

    data = read_json(json_path)
    if data.get("kind") != "sweep":
        raise RoutebenchError(f"--resume: {json_path!r} is a {data.get('kind')!r} report, "
                              "not a sweep")
    digest = (data.get("config") or {}).get("digest")
    if digest != cfg.digest:
        raise RoutebenchError(f"--resume: {json_path!r} holds another sweep (its cells or "
                              "options differ from this file's); give another --json")
    ids = {c.id for c in cfg.cells}
    return {r["cell"]: r for r in data["results"]
            if r.get("status") == "ok" and r.get("cell") in ids}


def run_sweep(cfg: SweepConfig, *, workers: int = 1, scheduler: str | None = None,
              json_path: str | None = None, csv_path: str | None = None,
              resume: bool = False, progress: bool = False,
              note: Callable[[str], Any] | None = None) -> SweepOutcome:
    """Run the cells ``json_path`` lacks (all of them without ``resume``).

    ``scheduler``: a running Dask scheduler's address; else ``workers`` > 1 starts a
    ``LocalCluster`` of that many single-threaded processes and 1 runs in this process.
    """
    kept = resume_state(cfg, json_path, resume)
    todo = [c for c in cfg.cells if c.id not in kept]
    where = (f"Dask scheduler {scheduler}" if scheduler else
             "this process" if workers <= 1 else
             f"a local Dask cluster of {workers} worker processes")
    config = {"sweep": cfg.path, "digest": cfg.digest, "engine": cfg.engine, "seed": cfg.seed,
              "cells": len(cfg.cells), "grid": _grid(cfg), "options": cfg.cells[0].options,
              "ran_on": where}
    writer = _Writer(cfg, json_path, csv_path, config, kept)
    bar = _bar(len(todo), progress)
    failed = 0
    t0 = time.perf_counter()

    def finished(rec: dict[str, Any]) -> None:
        nonlocal failed
        writer.add(rec)
        if rec.get("status") != "ok":
            failed += 1
            if note is not None:
                note(f"cell {rec['cell']} failed: {rec.get('error')}")
        if bar is not None:
            bar.set_postfix_str(f"failed={failed}", refresh=False)
            bar.update(1)

    try:
        if todo:
            if scheduler is None and workers <= 1:
                for cell in todo:
                    finished(run_cell(cell))
            else:
                with _client(workers, scheduler) as client:
                    _run_dask(client, cfg, todo, finished)
    finally:
        if bar is not None:
            bar.close()
        writer.config["elapsed_s"] = round(time.perf_counter() - t0, 3)
        writer.close()
    return SweepOutcome(writer.records(), len(todo), len(kept), failed,
                        time.perf_counter() - t0, where, writer.report())


def _grid(cfg: SweepConfig) -> dict[str, Any]:
    def uniq(xs: Any) -> list[Any]:
        return list(dict.fromkeys(xs))

    return {"strategies": uniq(c.spec for c in cfg.cells),
            "nodes": uniq(c.nodes for c in cfg.cells),
            "traces": uniq(c.workload for c in cfg.cells),
            "seeds": uniq(c.replicate for c in cfg.cells)}


def _bar(total: int, show: bool) -> Any:
    if not show:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc="sweep", unit=" cell", leave=False, file=sys.stderr,
                disable=None, dynamic_ncols=True)


def _run_dask(client: Any, cfg: SweepConfig, todo: list[Cell],
              finished: Callable[[dict[str, Any]], None]) -> None:
    """Submit every cell; collect them as they finish; a cell whose worker died is run once
    more, then recorded as failed."""
    from distributed import as_completed

    specs = list(dict.fromkeys((c.engine, c.strategy, tuple(sorted(c.params.items())))
                               for c in todo))
    client.run(warm, [(e, n, dict(p)) for e, n, p in specs])  # numba caches, once a worker
    cells: dict[str, Cell] = {}
    attempts: dict[str, int] = {}
    futures = []
    for i, cell in enumerate(todo):
        key = f"routebench-cell-{cfg.digest}-{i}"
        cells[key] = cell
        attempts[key] = 1
        futures.append(client.submit(run_cell, cell, key=key, pure=False))
    ac = as_completed(futures, loop=client.loop)
    for fut in ac:
        key = fut.key
        cell = cells[key]
        try:
            rec = fut.result()
        except Exception as exc:  # the worker died (KilledWorker), or the cell was lost
            if attempts[key] < 2:
                new = f"{key}-retry"
                cells[new], attempts[new] = cell, attempts[key] + 1
                ac.add(client.submit(run_cell, cell, key=new, pure=False))
                continue
            rec = failed_cell(cell, f"{type(exc).__name__}: {exc}", attempts=attempts[key])
        else:
            rec["attempts"] = attempts[key]
        with suppress(Exception):
            fut.release()
        finished(rec)


def estimate(cfg: SweepConfig, cells: Sequence[Cell], workers: int) -> tuple[float, float]:
    """CPU-seconds the cells take, and the wall time on ``workers`` (a rough model)."""
    total = sum(cfg.cost_s(c) for c in cells)
    longest = max((cfg.cost_s(c) for c in cells), default=0.0)
    start = 0.0 if workers <= 1 else 3.0  # a LocalCluster's start and warm-up
    return total, start + max(total / max(workers, 1), longest)
