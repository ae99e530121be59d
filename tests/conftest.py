"""Shared test setup: hypothesis profiles and the real sample datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# default: the same 40 examples a property on every run (derandomized), so CI and
# the README's `pytest` give one answer; "thorough" searches afresh each run with
# 10x the examples: HYPOTHESIS_PROFILE=thorough pytest
settings.register_profile(
    "default", deadline=None, max_examples=40, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=400,
                          derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: ../shared/datasets from the project root: real traces, absent in a user's clone
SHARED_DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real sample traces not present at {SHARED_DATASETS}")
    return SHARED_DATASETS
