"""Shared test configuration: tests marked ``gpu`` are skipped, with the reason, without CUDA."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import os

    import torch

    if torch.cuda.is_available() or os.environ.get("MINIMAX_GPU_TEST_DEVICE") == "cpu":
        return  # (the variable: a dry run of the GPU tests' logic on the CPU, tests/test_gpu.py)
    skip = pytest.mark.skip(reason="needs a CUDA device: torch.cuda.is_available() is False")
    for item in gpu_items:
        item.add_marker(skip)
