"""Inject a known slowdown into one strategy's batch lookup (for the timing-gate study).

Imported by an A/B worker through ``PythonArm(preload=...)``. Reads
``ROUTEBENCH_SLOWDOWN=name=factor`` (e.g. ``ring=1.25``) and makes that
strategy's ``lookup_many`` do ``factor`` times its work: after the real lookup
it looks up the first ``factor - 1`` share of the digests again.
"""

from __future__ import annotations

import os

from routebench.registry import registry

__all__: list[str] = []

_spec = os.environ.get("ROUTEBENCH_SLOWDOWN", "")
if _spec:
    _name, _, _factor = _spec.partition("=")
    _cls = registry.get(_name)
    _extra = float(_factor) - 1.0
    _orig = _cls.lookup_many

    def _slowed(self, digests):
        out = _orig(self, digests)
        _orig(self, digests[: int(len(digests) * _extra)])
        return out

    _cls.lookup_many = _slowed
