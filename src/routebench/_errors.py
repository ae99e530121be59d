"""The one exception type routebench raises for bad input."""

from __future__ import annotations

__all__ = ["RoutebenchError", "choices"]


class RoutebenchError(ValueError):
    """Bad input: the message names the bad value and what would be accepted.

    The command line prints the message as one line and exits non-zero; the
    Python API lets it propagate.
    """


def choices(values) -> str:
    """Format accepted values for an error message: ``a, b, c``."""
    return ", ".join(str(v) for v in values)
