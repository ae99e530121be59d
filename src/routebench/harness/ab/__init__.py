"""Interleaved A/B timing of two versions in worker processes, for CI timing gates."""

from .abtiming import ABResult, Arm, LocalArm, PythonArm, interleaved_timing

__all__ = ["ABResult", "Arm", "LocalArm", "PythonArm", "interleaved_timing"]
