"""One side of an interleaved A/B timing session: times strategies on request.

Self-contained on purpose. ``routebench ab`` sends this file's source to the
other interpreter (``python -c``), so it may use only the standard library,
numpy and the public API every routebench version has (``routebench.create``,
``digest``, ``lookup_many``, ``lookup``, ``config``): the base side can be an
older release in another virtualenv.

Protocol: one JSON object a line on stdin, one reply a line on the original
stdout (the worker moves ``sys.stdout`` to stderr so a chatty plugin cannot
break it)::

    {"op": "setup", "scenarios": [{"strategy", "params", "nodes"}], "keys": K,
     "scalar_keys": S, "min_ns": T, "seed": SEED, "metrics": [...], "preload": [...],
     "cpu": C or null}
    -> {"ok": true, "environment": {...}, "params": [resolved params a scenario]}
    {"op": "time", "index": i}   -> {"ok": true, "sample": {metric: value}}
    {"op": "quit"}
    any failure                   -> {"error": "one line"}
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Bench", "main"]

METRICS = ("batch_ns_per_key", "lookup_ns_p50", "build_ms")


def _timer_overhead(samples: int = 20_000) -> float:
    pc = time.perf_counter_ns
    out = []
    for _ in range(samples):
        t0 = pc()
        out.append(pc() - t0)
    out.sort()
    return float(out[len(out) // 2])


class Bench:
    """The strategies of one session, built once, timed one scenario at a time."""

    def __init__(self, create: Callable[..., Any] | None = None) -> None:
        self._create = create
        self.items: list[tuple[dict[str, Any], list[str], Any, Any]] = []
        self.loops: list[tuple[int, int]] = []

    def setup(self, msg: dict[str, Any]) -> dict[str, Any]:
        import importlib

        for mod in msg.get("preload") or ():
            importlib.import_module(mod)
        import numpy as np

        if self._create is None:
            import routebench

            self._create = routebench.create
        rng = np.random.default_rng(int(msg.get("seed", 0)))
        self.rng = np.random.default_rng()  # layout padding: different in every process
        tokens = rng.integers(0, 2**63, size=int(msg["keys"]), dtype=np.int64).tolist()
        keys = [b"%016x" % t for t in tokens]  # like the uniform trace's keys
        self.scalar = keys[: int(msg["scalar_keys"])]
        self.metrics = tuple(msg.get("metrics") or METRICS)
        self.items = []
        params_out = []
        for sc in msg["scenarios"]:
            nodes = [f"node-{i}" for i in range(int(sc["nodes"]))]
            s = self._create(sc["strategy"], nodes, **(sc.get("params") or {}))
            if not (hasattr(s, "digest") and hasattr(s, "lookup_many")):
                kind = getattr(s, "kind", type(s).__name__)
                raise TypeError(f"strategy {sc['strategy']!r} is a {kind}: A/B timing times "
                                "keyed strategies (digest, lookup_many, lookup)")
            digests = s.digest(keys)
            self.items.append((sc, nodes, s, digests))
            params_out.append(dict(getattr(s, "config", sc.get("params") or {})))
        cpu = msg.get("cpu")
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {int(cpu)})  # every worker on one CPU: the same conditions
        self.overhead = _timer_overhead()
        self.loops = [(1, 1)] * len(self.items)
        target = float(msg.get("min_ns", 1e6))
        for i in range(len(self.items)):  # warm-up (compiled loops, caches), then calibrate:
            self.time(i)  # short measurements repeat until they last ``min_ns``
            t = self.time(i)
            n = len(self.items[i][3])
            batch = t.get("batch_ns_per_key", 0.0) * n
            build = t.get("build_ms", 1e6) * 1e6
            self.loops[i] = (_loops(batch, target), _loops(build, target))
        return {"ok": True, "environment": _environment(), "params": params_out}

    def time(self, index: int) -> dict[str, float]:
        """One measurement of each metric of one scenario, on freshly built structures.

        Each measurement builds the strategy anew and copies the digests, so
        the memory a lookup table lands in (and how it collides in the
        cache) is drawn again every time: otherwise one process's lucky or
        unlucky placement would show up as a steady A/A difference.
        """
        sc, nodes, s, digests = self.items[index]
        batch_loops, build_loops = self.loops[index] if self.loops else (1, 1)
        create, name, params = self._create, sc["strategy"], sc.get("params") or {}
        assert create is not None, "setup comes first"
        out: dict[str, float] = {}
        pc = time.perf_counter_ns
        was = gc.isenabled()
        gc.disable()
        # shift where the new structures land: live padding of a random size
        # among small objects and in mapped memory
        r = self.rng.integers(1, 4096, size=2)
        pad = ([object() for _ in range(int(r[0]))], bytearray(int(r[1]) << 8))
        try:
            t0 = pc()
            for _ in range(build_loops):
                s = create(name, nodes, **params)
            build_ns = (pc() - t0) / build_loops
            if "build_ms" in self.metrics:
                out["build_ms"] = build_ns / 1e6
            digests = digests.copy()
            self.items[index] = (sc, nodes, s, digests)
            if "batch_ns_per_key" in self.metrics:
                lm = s.lookup_many
                lm(digests)  # warm the new structure's cache lines
                t0 = pc()
                for _ in range(batch_loops):
                    lm(digests)
                out["batch_ns_per_key"] = (pc() - t0) / (batch_loops * max(len(digests), 1))
            if "lookup_ns_p50" in self.metrics:
                lk = s.lookup
                for k in self.scalar[:50]:
                    lk(k)
                ts = []
                for k in self.scalar:
                    t0 = pc()
                    lk(k)
                    ts.append(pc() - t0)
                ts.sort()
                out["lookup_ns_p50"] = max(float(ts[len(ts) // 2]) - self.overhead, 0.0)
        finally:
            del pad
            if was:
                gc.enable()
        return out


def _loops(one_ns: float, target_ns: float) -> int:
    """How many repetitions make a measurement last about ``target_ns``."""
    if one_ns <= 0:
        return 1
    return int(min(1000, max(1, round(target_ns / one_ns))))


def _environment() -> dict[str, Any]:
    import platform
    import subprocess

    import numpy

    import routebench

    env: dict[str, Any] = {
        "routebench": getattr(routebench, "__version__", None),
        "routebench_path": os.path.dirname(os.path.abspath(routebench.__file__)),
        "python": platform.python_version(),
        "executable": sys.executable,
        "numpy": numpy.__version__,
    }
    try:
        import numba

        env["numba"] = numba.__version__
    except Exception:  # noqa: BLE001 - numba is optional for old versions
        env["numba"] = None
    try:
        head = subprocess.run(["git", "-C", env["routebench_path"], "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        env["git_commit"] = head.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        env["git_commit"] = None
    return env


def main() -> None:
    """Serve the protocol on stdin/stdout until ``quit`` or end of input."""
    proto = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    bench = Bench()
    for line in sys.stdin:
        try:
            msg = json.loads(line)
            op = msg.get("op")
            if op == "quit":
                break
            if op == "setup":
                reply = bench.setup(msg)
            elif op == "time":
                reply = {"ok": True, "sample": bench.time(int(msg["index"]))}
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as exc:  # noqa: BLE001 - reported to the other side as one line
            reply = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        proto.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
