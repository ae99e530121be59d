"""The one skip-or-fail for tests that need a real server: skip naming the package to
install, or fail when ROUTEBENCH_REQUIRE_SERVERS=1 (CI installs them and must run them)."""

from __future__ import annotations

import os

import pytest

from routebench.harness.live._procs import find_binary
from routebench.harness.live.runner import BINARIES, NPM_BINARIES


def missing(msg: str) -> None:
    """Skip with ``msg``, or fail with it under ROUTEBENCH_REQUIRE_SERVERS=1."""
    if os.environ.get("ROUTEBENCH_REQUIRE_SERVERS") == "1":
        pytest.fail(msg + "; ROUTEBENCH_REQUIRE_SERVERS=1 requires it")
    pytest.skip(msg)


def _package(binary: str) -> str:
    if binary in NPM_BINARIES:
        return f"npm package {NPM_BINARIES[binary]}: npm install -g {NPM_BINARIES[binary]}"
    return f"Debian package {BINARIES.get(binary, binary)}"


def require(*binaries: str) -> None:
    """Skip (or fail) unless every one of ``binaries`` is on PATH."""
    absent = [b for b in binaries if find_binary(b) is None]
    if absent:
        missing("; ".join(f"{b} is not installed ({_package(b)})" for b in absent))
