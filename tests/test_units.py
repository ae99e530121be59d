"""Counts, durations and sizes as typed, and positive numbers: one parser each (``_units``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routebench import RoutebenchError
from routebench._units import check_positive, parse_count, parse_duration, parse_size


@pytest.mark.parametrize("text, value", [
    ("200000", 200_000), ("200_000", 200_000), ("200,000", 200_000), ("200k", 200_000),
    ("200K", 200_000), ("1M", 1_000_000), ("1m", 1_000_000), ("1e6", 1_000_000),
    ("1.5k", 1500), ("1.1k", 1100), (" 7 ", 7), (3, 3), (3.0, 3), (np.int64(5), 5),
])
def test_count(text: object, value: int) -> None:
    assert parse_count(text, "--keys") == value  # type: ignore[arg-type]


@pytest.mark.parametrize("text, message", [
    ("lots", "--keys 'lots': expected a whole number such as 200000, 200k or 1M"),
    ("", "expected a whole number such as"),
    ("-5", "expected a whole number such as"),
    ("1.5", "--keys '1.5': expected a whole number >= 1"),
    ("0", "--keys '0': must be at least 1"),
    (2.5, "--keys 2.5: expected a whole number >= 1"),
    (math.nan, "expected a whole number >= 1"),
    (True, "expected a whole number"),
    (None, "expected a whole number"),
])
def test_bad_count(text: object, message: str) -> None:
    with pytest.raises(RoutebenchError) as e:
        parse_count(text, "--keys")  # type: ignore[arg-type]
    assert message in str(e.value)


def test_count_minimum() -> None:
    assert parse_count("0", "--queue-limit", minimum=0) == 0
    with pytest.raises(RoutebenchError, match="backends 0: must be at least 1"):
        parse_count(0, "backends")


@given(st.integers(1, 10**12))
def test_count_reads_its_own_spellings(n: int) -> None:
    assert parse_count(str(n)) == n
    assert parse_count(f"{n:_}") == n
    assert parse_count(f"{n}k") == n * 1000


@pytest.mark.parametrize("text, seconds", [
    ("30", 30.0), ("30s", 30.0), ("500ms", 0.5), ("2m", 120.0), ("2min", 120.0),
    ("1h", 3600.0), ("1d", 86400.0), ("1.5h", 5400.0), (".5s", 0.5), ("1e3ms", 1.0),
    ("30M", 1800.0), (" 90 s ", 90.0), (1800, 1800.0), (0.25, 0.25),
])
def test_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize("text, message", [
    ("soon", "--ttl 'soon': expected a time such as 30, 30s, 500ms, 2m, 1h or 1d"),
    ("-5", "expected a time"),
    ("5 weeks", "expected a time"),
    ("inf", "expected a time"),
    ("0", "--ttl '0': must be above 0"),
    (math.inf, "must be above 0"),
])
def test_bad_duration(text: object, message: str) -> None:
    with pytest.raises(RoutebenchError) as e:
        parse_duration(text, "--ttl")  # type: ignore[arg-type]
    assert message in str(e.value)


def test_duration_zero_when_allowed() -> None:
    assert parse_duration("0", "--warmup", allow_zero=True) == 0.0
    with pytest.raises(RoutebenchError, match="must be >= 0"):
        parse_duration(-1.0, "--warmup", allow_zero=True)


def test_session_gap_and_simulator_times_take_the_same_units() -> None:
    """The trace readers' --session-gap and simulate's times read one syntax."""
    from routebench.datasets.readers import parse_duration as readers_duration
    from routebench.harness.sim._simdist import parse_event

    assert readers_duration is parse_duration
    for text, seconds in (("500ms", 0.5), ("2min", 120.0), ("1d", 86400.0), ("90s", 90.0)):
        assert readers_duration(text) == pytest.approx(seconds)
        assert parse_event("crash", f"backend-1@{text}")[1] == pytest.approx(seconds)


@pytest.mark.parametrize("text, size", [
    ("4096", 4096), ("64k", 64_000), ("64kB", 64_000), ("64KiB", 65_536), ("1M", 1_000_000),
    ("1MiB", 1 << 20), ("2GiB", 2 << 30), ("1.5k", 1500), ("100b", 100), ("1T", 10**12),
    (4096, 4096),
])
def test_size(text: object, size: int) -> None:
    assert parse_size(text) == size  # type: ignore[arg-type]


@pytest.mark.parametrize("text, message", [
    ("big", "--cache-size 'big': expected a size in bytes"),
    ("0", "expected a whole number of bytes >= 1"),
    ("1.5b", "expected a whole number of bytes >= 1"),
    (1.5, "expected a size in bytes"),
])
def test_bad_size(text: object, message: str) -> None:
    with pytest.raises(RoutebenchError) as e:
        parse_size(text, "--cache-size")  # type: ignore[arg-type]
    assert message in str(e.value)


@pytest.mark.parametrize("value, allow_zero, message", [
    ("abc", False, "--load 'abc': expected a number"),
    ("-1", False, "--load '-1': must be above 0"),
    ("0", False, "must be above 0"),
    ("nan", True, "must be >= 0"),
    ("inf", False, "must be above 0"),
    (None, False, "expected a number"),
])
def test_bad_positive(value: object, allow_zero: bool, message: str) -> None:
    with pytest.raises(RoutebenchError) as e:
        check_positive(value, "--load", allow_zero)
    assert message in str(e.value)


def test_positive() -> None:
    assert check_positive("0.5", "--load") == 0.5
    assert check_positive(0, "--ip-change-rate", allow_zero=True) == 0.0
