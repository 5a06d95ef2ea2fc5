"""Every random state a training run draws from, captured into and restored from a checkpoint.

A trial resumed from its checkpoint must continue bit-identically (on the same device) to the
run that was not interrupted: dropout draws from torch's global CPU generator (and the current
CUDA device's on a GPU), the data order from the trainer's own generator (saved beside this),
and numpy's and Python's global generators are kept too, for any code that draws from them.

Everything is stored as tensors, ints and tuples: a checkpoint stays loadable with
`torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def capture() -> dict:
    """The global generators' states now (CUDA's only where CUDA was already initialised)."""
    np_state = np.random.get_state(legacy=False)
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    """Sets the generators `capture` saved. Tensors may arrive on a GPU (a checkpoint loaded with
    map_location=cuda): generator states are CPU byte tensors, so they are brought back first."""
    torch.set_rng_state(state["torch"].cpu())
    np_state = state["numpy"]
    np.random.set_state({"bit_generator": np_state["bit_generator"],
                         "state": {"key": np_state["key"].cpu().numpy().astype(np.uint32), "pos": np_state["pos"]},
                         "has_gauss": np_state["has_gauss"], "gauss": np_state["gauss"]})
    random.setstate(_as_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        torch.cuda.set_rng_state_all(cuda[:torch.cuda.device_count()])


def _as_tuples(value):
    """random.setstate wants the tuples getstate gave (a round trip may hand back lists)."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
