"""The strategy registry: built-ins and third-party plugins, by name.

Built-ins are the ``STRATEGIES`` of the modules in
``routebench.strategies.BUILTIN_MODULES``. A third-party package adds its own
through the entry-point group ``routebench.strategies``; an entry point names
a ``Strategy`` subclass, or a sequence of them::

    [project.entry-points."routebench.strategies"]
    fancy = "fancy_routing.strategy:FancyStrategy"

A plugin that fails to load, or that is not a strategy, is reported by name
(``Registry.broken``, and a warning) and skipped; the rest still work.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from ._errors import RoutebenchError, choices
from .strategies import BUILTIN_MODULES, KeyedStrategy, Strategy

__all__ = ["Registry", "BrokenPlugin", "ENTRY_POINT_GROUP", "registry"]

ENTRY_POINT_GROUP = "routebench.strategies"
KINDS = ("keyed", "balancer")


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be registered, and why."""

    name: str
    origin: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name!r} ({self.origin}) skipped: {self.error}"


class Registry:
    """Strategies by name; loads built-ins and entry points on first use."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._classes: dict[str, type[Strategy]] = {}
        self._origins: dict[str, str] = {}
        self.broken: list[BrokenPlugin] = []
        self._loaded = False
        self._load_entry_points = load_entry_points

    # -- registration ---------------------------------------------------
    def register(self, cls: type[Strategy], origin: str = "user") -> type[Strategy]:
        """Add a strategy class under ``cls.name``; usable as a decorator."""
        self._ensure_loaded()
        self._add(cls, origin)
        return cls

    def _add(self, cls: Any, origin: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise RoutebenchError(f"{cls!r} from {origin} is not a routebench Strategy subclass")
        if not cls.name or not isinstance(cls.name, str):
            raise RoutebenchError(f"{cls.__qualname__} from {origin} has no strategy name")
        if cls.kind not in KINDS:
            raise RoutebenchError(
                f"strategy {cls.name!r} from {origin}: kind {cls.kind!r} "
                f"is not one of {choices(KINDS)}"
            )
        if cls.name in self._classes and self._classes[cls.name] is not cls:
            raise RoutebenchError(
                f"strategy name {cls.name!r} from {origin} is already taken by "
                f"{self._origins[cls.name]}"
            )
        self._classes[cls.name] = cls
        self._origins[cls.name] = origin

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for modname in BUILTIN_MODULES:
            for cls in importlib.import_module(modname).STRATEGIES:
                self._add(cls, "built-in")
        if self._load_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self.load_entry_point(ep)

    def load_entry_point(self, ep: Any) -> None:
        """Register what one entry point names; record and warn if it is broken."""
        dist = getattr(getattr(ep, "dist", None), "name", None)
        origin = f"{ep.value}" + (f" from package {dist}" if dist else "")
        try:
            obj = ep.load()
            many = isinstance(obj, Iterable) and not isinstance(obj, type)
            classes = list(obj) if many else [obj]
            if not classes:
                raise RoutebenchError("the entry point names no strategy")
            for cls in classes:
                self._add(cls, f"plugin {ep.name!r}")
        except Exception as exc:  # noqa: BLE001 - a plugin may fail in any way
            broken = BrokenPlugin(ep.name, origin, f"{type(exc).__name__}: {exc}")
            self.broken.append(broken)
            warnings.warn(str(broken), RuntimeWarning, stacklevel=2)

    # -- queries --------------------------------------------------------
    def get(self, name: str) -> type[Strategy]:
        """The class registered as ``name``, or an error listing the names there are."""
        self._ensure_loaded()
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            broken = next((b for b in self.broken if b.name == name), None)
            if broken is not None:
                raise RoutebenchError(f"strategy {name!r} failed to load ({broken.origin}): "
                                      f"{broken.error}") from None
            raise RoutebenchError(
                f"unknown strategy {name!r}; available: {choices(self.names())}"
            ) from None

    def names(self, kind: str | None = None) -> list[str]:
        self._ensure_loaded()
        return [n for n, c in self._classes.items() if kind is None or c.kind == kind]

    def classes(self, kind: str | None = None) -> list[type[Strategy]]:
        return [self._classes[n] for n in self.names(kind)]

    def origin(self, name: str) -> str:
        self.get(name)
        return self._origins[name]

    def create(self, name: str, nodes: Any, **params: Any) -> Strategy:
        """Build the strategy ``name`` over ``nodes`` with ``params``."""
        return self.get(name)(nodes, **params)

    def create_keyed(self, name: str, nodes: Any, **params: Any) -> KeyedStrategy:
        cls = self.get(name)
        if not issubclass(cls, KeyedStrategy):
            raise RoutebenchError(
                f"strategy {name!r} is a {cls.kind}, not a keyed strategy; "
                f"keyed: {choices(self.names('keyed'))}"
            )
        return cls(nodes, **params)


#: the process-wide registry the API and the command line use
registry = Registry()
