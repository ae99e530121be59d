"""Counts, durations and sizes as people type them, and positive-number checks.

One parser each, shared by the command line, the simulator's scenarios and the
trace readers, so ``200k`` or ``30m`` mean the same wherever they are given:

    >>> parse_count("200k"), parse_count("1M"), parse_count("1e6"), parse_count("200_000")
    (200000, 1000000, 1000000, 200000)
    >>> parse_duration("500ms"), parse_duration("2m"), parse_duration("1h"), parse_duration(30)
    (0.5, 120.0, 3600.0, 30.0)
    >>> parse_size("64KiB"), parse_size("1MB"), parse_size(4096)
    (65536, 1000000, 4096)

Errors name the input and what would be accepted, in one line.
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import Decimal
from typing import Any

from ._errors import RoutebenchError

__all__ = ["parse_count", "parse_duration", "parse_size", "check_positive", "DURATION_UNITS",
           "format_duration"]

_COUNT = re.compile(r"(\d+(?:\.\d+)?(?:e\d+)?)([km]?)")
_COUNT_SCALE = {"": 1, "k": 1000, "m": 1000_000}


def parse_count(value: str | int | float, what: str = "count", minimum: int = 1) -> int:
    """``200000``, ``200_000``, ``200k``, ``1M``, ``1e6`` (or a whole number) -> int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
        raise RoutebenchError(f"{what} {value!r}: expected a whole number >= {minimum}")
    if isinstance(value, str):
        t = value.strip().lower().replace("_", "").replace(",", "")
        m = _COUNT.fullmatch(t)
        if not m:
            raise RoutebenchError(
                f"{what} {value!r}: expected a whole number such as 200000, 200k or 1M")
        number = Decimal(m.group(1)) * _COUNT_SCALE[m.group(2)]  # exact: 1.1k is 1100
    elif isinstance(value, numbers.Integral):
        number = Decimal(int(value))
    elif math.isfinite(value):
        number = Decimal(float(value))
    else:
        raise RoutebenchError(f"{what} {value!r}: expected a whole number >= {minimum}")
    if number != number.to_integral_value():
        raise RoutebenchError(f"{what} {value!r}: expected a whole number >= {minimum}")
    if number < minimum:
        raise RoutebenchError(f"{what} {value!r}: must be at least {minimum}")
    return int(number)


#: duration suffixes and their seconds (no suffix: seconds)
DURATION_UNITS: dict[str, float] = {"": 1.0, "s": 1.0, "ms": 1e-3, "m": 60.0, "min": 60.0,
                                    "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+)\s*(ms|s|min|m|h|d)?")


def parse_duration(value: str | float | int, what: str = "duration",
                   allow_zero: bool = False) -> float:
    """``30``, ``30s``, ``500ms``, ``2m``, ``2min``, ``1h``, ``1d`` (or a number) -> seconds.

    Above 0, or >= 0 with ``allow_zero``; finite.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DURATION.fullmatch(str(value).strip().lower())
        if not m:
            raise RoutebenchError(f"{what} {value!r}: expected a time such as 30, 30s, 500ms, "
                                  "2m, 1h or 1d")
        seconds = float(m.group(1)) * DURATION_UNITS[m.group(2) or ""]
    return _in_range(seconds, value, what, allow_zero)


_SIZE = re.compile(r"(\d+(?:\.\d+)?(?:e\d+)?)\s*(?:([kmgt])(i?)b?|b)?")
_SIZE_POWER = {"k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(value: str | int, what: str = "size") -> int:
    """Bytes: ``4096``, ``64k`` or ``64kB`` (x 1000), ``64KiB`` (x 1024), ``1M``, ``2GiB`` ..."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = Decimal(int(value))
    elif isinstance(value, str):
        m = _SIZE.fullmatch(value.strip().lower().replace("_", ""))
        if not m:
            raise RoutebenchError(f"{what} {value!r}: expected a size in bytes such as 4096, "
                                  "64k, 64KiB, 1MB or 2GiB")
        base = 1024 if m.group(3) else 1000
        number = Decimal(m.group(1)) * base ** _SIZE_POWER.get(m.group(2) or "", 0)
    else:
        raise RoutebenchError(f"{what} {value!r}: expected a size in bytes such as 4096 or 64KiB")
    if number != number.to_integral_value() or number < 1:
        raise RoutebenchError(f"{what} {value!r}: expected a whole number of bytes >= 1")
    return int(number)


def check_positive(value: Any, what: str, allow_zero: bool = False) -> float:
    """A finite number above 0 (>= 0 with ``allow_zero``), from a number or its text."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RoutebenchError(f"{what} {value!r}: expected a number") from None
    return _in_range(v, value, what, allow_zero)


def _in_range(v: float, given: Any, what: str, allow_zero: bool) -> float:
    if not (v >= 0 if allow_zero else v > 0) or not math.isfinite(v):
        raise RoutebenchError(f"{what} {given!r}: must be {'>= 0' if allow_zero else 'above 0'}")
    return v


def format_duration(seconds: float) -> str:
    """A duration as people read it (``parse_duration`` reads it back): 19 ms, 4.3 s,
    36 s, 11.5 min, 2.0 h."""
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
