"""JSON reports: a versioned schema with the environment they were measured on.

    {"schema": "routebench/1", "kind": "run", "created": ..., "command": [...],
     "environment": {...}, "config": {...},
     "results": [{"strategy", "params", "trace", "nodes", "metrics": {...},
                  "counts": [...]}, ...]}
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import RoutebenchError

__all__ = ["SCHEMA", "environment", "make_report", "write_json", "read_json"]

SCHEMA = "routebench/1"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> dict[str, Any] | None:
    """The commit of the routebench source tree, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=5)
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - absent or unreadable metadata
        return None


def environment() -> dict[str, Any]:
    """Where and with what the numbers were measured."""
    from .. import __version__

    git = _git_commit()
    return {
        "routebench": __version__,
        "git_commit": git["commit"] if git else None,
        "git_dirty": git["dirty"] if git else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "numba": _version("numba"),
        "xxhash": _version("xxhash"),
        "mmh3": _version("mmh3"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "ketama_c_extension": _has_c_extension(),
    }


def _has_c_extension() -> bool:
    try:
        from .. import _cketama  # noqa: F401
    except ImportError:
        return False
    return True


def _clean(x: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item"):  # numpy scalars
        return _clean(x.item())
    return x


def make_report(kind: str, results: list[dict[str, Any]], config: dict[str, Any],
                command: list[str] | None = None,
                env: dict[str, Any] | None = None) -> dict[str, Any]:
    """A report; ``env`` is the environment block when the caller has one (default: this
    process's, from ``environment()``)."""
    return {
        "schema": SCHEMA,
        "kind": kind,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": list(sys.argv if command is None else command),
        "environment": environment() if env is None else env,
        "config": config,
        "results": results,
    }


def write_json(path: str | os.PathLike[str], report: dict[str, Any]) -> Path:
    """Write a report atomically (a crash leaves the old file, not half a new one)."""
    text = json.dumps(_clean(report), indent=1, allow_nan=False)
    return write_atomic(path, text + "\n", "JSON report")


def write_atomic(path: str | os.PathLike[str], text: str, what: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``:
    a crash leaves the old file, never half a new one (nor the temporary file)."""
    p = Path(path)
    tmp = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=p.name + ".", dir=p.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, p)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise RoutebenchError(f"cannot write {what} {str(p)!r}: {exc.strerror}") from None
    return p


def read_text(p: Path, what: str) -> str:
    """A UTF-8 file's text; a one-line error when it cannot be read or is not ``what``."""
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutebenchError(f"cannot read {str(p)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise RoutebenchError(f"{str(p)!r} is not {what}: {exc}") from None


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a report and check its schema; a clear error for anything else."""
    p = Path(path)
    try:
        data = json.loads(read_text(p, "JSON"))
    except json.JSONDecodeError as exc:
        raise RoutebenchError(f"{str(p)!r} is not JSON: {exc}") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or not schema.startswith("routebench/"):
        raise RoutebenchError(
            f"{str(p)!r} is not a routebench report (no \"schema\": \"{SCHEMA}\")"
        )
    if schema != SCHEMA:
        raise RoutebenchError(f"{str(p)!r} has schema {schema!r}; this routebench reads {SCHEMA!r}")
    if not isinstance(data.get("results"), list):
        raise RoutebenchError(f"{str(p)!r}: \"results\" must be a list")
    for i, r in enumerate(data["results"]):
        what = f"{str(p)!r}: result {i + 1}"
        if not isinstance(r, dict):
            raise RoutebenchError(f"{what} is {type(r).__name__}, expected an object")
        if not isinstance(r.get("metrics", {}), dict):
            raise RoutebenchError(f"{what}: \"metrics\" must be an object of name: number")
        nodes = r.get("nodes")
        if nodes is not None and (isinstance(nodes, bool) or not isinstance(nodes, int)):
            raise RoutebenchError(f"{what}: \"nodes\" is {nodes!r}, expected a whole number")
        bad = [k for k, v in r.get("metrics", {}).items()
               if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))]
        if bad:
            raise RoutebenchError(f"{what}: metric {bad[0]!r} is "
                                  f"{r['metrics'][bad[0]]!r}, expected a number or null")
    return data
