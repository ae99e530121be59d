"""Reports as files: written atomically, read back checked and migrated.

The report's shape, schema and records are ``routebench.records``'.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .._errors import RoutebenchError
from ..records import Report, clean_json

__all__ = ["write_json", "read_json", "write_atomic", "read_text"]


def write_json(path: str | os.PathLike[str], report: dict[str, Any]) -> Path:
    """Write a report atomically (a crash leaves the old file, not half a new one)."""
    text = json.dumps(clean_json(report), indent=1, allow_nan=False)
    return write_atomic(path, text + "\n", "JSON report")


def write_atomic(path: str | os.PathLike[str], text: str, what: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``:
    a crash leaves the old file, never half a new one (nor the temporary file)."""
    p = Path(path)
    tmp = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=p.name + ".", dir=p.parent)
        # mkstemp makes the file 0600; give it the mode a plain open() would (0666 - umask)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
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
    """Read a report, check its schema and migrate an older one; a clear error otherwise."""
    p = Path(path)
    try:
        data = json.loads(read_text(p, "JSON"))
    except json.JSONDecodeError as exc:
        raise RoutebenchError(f"{str(p)!r} is not JSON: {exc}") from None
    return Report.from_json(data, repr(str(p)))
