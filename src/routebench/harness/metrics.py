"""Metrics: pure functions from counts to numbers.

Every function here takes per-node counts (or tallies) and returns plain
floats, so results are deterministic for a seed and cheap to recompute.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["balance", "peak_to_mean", "peak_to_mean_random", "remap_ideal_join",
           "remap_ideal_leave", "fraction", "NOISE_FLOOR_WARN"]

#: a random assignment's expected peak/mean above which balance figures are mostly noise
NOISE_FLOOR_WARN = 1.2


def _shares(n: int, weights: Sequence[float] | None) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def balance(counts: Sequence[int] | np.ndarray,
            weights: Sequence[float] | None = None) -> dict[str, float | None]:
    """How evenly requests spread over nodes, against the weight-proportional ideal.

    - ``chi2``, ``chi2_p``: Pearson's chi-square statistic and p-value against
      the expected counts (scipy.stats.chisquare); None with one node.
    - ``peak_to_mean``: the largest count over its expected count (1.0 is perfect).
    - ``cov``: coefficient of variation of count / expected.
    - ``min_share``, ``max_share``: the smallest and largest node's share of requests.
    """
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    if c.size == 0 or total <= 0:
        return dict.fromkeys(("chi2", "chi2_p", "peak_to_mean", "cov", "min_share", "max_share"))
    expected = total * _shares(c.size, weights)
    rel = c / expected
    chi2 = p = None
    if c.size > 1:
        from scipy.stats import chisquare  # imported here: scipy.stats costs ~1 s to import

        res = chisquare(c, expected)
        chi2, p = float(res.statistic), float(res.pvalue)
    return {
        "chi2": chi2,
        "chi2_p": p,
        "peak_to_mean": float(rel.max()),
        "cov": float(rel.std()),
        "min_share": float(c.min() / total),
        "max_share": float(c.max() / total),
    }


def peak_to_mean(counts: Sequence[int] | np.ndarray) -> float | None:
    """The busiest node's load over the mean load; None when there is no load."""
    c = np.asarray(counts, dtype=np.float64)
    if c.size == 0 or c.sum() <= 0:
        return None
    return float(c.max() / c.mean())


def peak_to_mean_random(requests: int, weights: Sequence[float]) -> float | None:
    """The expected ``peak_to_mean`` of a uniformly random assignment: the noise floor.

    ``requests`` requests each go to node i with probability w_i / sum(w); the
    result is E[max_i X_i / (requests * p_i)]. Approximation (stated): the
    counts are taken as independent Poisson variables with means
    ``requests * p_i`` (Poissonisation; for N >= 10 and more than a few
    requests a node it differs from the multinomial by well under 1%). With
    equal weights E[max] = sum_k (1 - F(k)^N) exactly under that model; with
    unequal weights the expectation is integrated over a fine grid.
    """
    from scipy.stats import poisson  # imported here: scipy.stats costs ~1 s to import

    w = np.asarray(weights, dtype=np.float64)
    n = w.size
    if requests <= 0 or n == 0:
        return None
    if n == 1:
        return 1.0
    lam = requests * w / w.sum()
    uniq, mult = np.unique(lam, return_counts=True)
    if uniq.size == 1:
        lo = 0
        hi = int(np.ceil(uniq[0] + 12 * np.sqrt(uniq[0]) + 40))
        k = np.arange(lo, hi + 1)
        log_cdf = np.maximum(poisson.logcdf(k, uniq[0]), -700.0)
        tail = -np.expm1(n * log_cdf)  # 1 - F(k)^N
        return float(tail.sum() / uniq[0])
    # unequal means: P(max X_i/lam_i <= t) = prod_i F_i(floor(t * lam_i))
    tmax = float(np.max(1 + 12 / np.sqrt(uniq) + 40 / uniq))
    t = np.linspace(0.0, tmax, 8001)
    log_all = np.zeros_like(t)
    for lam_i, m in zip(uniq, mult):
        log_all += m * np.maximum(poisson.logcdf(np.floor(t * lam_i), lam_i), -700.0)
    return float(np.trapezoid(-np.expm1(log_all), t))


def remap_ideal_join(weights: Sequence[float], new_weight: float = 1.0) -> float:
    """The least fraction a join must move: the new node's share afterwards (1/(N+1))."""
    return float(new_weight / (float(np.sum(weights)) + new_weight))


def remap_ideal_leave(weights: Sequence[float], index: int) -> float:
    """The least fraction a leave must move: the leaving node's share (1/N)."""
    return float(weights[index] / float(np.sum(weights)))


def survivor_index(before: Sequence[str], after: Sequence[str]) -> np.ndarray:
    """Each of ``after``'s nodes (a strategy after a leave) as its index in ``before``:
    maps the survivors' lookups back onto the old numbering."""
    at = {name: i for i, name in enumerate(before)}
    return np.array([at[name] for name in after], dtype=np.intp)


def fraction(part: int, total: int) -> float | None:
    return None if total <= 0 else float(part / total)
