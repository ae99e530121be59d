"""Reports: result records to tables, JSON, comparisons and published reports."""

from .compare import Comparison, Gate, compare, load_gates, parse_gate
from .inspect import inspect_text
from .json_report import read_json, write_json
from .sim_table import sim_table
from .table import FORMATS, format_table, run_table

__all__ = [
    "FORMATS",
    "Comparison",
    "Gate",
    "compare",
    "format_table",
    "inspect_text",
    "load_gates",
    "parse_gate",
    "read_json",
    "run_table",
    "sim_table",
    "write_json",
]
