"""pytest plugin (entry point ``pytest11``): the ``rb`` fixture for strategy authors.

Installed with routebench, so any test suite can write::

    def test_mine_is_balanced_and_fast(rb, benchmark):
        s = rb.create("mine", 100)                      # or rb.create(MyStrategy, 100)
        rb.assert_balanced(s, max_peak_to_mean=1.15)
        rb.assert_minimal_disruption(s, slack=0.2)
        ns = rb.bench_lookup_many(benchmark, s)          # pytest-benchmark; ns/key returned

    def test_mine_conforms(rb):
        print(rb.check_conformance("mine"))              # routebench.testing's suite

Options: ``--routebench-hash NAME`` (or ``ROUTEBENCH_HASH``) picks the key hash
every ``rb.create`` and the conformance suite use for strategies that take
``hash=``; the chosen one is shown in pytest's header.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

__all__ = ["RoutebenchKit", "rb", "routebench_hash"]


class RoutebenchKit:
    """Helpers bound to the session's hash choice; see ``routebench.testing`` for each."""

    def __init__(self, hash_name: str | None) -> None:
        self.hash = hash_name
        self._keys: dict[tuple[int, int], list[bytes]] = {}

    def create(self, strategy: Any, nodes: Any, **params: Any) -> Any:
        """A strategy by name or class, with the session's hash unless ``hash=`` is given."""
        from routebench.registry import registry
        from routebench.testing import with_session_hash

        cls = registry.get(strategy) if isinstance(strategy, str) else strategy
        return cls(nodes, **with_session_hash(cls, params, self.hash))

    def keys(self, n: int = 100_000, seed: int = 0) -> list[bytes]:
        """Random keys (cached per size and seed for the session)."""
        from routebench.testing import random_keys

        k = (n, seed)
        if k not in self._keys:
            self._keys[k] = random_keys(n, seed)
        return self._keys[k]

    def digests(self, strategy: Any, n: int = 100_000, seed: int = 0) -> Any:
        """``strategy.digest`` of ``keys(n, seed)``: what ``lookup_many`` takes."""
        return strategy.digest(self.keys(n, seed))

    def balance(self, strategy: Any, n: int = 100_000) -> dict[str, float | None]:
        from routebench.testing import balance_of

        return balance_of(strategy, self.keys(n))

    def remap_on_join(self, strategy: Any, node: str = "joining-node", weight: float = 1.0,
                      n: int = 100_000) -> Any:
        from routebench.testing import remap_on_join

        return remap_on_join(strategy, node, weight, self.keys(n))

    def remap_on_leave(self, strategy: Any, node: str | None = None, n: int = 100_000) -> Any:
        from routebench.testing import remap_on_leave

        return remap_on_leave(strategy, node, self.keys(n))

    def assert_balanced(self, strategy: Any, max_peak_to_mean: float = 1.1,
                        n: int = 100_000) -> dict[str, float | None]:
        from routebench.testing import assert_balanced

        return assert_balanced(strategy, max_peak_to_mean, self.keys(n))

    def assert_minimal_disruption(self, strategy: Any, slack: float = 0.1,
                                  survivor_moves: float = 0.0, n: int = 100_000) -> Any:
        from routebench.testing import assert_minimal_disruption

        return assert_minimal_disruption(strategy, slack, survivor_moves, self.keys(n))

    def check_conformance(self, strategy: Any, **kwargs: Any) -> Any:
        """``routebench.testing.check_strategy`` (the session's hash applies)."""
        from routebench import RoutebenchError
        from routebench.registry import registry
        from routebench.strategies import KeyedStrategy
        from routebench.testing import check_strategy, with_session_hash

        cls: type = registry.get(strategy) if isinstance(strategy, str) else strategy
        if not issubclass(cls, KeyedStrategy):
            raise RoutebenchError(f"check_conformance: {strategy!r} is not a keyed strategy")
        return check_strategy(cls, **with_session_hash(cls, kwargs, self.hash))

    def bench_lookup_many(self, benchmark: Any, strategy: Any, n: int = 100_000) -> float:
        """Benchmark ``lookup_many`` over ``n`` digests; returns (and records) ns per key.

        The figure is pytest-benchmark's median round over ``n``; nan under
        ``--benchmark-disable``, which runs the function once, untimed.
        """
        d = self.digests(strategy, n)
        strategy.lookup_many(d)  # compile / warm before timing
        benchmark(strategy.lookup_many, d)
        ns = _median_s(benchmark) / n * 1e9
        benchmark.extra_info.update({"strategy": repr(strategy), "keys": n, "ns_per_key": ns})
        return ns

    def bench_lookup(self, benchmark: Any, strategy: Any, n: int = 1_000) -> float:
        """Benchmark ``n`` scalar ``lookup`` calls; returns (and records) ns per call.

        The median round over ``n`` calls (nan under ``--benchmark-disable``).
        """
        keys = self.keys(n, seed=1)
        lookup = strategy.lookup

        def run() -> None:
            for k in keys:
                lookup(k)

        benchmark(run)
        ns = _median_s(benchmark) / n * 1e9
        benchmark.extra_info.update({"strategy": repr(strategy), "calls": n, "ns_per_call": ns})
        return ns


def _median_s(benchmark: Any) -> float:
    stats = getattr(benchmark, "stats", None)
    inner = getattr(stats, "stats", stats)
    median = getattr(inner, "median", None)
    if median is None:  # --benchmark-disable: the function ran once, untimed
        return float("nan")
    return float(median)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("routebench")
    group.addoption("--routebench-hash", default=None, metavar="NAME",
                    help="key hash for rb.create and the routebench conformance suite "
                         "(default: $ROUTEBENCH_HASH, else each strategy's default)")


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--routebench-hash")
    if chosen is None:
        return
    from routebench.hashing import HASH_NAMES

    if chosen not in HASH_NAMES:
        raise pytest.UsageError(f"--routebench-hash {chosen!r}: available: "
                                + ", ".join(HASH_NAMES))
    os.environ["ROUTEBENCH_HASH"] = chosen  # the conformance suite reads it from there


def pytest_report_header(config: pytest.Config) -> str:
    h = config.getoption("--routebench-hash") or os.environ.get("ROUTEBENCH_HASH") or ""
    return f"routebench: hash={h or 'per-strategy default'}"


@pytest.fixture(scope="session")
def routebench_hash() -> str | None:
    """The hash function this session checks with (None: each strategy's default)."""
    from routebench.testing import default_hash

    try:
        return default_hash()
    except Exception as exc:  # noqa: BLE001 - a bad environment variable: one clear line
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture
def rb(routebench_hash: str | None) -> RoutebenchKit:
    """routebench helpers: create, keys, balance and remap assertions, benchmarks."""
    return RoutebenchKit(routebench_hash)
