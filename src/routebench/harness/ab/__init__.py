"""Interleaved A/B timing of two versions in worker processes, for CI timing gates."""

from .abtiming import ABResult, Arm, LocalArm, PythonArm, interleaved_timing
from .baseline import ABPlan, baseline_metrics, time_against_baseline, worker_pairs

__all__ = ["ABResult", "Arm", "LocalArm", "PythonArm", "interleaved_timing", "ABPlan",
           "baseline_metrics", "time_against_baseline", "worker_pairs"]
