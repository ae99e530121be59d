"""Session arrival times from a recorded trace (``routebench simulate --trace``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..._errors import RoutebenchError
from ...datasets import Trace, open_trace

__all__ = ["trace_arrivals"]


def trace_arrivals(spec: str, seed: int = 0, read: Mapping[str, Any] | None = None,
                   what: str = "--trace") -> tuple[np.ndarray, Trace]:
    """A trace's request times in seconds from the first, sorted, and the trace read.

    ``read`` are ``ReadOptions`` fields for a trace file. Access logs are
    written in completion order, so their times go back and forth a little;
    the simulator wants them in order. 8 bytes a request are held. The
    trace's ``stats`` (files) say what was read.
    """
    trace = open_trace(spec, None, seed, **dict(read or {}))
    parts = []
    for chunk in trace.chunks():
        if chunk.ts is None:
            raise RoutebenchError(f"{what} {spec!r}: no request times in this trace; "
                                  "arrivals need a time column")
        parts.append(chunk.ts)
    times = np.sort(np.concatenate(parts), kind="stable")
    return times - times[0], trace
