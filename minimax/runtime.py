"""Devices and random streams: everything explicit, nothing global (design.md conventions)."""

from __future__ import annotations

import numpy as np


def resolve_device(device: str = "auto") -> str:
    """Map ``"auto"`` to ``"cuda"`` when a CUDA device is present, else ``"cpu"``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} is not allowed: no CUDA device is present")
        return device
    raise ValueError(f"device={device!r} is not allowed: expected 'auto', 'cpu' or 'cuda[:k]'")


def torch_generator(rng: np.random.Generator, device: str = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded from (and advancing) the numpy Generator."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return g
