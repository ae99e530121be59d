"""Where requests come from: synthetic generators and recorded traces."""

from ._trace import Chunk, InternedColumn, KeyColumn, RawColumn, Trace, Vocabulary
from .synthetic import SYNTHETIC, NatTrace, UniformTrace, ZipfTrace, synthetic_trace

__all__ = [
    "SYNTHETIC",
    "Chunk",
    "InternedColumn",
    "KeyColumn",
    "NatTrace",
    "RawColumn",
    "Trace",
    "UniformTrace",
    "Vocabulary",
    "ZipfTrace",
    "open_trace",
    "synthetic_trace",
]


def open_trace(spec: str, requests: int, seed: int = 0) -> Trace:
    """A trace from a ``NAME[:param=value,...]`` spec."""
    from ..harness.registry import parse_spec

    name, params = parse_spec(spec)
    return synthetic_trace(name, requests, seed, **params)
