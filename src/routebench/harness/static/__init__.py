"""The static engine: keyed strategies over traces (balance, remap, NAT skew, speed)."""

from .lbrun import LbTrace, open_lb_trace, run_lb_config
from .removal import parse_removals, run_removals
from .runner import DEFAULT_NODES, StaticScenario, StrategySpec, run_static

__all__ = ["DEFAULT_NODES", "StaticScenario", "StrategySpec", "run_static", "run_removals",
           "parse_removals", "run_lb_config", "open_lb_trace", "LbTrace"]
