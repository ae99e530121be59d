"""Hit ratio over time and around events; how evenly misses load the nodes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._errors import RoutebenchError

__all__ = ["HitWindows", "Recovery", "dip_and_recovery", "miss_load_peak_to_mean",
           "window_for"]

DEFAULT_WINDOW = 10_000


def window_for(requests: int | None) -> int:
    """Hit-ratio window: 10,000 requests, fewer on a short run (at least 100 windows,
    and at least 100 requests a window)."""
    if not requests:
        return DEFAULT_WINDOW
    return int(max(100, min(DEFAULT_WINDOW, int(requests) // 100)))


class HitWindows:
    """Hits per fixed window of requests, accumulated chunk by chunk.

    Memory is one count a window (``requests / window`` of them), whatever the
    chunk sizes: windows are cut at request ``0, window, 2*window, ...`` of the
    whole stream, not at chunk boundaries. Given each request's time (``add(hits,
    times)``), a window also keeps the time of its last request (:meth:`ends`).
    """

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if int(window) < 1:
            raise RoutebenchError(f"hit-ratio window {window!r}: expected at least 1 request")
        self.window = int(window)
        self.requests = 0
        self._done: list[np.ndarray] = []  # hit counts of full windows
        self._cur = 0  # hits in the window being filled
        self._ends: list[np.ndarray] = []  # time of the last request of each full window

    def add(self, hits: np.ndarray, times: np.ndarray | None = None) -> None:
        """Append a chunk's hit mask (or 0/1 counts), in request order, and optionally
        each request's time (give times with every chunk or with none)."""
        h = np.asarray(hits)
        n = h.size
        if n == 0:
            return
        w = self.window
        filled = self.requests % w
        if times is not None:  # the requests that close a window: chunk offsets
            last = np.arange(w - filled - 1, n, w)
            if last.size:
                self._ends.append(np.asarray(times, np.float64)[last])
        first = min(n, w - filled)
        self._cur += int(np.count_nonzero(h[:first]))
        self.requests += first
        if self.requests % w == 0:
            self._done.append(np.array([self._cur], dtype=np.int64))
            self._cur = 0
        rest = h[first:]
        full = rest.size // w
        if full:
            counts = np.count_nonzero(rest[: full * w].reshape(full, w), axis=1)
            self._done.append(counts.astype(np.int64))
        tail = rest[full * w:]
        self._cur += int(np.count_nonzero(tail))
        self.requests += rest.size
        if len(self._done) > 64:
            self._done = [np.concatenate(self._done)]
        if len(self._ends) > 64:
            self._ends = [np.concatenate(self._ends)]

    def counts(self) -> np.ndarray:
        """Hits of each full window."""
        return np.concatenate(self._done) if self._done else np.zeros(0, np.int64)

    def ends(self) -> np.ndarray:
        """Time of the last request of each full window (empty when no times were given)."""
        return np.concatenate(self._ends) if self._ends else np.zeros(0, np.float64)

    def ratios(self, partial: bool = False) -> np.ndarray:
        """Hit ratio of each full window (and of the last, partial one if ``partial``)."""
        r = self.counts() / self.window
        left = self.requests % self.window
        if partial and left:
            r = np.append(r, self._cur / left)
        return r


@dataclass(frozen=True)
class Recovery:
    """The hit ratio around an event at request ``event``, in windows of ``window`` requests.

    ``before``: mean hit ratio of the (up to ``baseline``) full windows before the
    event's window. ``dip``: the lowest windowed hit ratio from the event's window
    on, in window ``dip_window`` (index into the ratios). ``recovery_requests``:
    requests from the event to the end of the first window, at or after the dip,
    back within ``tolerance`` of ``before`` (0 when the dip itself is within it);
    None if the series never got back.
    """

    event: int
    window: int
    before: float
    dip: float
    dip_window: int
    recovery_requests: int | None
    tolerance: float

    @property
    def drop(self) -> float:
        """How far the hit ratio fell: ``before - dip`` (0 if it did not)."""
        return max(0.0, self.before - self.dip)

    @property
    def recovered(self) -> bool:
        return self.recovery_requests is not None


def dip_and_recovery(ratios: np.ndarray, window: int, event: int, *, tolerance: float = 0.01,
                     baseline: int = 5, until: int | None = None) -> Recovery:
    """The dip after the event at request ``event`` and the time back to the level before it.

    ``ratios`` are windowed hit ratios (``HitWindows.ratios()``), window ``i``
    covering requests ``[i*window, (i+1)*window)``. ``tolerance`` is absolute:
    0.01 is one percentage point. ``until`` (the request of the next event) ends
    the windows looked at: those from the event's window up to the one before the
    next event's window (at least the event's own); not back by then is not recovered.
    """
    r = np.asarray(ratios, dtype=np.float64)
    w = int(window)
    ev = int(event)
    at = ev // w
    if at < 1:
        raise RoutebenchError(f"event at request {ev:,}: no full window of {w:,} requests before "
                              "it to measure the level from")
    if at >= r.size:
        raise RoutebenchError(f"event at request {ev:,}: no window after it "
                              f"({r.size} windows of {w:,} requests)")
    before = float(r[max(0, at - int(baseline)):at].mean())
    after = r[at:] if until is None else r[at:max(at + 1, int(until) // w)]
    d = int(np.argmin(after))
    dip = float(after[d])
    level = before - tolerance
    rec: int | None
    if dip >= level:
        rec = 0
    else:
        back = np.nonzero(after[d + 1:] >= level)[0]
        rec = None if back.size == 0 else (at + d + 1 + int(back[0]) + 1) * w - ev
    return Recovery(ev, w, before, dip, at + d, rec, tolerance)


def miss_load_peak_to_mean(misses: np.ndarray, active: np.ndarray | None = None) -> float:
    """Misses per node (the load a cache tier passes to the origin): busiest over mean.

    ``active`` selects the nodes to compare (all by default); NaN when there were
    no misses at all.
    """
    m = np.asarray(misses, dtype=np.float64)
    if active is not None:
        m = m[np.asarray(active, dtype=bool)]
    if m.size == 0:
        return math.nan
    mean = m.mean()
    return float(m.max() / mean) if mean > 0 else math.nan
