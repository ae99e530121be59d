"""The discrete-event simulator: sessions and requests through a balancer to backends.

``Scenario`` describes the backends, clients, sessions and events; ``simulate``
runs one balancer through it; ``Dist``, ``KeyDist`` and ``Event`` are the
scenario's building blocks; ``PRESETS`` the named scenarios of
``routebench simulate --scenario``.
"""

from ._simdist import EVENT_KINDS, Dist, Event, KeyDist
from .scenarios import PRESETS, Preset, get_preset, scenario_flags
from .simulator import STORES, Scenario, SimResult, backend_names, make_balancer, simulate

__all__ = ["Dist", "KeyDist", "Event", "EVENT_KINDS", "Scenario", "SimResult", "simulate",
           "make_balancer", "backend_names", "STORES", "Preset", "PRESETS", "get_preset",
           "scenario_flags"]
