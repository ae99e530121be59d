"""Numbers shown beside what they mean: the balance noise floor, digits, tables that parse."""

from __future__ import annotations

import numpy as np
import pytest

from routebench.datasets import open_trace
from routebench.harness.metrics import peak_to_mean_random
from routebench.harness.static import StrategySpec, run_static
from routebench.records import make_report
from routebench.reports import run_table


@pytest.mark.parametrize(("requests", "n"), [(200_000, 1000), (20_000, 10), (5_000, 7),
                                             (1_000_000, 100_000)])
def test_peak_to_mean_random_matches_a_monte_carlo(requests, n):
    rng = np.random.default_rng(1)
    draws = 60 if n > 10_000 else 400
    sim = np.mean([rng.multinomial(requests, np.full(n, 1 / n)).max() / (requests / n)
                   for _ in range(draws)])
    assert peak_to_mean_random(requests, [1.0] * n) == pytest.approx(sim, rel=0.01)


def test_peak_to_mean_random_weighted_and_edge_cases():
    rng = np.random.default_rng(2)
    w = np.array([1.0] * 30 + [3.0] * 10)
    p = w / w.sum()
    sim = np.mean([(rng.multinomial(50_000, p) / (50_000 * p)).max() for _ in range(400)])
    assert peak_to_mean_random(50_000, list(w)) == pytest.approx(sim, rel=0.01)
    assert peak_to_mean_random(100, [1.0]) == 1.0
    assert peak_to_mean_random(0, [1.0, 1.0]) is None


def _run(n: int, keys: int) -> list[dict]:
    res = run_static([StrategySpec("jump")], [n], [open_trace("uniform", keys)], seed=0)
    return make_report("run", res, {})["results"]


def test_too_few_requests_a_node_warns_and_shows_the_floor():
    with pytest.warns(RuntimeWarning, match=r"uniform at N=1000: 20 requests a node.*peak/mean"):
        rows = _run(1000, 20_000)
    m = rows[0]["metrics"]
    assert m["peak_to_mean_random"] > 1.5
    # the table shows the floor next to the measured figure
    assert f"({m['peak_to_mean_random']:.3f})" in run_table(rows, "plain")


def test_enough_requests_a_node_do_not_warn(recwarn):
    _run(10, 50_000)
    assert not [w for w in recwarn if "requests a node" in str(w.message)]


def test_remap_fractions_keep_significant_digits():
    row = {"label": "jump", "strategy": "jump", "trace": "uniform", "nodes": 100_000,
           "metrics": {"remap_join": 1.2e-5, "remap_join_ideal": 9.99990e-6,
                       "remap_leave": 0.0, "remap_leave_ideal": 1e-5}}
    table = run_table([row], "plain")
    assert "1.2e-05 (1e-05)" in table and "0 (1e-05)" in table
    assert "0.0000" not in table


def test_markdown_table_with_the_nat_column_parses():
    rows = make_report("run", run_static([StrategySpec("ring"), StrategySpec("jump")], [5],
                                         [open_trace("nat", 5_000)], seed=0), {})["results"]
    md = run_table(rows, "github").splitlines()
    assert any("NAT" in h for h in md[:1])
    cells = [line.count("|") for line in md]
    assert len(set(cells)) == 1, md  # no stray '|' inside a header or a cell
