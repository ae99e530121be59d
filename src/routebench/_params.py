"""Declared parameters: what a strategy or a trace accepts, with defaults.

One parser and checker for every ``NAME:param=value,...`` on the command line
and every keyword in the Python API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import RoutebenchError, choices

__all__ = ["Param", "resolve_params", "parse_spec", "format_spec"]


@dataclass(frozen=True)
class Param:
    """A strategy parameter: its name, default, meaning and accepted values."""

    name: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    check: Callable[[Any], str | None] | None = None  # returns why a value is refused

    @property
    def type(self) -> type:
        return type(self.default)

    def convert(self, owner: str, value: Any) -> Any:
        """``value`` (a string from the command line, or a Python value) checked and typed."""
        where = f"{owner} parameter {self.name!r}"
        want = self.type
        if isinstance(value, str) and want is not str:
            try:
                value = _parse_scalar(value, want)
            except ValueError:
                raise RoutebenchError(
                    f"{where}: {value!r} is not {_a(want.__name__)}"
                ) from None
        elif want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif want is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise RoutebenchError(
                f"{where}: expected {_a(want.__name__)}, got {value!r}"
            )
        if self.choices is not None and value not in self.choices:
            raise RoutebenchError(f"{where}: {value!r} is not one of {choices(self.choices)}")
        if (self.minimum is not None and isinstance(value, (int, float))
                and value < self.minimum):
            raise RoutebenchError(f"{where}: {value!r} is below the minimum {self.minimum:g}")
        if self.check is not None:
            why = self.check(value)
            if why:
                raise RoutebenchError(f"{where}: {value!r} {why}")
        return value


def _a(word: str) -> str:
    """``word`` with its article: "an int", "a float"."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _parse_scalar(text: str, want: type) -> Any:
    if want is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    if want is int:
        return int(text.replace("_", ""))
    return want(text)



def resolve_params(
    owner: str, params: tuple[Param, ...], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Defaults filled in, every given value checked; unknown names refused.

    ``owner`` names what the parameters belong to in messages, e.g.
    ``strategy 'ring'``.
    """
    known = {p.name: p for p in params}
    unknown = [k for k in given if k not in known]
    if unknown:
        accepted = choices(known) if known else "none"
        raise RoutebenchError(f"unknown parameter {unknown[0]!r} for {owner}; accepted: {accepted}")
    return {
        name: p.convert(owner, given[name]) if name in given else p.default
        for name, p in known.items()
    }


def parse_spec(text: str) -> tuple[str, dict[str, str]]:
    """``"ring:vnodes=200,hash=mmh3"`` -> ``("ring", {"vnodes": "200", "hash": "mmh3"})``.

    A comma-separated piece without ``=`` continues the previous value, so
    ``nat:groups=50,20`` gives ``groups="50,20"``.
    """
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if not name:
        raise RoutebenchError(f"{text!r}: expected NAME[:param=value,...]")
    params: dict[str, str] = {}
    last = None
    for piece in rest.split(",") if rest.strip() else []:
        key, eq, value = piece.partition("=")
        if eq:
            last = key.strip()
            if not last:
                raise RoutebenchError(f"{text!r}: parameter name missing before '={value}'")
            if last in params:
                raise RoutebenchError(f"{text!r}: parameter {last!r} is given twice; give "
                                      "each parameter once")
            params[last] = value.strip()
        elif last is not None:
            params[last] += "," + piece.strip()
        else:
            raise RoutebenchError(f"{text!r}: expected param=value after ':', got {piece!r}")
    return name, params


def format_spec(name: str, params: Mapping[str, Any]) -> str:
    """The inverse of ``parse_spec`` for display."""
    if not params:
        return name
    return name + ":" + ",".join(f"{k}={v}" for k, v in params.items())
