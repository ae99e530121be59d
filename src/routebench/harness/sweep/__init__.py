"""Sweeps: a grid of cells (strategy x N x trace x replicate) from a TOML file, run in
this process or on Dask, streamed into one report; seeds never depend on scheduling."""

from ._cells import run_cell
from ._config import Cell, SweepConfig, cell_seed, load_config, parse_config
from ._execute import (
    SCHEDULER_ENV,
    SweepOutcome,
    csv_columns,
    default_workers,
    estimate,
    resume_state,
    run_sweep,
)

__all__ = ["Cell", "SweepConfig", "load_config", "parse_config", "cell_seed", "run_cell",
           "run_sweep", "SweepOutcome", "resume_state", "csv_columns", "estimate",
           "default_workers", "SCHEDULER_ENV"]
