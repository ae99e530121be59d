"""Confidence intervals for paired timing samples (base and candidate, round by round).

Rounds are interleaved, so round i of the base and round i of the candidate
ran under the same machine conditions: the per-round ratio cancels most of
what a busy machine adds, and a bootstrap over those ratios gives an interval
that a noisy CI runner does not push around.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "paired_ratio", "paired_difference", "geometric_center"]

#: bootstrap resamples; the intervals are seeded, so a comparison is reproducible
RESAMPLES = 4999
#: share of rounds cut from each end before averaging: a round that a neighbour's
#: burst of work hit on one side only is an outlier, not information
TRIM = 0.2


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval and the sample size behind it."""

    estimate: float
    low: float
    high: float
    confidence: float
    n: int

    def __str__(self) -> str:
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}]"


def _paired(base: Sequence[float],
            new: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples differ in shape: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep], keep


def _center(x: np.ndarray, axis: int = -1) -> np.ndarray:
    from scipy.stats import trim_mean

    return trim_mean(x, TRIM, axis=axis)


def _bootstrap_center(x: np.ndarray, confidence: float, seed: int) -> tuple[float, float, float]:
    """The trimmed mean of ``x`` and a BCa bootstrap interval for it (scipy.stats)."""
    if x.size < 3 or float(np.ptp(x)) == 0.0:
        # too few rounds to resample, or every round identical: no spread to report
        m = float(np.mean(x)) if x.size else float("nan")
        return m, m, m
    from scipy.stats import bootstrap  # scipy.stats costs ~1 s to import: only when needed

    m = float(_center(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate-resample warnings fall back below
        res = bootstrap((x,), _center, confidence_level=confidence, n_resamples=RESAMPLES,
                        method="BCa", vectorized=True, rng=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):  # BCa can fail on odd data
        q = (1 - confidence) / 2
        rng = np.random.default_rng(seed)
        centers = _center(rng.choice(x, size=(RESAMPLES, x.size), replace=True), axis=1)
        lo, hi = (float(v) for v in np.quantile(centers, [q, 1 - q]))
    return m, lo, hi


def _two_level(x: np.ndarray, blocks: np.ndarray, confidence: float,
               seed: int) -> tuple[float, float, float]:
    """Blocks (worker pairs) resampled, then rounds within each: a clustered bootstrap.

    scipy's bootstrap resamples independent observations; rounds timed by the
    same pair of worker processes share that pair's layout luck, so the pairs
    are the independent units here. The estimate is the mean over blocks of
    each block's trimmed mean; the interval is the percentile interval of
    that estimate over resamples (conservative: both levels vary).
    """
    groups = [x[blocks == b] for b in np.unique(blocks)]
    if len(groups) < 2:
        return _bootstrap_center(x, confidence, seed)
    point = float(np.mean([_center(g) for g in groups]))
    if float(np.ptp(x)) == 0.0:
        return point, point, point
    rng = np.random.default_rng(seed)
    g = len(groups)
    # for every group, enough resampled centres for every slot of every replicate
    centres = np.stack([
        _center(grp[rng.integers(grp.size, size=(RESAMPLES * g, grp.size))], axis=1)
        for grp in groups
    ])
    pick = rng.integers(g, size=(RESAMPLES, g))
    slot = np.arange(RESAMPLES * g).reshape(RESAMPLES, g)
    est = centres[pick, slot].mean(axis=1)
    q = (1 - confidence) / 2
    lo, hi = np.quantile(est, [q, 1 - q])
    return point, float(lo), float(hi)


def _interval(x: np.ndarray, blocks: np.ndarray | None, confidence: float,
              seed: int) -> tuple[float, float, float]:
    if blocks is None:
        return _bootstrap_center(x, confidence, seed)
    return _two_level(x, blocks, confidence, seed)


def _blocks(blocks: Sequence[int] | None, keep: np.ndarray) -> np.ndarray | None:
    if blocks is None:
        return None
    b = np.asarray(blocks)
    if b.shape != keep.shape:
        raise ValueError(f"{b.size} block labels for {keep.size} rounds")
    return b[keep]


def paired_ratio(base: Sequence[float], new: Sequence[float], confidence: float = 0.95,
                 seed: int = 0, blocks: Sequence[int] | None = None) -> Interval:
    """new/base: the per-round ratios' trimmed geometric mean, with a bootstrap interval.

    The logs of the rounds' ratios are averaged (1.25 and 0.8 weigh the same)
    after cutting the ``TRIM`` share at each end, so the interval is of the
    typical ratio rather than of one lucky or unlucky round. ``blocks`` labels
    each round with the worker pair that timed it (see ``_two_level``).
    """
    a, b, keep = _paired(base, new)
    ok = (a > 0) & (b > 0)
    keep[keep] = ok
    a, b = a[ok], b[ok]
    if a.size == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, confidence, 0)
    m, lo, hi = _interval(np.log(b / a), _blocks(blocks, keep), confidence, seed)
    return Interval(math.exp(m), math.exp(lo), math.exp(hi), confidence, int(a.size))


def geometric_center(x: Sequence[float]) -> float:
    """The ``TRIM``-trimmed geometric mean of positive samples (NaN when there are none)."""
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    return float(math.exp(_center(np.log(v)))) if v.size else float("nan")


def paired_difference(base: Sequence[float], new: Sequence[float], confidence: float = 0.95,
                      seed: int = 0, blocks: Sequence[int] | None = None) -> Interval:
    """new - base: the per-round differences' trimmed mean, with a bootstrap interval."""
    a, b, keep = _paired(base, new)
    if a.size == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, confidence, 0)
    m, lo, hi = _interval(b - a, _blocks(blocks, keep), confidence, seed)
    return Interval(m, lo, hi, confidence, int(a.size))
