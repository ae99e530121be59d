"""Load over time from the backends' own counters: simulate's imbalance and utilisation.

Each backend appends, for every request, the moment it arrived, took a worker
slot and was answered (``_backend.LoadLog``: ``time.monotonic()``, one clock for
every process on the machine). From them, the outstanding requests (arrived,
not answered) and busy workers of every backend are step functions of time;
the figures are simulate's, computed the same way:

- ``outstanding_imbalance_avg`` / ``_worst``: per window, the integral of the
  largest outstanding count over the backends up divided by the integral of
  their mean; time-averaged over the windows, and the worst window;
  ``outstanding_imbalance_overall``: the sums of the two over all windows;
- ``utilization``: busy worker-seconds over worker-seconds of every backend that
  was ever up; per backend ``utilization`` and ``mean_outstanding``.

A crashed backend's requests in flight end with it (its counts drop to 0 at the
crash); a backend is up from the start (or its join or recovery) to its crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_log", "load_metrics", "LOG_DTYPE"]

#: one record of a backend's load log: code (0 arrive, 1 start, 2 end) and time
LOG_DTYPE = np.dtype([("c", "u1"), ("t", "<f8")])
ARRIVE, START, END = 0, 1, 2


def read_log(path: Path) -> np.ndarray:
    """A backend's records (a torn last record, from a SIGKILL mid-write, is dropped)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return np.zeros(0, dtype=LOG_DTYPE)
    n = len(raw) // LOG_DTYPE.itemsize
    return np.frombuffer(raw[: n * LOG_DTYPE.itemsize], dtype=LOG_DTYPE)


def _levels(t: np.ndarray, delta: np.ndarray, downs: Sequence[float],
            grid: np.ndarray) -> np.ndarray:
    """A counter's level from each time of ``grid`` on: the sum of ``delta`` up to it,
    reset to 0 at each time in ``downs`` (what was in flight ends with a crash)."""
    order = np.argsort(t, kind="stable")
    t, delta = t[order], delta[order].astype(np.float64)
    extra_t: list[float] = []
    extra_d: list[float] = []
    for tc in sorted(downs):
        level = delta[t <= tc].sum() + sum(d for x, d in zip(extra_t, extra_d) if x <= tc)
        if level != 0:
            extra_t.append(tc)
            extra_d.append(-level)
    if extra_t:
        t = np.concatenate([t, np.asarray(extra_t)])
        delta = np.concatenate([delta, np.asarray(extra_d)])
        order = np.argsort(t, kind="stable")
        t, delta = t[order], delta[order]
    cum = np.concatenate([[0.0], np.cumsum(delta)])
    return np.maximum(cum[np.searchsorted(t, grid, side="right")], 0.0)


def load_metrics(logs: Mapping[int, np.ndarray], t0: float, nb: int, workers: int,
                 up: Sequence[Sequence[tuple[float, float]]], span: float,
                 windows: int = 100) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's imbalance and utilisation metrics, and per backend its utilisation and
    mean outstanding; ``logs`` by backend index, ``t0`` the clients' start
    (``time.monotonic()``), ``up[b]`` the (start, end) intervals backend b was up in
    (seconds since ``t0``), ``span`` the measured time."""
    empty: dict[str, Any] = {"outstanding_imbalance_avg": None,
                             "outstanding_imbalance_worst": None,
                             "outstanding_imbalance_overall": None, "outstanding_peak": None,
                             "utilization": None}
    rows: list[dict[str, Any]] = [{"utilization": None, "mean_outstanding": None}
                                  for _ in range(nb)]
    if span <= 0:
        return empty, rows
    win = span / windows
    edges = [np.arange(windows + 1) * win]
    for b in range(nb):
        edges.append(np.clip(np.asarray([x for iv in up[b] for x in iv], dtype=np.float64),
                             0.0, span))
        if b in logs and logs[b].size:
            edges.append(np.clip(logs[b]["t"] - t0, 0.0, span))
    grid = np.unique(np.concatenate(edges))
    grid = grid[(grid >= 0) & (grid <= span)]
    dt = np.diff(grid)
    start = grid[:-1]
    mid = start + dt / 2
    out = np.zeros((start.size, nb))
    busy = np.zeros((start.size, nb))
    is_up = np.zeros((start.size, nb), dtype=bool)
    for b in range(nb):
        for a, z in up[b]:
            is_up[:, b] |= (mid >= a) & (mid < z)
        log = logs.get(b)
        if log is None or not log.size:
            continue
        t = log["t"] - t0
        c = log["c"]
        downs = [z for _, z in up[b] if z < span]
        d_out = np.where(c == ARRIVE, 1, np.where(c == END, -1, 0))
        d_busy = np.where(c == START, 1, np.where(c == END, -1, 0))
        out[:, b] = _levels(t, d_out, downs, start)
        busy[:, b] = _levels(t, d_busy, downs, start)
    n_up = is_up.sum(axis=1)
    any_up = n_up > 0
    mx = np.where(is_up, out, 0.0).max(axis=1)
    mean = np.where(any_up, np.where(is_up, out, 0.0).sum(axis=1) / np.maximum(n_up, 1), 0.0)
    w = np.minimum((mid / win).astype(np.int64), windows - 1)
    int_max = np.bincount(w, weights=mx * dt * any_up, minlength=windows)
    int_mean = np.bincount(w, weights=mean * dt, minlength=windows)
    length = np.bincount(w, weights=dt, minlength=windows)
    ok = int_mean > 0
    m = dict(empty)
    if ok.any():
        r = int_max[ok] / int_mean[ok]
        m["outstanding_imbalance_avg"] = float((r * length[ok]).sum() / length[ok].sum())
        m["outstanding_imbalance_worst"] = float(r.max())
        m["outstanding_imbalance_overall"] = float(int_max.sum() / int_mean.sum())
    m["outstanding_peak"] = int(out.max()) if out.size else 0
    busy_int = (busy * dt[:, None]).sum(axis=0)
    out_int = (out * dt[:, None]).sum(axis=0)
    ever = [b for b in range(nb) if up[b]]
    if ever:
        m["utilization"] = float(busy_int[ever].sum() / (workers * span * len(ever)))
    for b in range(nb):
        rows[b] = {"utilization": float(busy_int[b] / (workers * span)),
                   "mean_outstanding": float(out_int[b] / span)}
    return m, rows
