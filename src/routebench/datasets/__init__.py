"""Where requests come from: synthetic generators and recorded traces.

``open_trace`` is the one entry point for both: a synthetic ``NAME[:param=value,...]``
or a file path (``-`` for standard input), so every command that takes
``--trace`` accepts recorded traces too.
"""

from __future__ import annotations

import os
from typing import Any

from .._errors import RoutebenchError, choices
from .._params import parse_spec
from ._trace import Chunk, InternedColumn, KeyColumn, RawColumn, SyntheticTrace, Trace, Vocabulary
from .readers import (
    FileSetTrace,
    FileTrace,
    ReadOptions,
    ReadStats,
    is_glob,
    open_file,
    open_file_set,
)
from .synthetic import (
    SYNTHETIC,
    AccessLogTrace,
    NatTrace,
    UniformTrace,
    ZipfTrace,
    synthetic_trace,
)

__all__ = [
    "DEFAULT_REQUESTS",
    "SYNTHETIC",
    "AccessLogTrace",
    "Chunk",
    "FileSetTrace",
    "FileTrace",
    "InternedColumn",
    "KeyColumn",
    "NatTrace",
    "RawColumn",
    "SyntheticTrace",
    "ReadOptions",
    "ReadStats",
    "Trace",
    "UniformTrace",
    "Vocabulary",
    "ZipfTrace",
    "is_file_spec",
    "open_file",
    "open_file_set",
    "open_trace",
    "synthetic_trace",
]

#: requests of a synthetic trace when none are asked for
DEFAULT_REQUESTS = 200_000


def is_file_spec(spec: str) -> bool:
    """True when ``spec`` names a file (or ``-``) rather than a synthetic trace."""
    if spec == "-" or os.path.exists(spec):
        return True
    name = spec.split(":", 1)[0]
    if name in SYNTHETIC:
        return False
    return "/" in spec or os.sep in spec or "." in name


def open_trace(spec: str, requests: int | None = None, seed: int = 0, *,
               options: ReadOptions | None = None, **read: Any) -> Trace:
    """A trace from a synthetic ``NAME[:param=value,...]`` spec or a file path.

    For a synthetic trace, ``requests`` is its length (default
    ``DEFAULT_REQUESTS``); for a file, the most requests to read (default:
    all of it), and ``options``/``read`` are :class:`ReadOptions` fields
    (format, log_format, columns, route_on, session, session_gap, strict, ...).
    A pattern (``logs/*.log.gz``) is its files, in name order, as one trace.
    """
    if is_file_spec(spec):
        if requests is not None:
            read = {**read, "limit": requests}
        if is_glob(spec):
            return open_file_set(spec, options, **read)
        return open_file(spec, options, **read)
    route_on = read.pop("route_on", None)
    if options is not None or read:
        given = sorted(read) or ["options"]
        raise RoutebenchError(
            f"trace {spec!r} is synthetic; {', '.join(given)} apply to trace files only"
        )

    name, params = parse_spec(spec)
    if name not in SYNTHETIC:
        raise RoutebenchError(
            f"unknown trace {name!r}; available: {choices(SYNTHETIC)}, or a path to a trace "
            "file (no such file)"
        )
    return synthetic_trace(name, DEFAULT_REQUESTS if requests is None else requests, seed,
                           route_on=route_on, **params)
