"""One function seeds every random number generator a run touches: python, numpy and torch (CPU and CUDA)."""

from __future__ import annotations

import random

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA); numpy gets ``seed mod 2**32``."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
