"""Benchmark helpers: record each headline figure and print them against their bars.

Benchmarks record figures; they never fail on a slow machine. The summary at
the end of ``pytest benchmarks`` (``tox -e bench``) lists every figure with the
bar from the issue that set it, so a reader sees at once what was reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    bar: float | None = None
    higher_is_better: bool = False

    @property
    def verdict(self) -> str:
        if self.bar is None:
            return ""
        ok = self.value >= self.bar if self.higher_is_better else self.value <= self.bar
        return "meets bar" if ok else "MISSES bar"


FIGURES: list[Figure] = []


@pytest.fixture
def figure():
    """``figure(name, value, unit, bar=None, higher_is_better=False)`` records a figure."""
    def record(name: str, value: float, unit: str, bar: float | None = None,
               higher_is_better: bool = False) -> None:
        FIGURES.append(Figure(name, value, unit, bar, higher_is_better))
    return record


def min_time(benchmark) -> float:
    """The best round's seconds (interference only ever adds time)."""
    return benchmark.stats.stats.min


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    from tabulate import tabulate

    rows = [[f.name, f"{f.value:,.1f} {f.unit}",
             "" if f.bar is None else f"{'>=' if f.higher_is_better else '<='} {f.bar:,g} {f.unit}",
             f.verdict] for f in FIGURES]
    terminalreporter.write_sep("=", "routebench figures")
    terminalreporter.write_line(tabulate(rows, headers=["figure", "measured", "bar", ""]))
