"""The static engine: keyed strategies over traces (balance, remap, NAT skew, speed)."""

from .runner import DEFAULT_NODES, StaticScenario, StrategySpec, run_static

__all__ = ["DEFAULT_NODES", "StaticScenario", "StrategySpec", "run_static"]
