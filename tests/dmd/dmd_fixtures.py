"""Tiny DMD shapes (d=8, 2 heads, 1 layer, lengths 6/10/10) shared by the DMD tests."""

import torch

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 6, "audio": 10, "vision": 10}
TINY = {"d_model": 8, "heads": 2, "layers": 1}
NO_DROPOUT = {"attn_dropout": 0.0, "text_dropout": 0.0, "output_dropout": 0.0}


def make_batch(size=6, seed=0):
    """A batch dict like `TensorSplit.batch` gives; labels repeat so every margin variant has pairs."""
    gen = torch.Generator().manual_seed(seed)
    batch = {m: torch.randn(size, LENGTHS[m], DIMS[m], generator=gen) for m in DIMS}
    batch["label"] = torch.tensor([-2.0, -2.0, 0.4, 0.4, 1.6, 2.8] * (size // 6 + 1))[:size]
    batch["index"] = torch.arange(size)
    return batch
