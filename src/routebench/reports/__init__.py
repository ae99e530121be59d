"""Reports: result records to tables, JSON and comparisons."""

from .json_report import SCHEMA, environment, make_report, read_json, write_json
from .sim_table import sim_table
from .table import FORMATS, format_table, run_table

__all__ = [
    "FORMATS",
    "SCHEMA",
    "environment",
    "format_table",
    "make_report",
    "read_json",
    "run_table",
    "sim_table",
    "write_json",
]
