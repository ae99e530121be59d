"""The harness: registry, runner, metrics and timing."""

from .registry import ENTRY_POINT_GROUP, BrokenPlugin, Registry, format_spec, parse_spec, registry

__all__ = ["Registry", "BrokenPlugin", "ENTRY_POINT_GROUP", "registry", "parse_spec", "format_spec"]
