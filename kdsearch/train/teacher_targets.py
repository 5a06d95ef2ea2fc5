"""Teacher targets computed once: what the KD loss reads from a frozen teacher, for every
training sample, read back by sample index instead of running the teacher each step (no Ray).

A frozen teacher in eval mode is a fixed function of its input (no dropout is drawn, no batch
statistics exist), so its attention scores, post-attention outputs, penultimate features and
logits for a sample are the same on every call, whatever batch the sample sits in. A trial then
needs only what its loss declares (`KDLoss.teacher_maps()`, `teacher_post_attention()`; the
logits and penultimate features, a few numbers per sample, always come along): computed here
once over the training split, stored as flat numpy arrays (Ray's object store shares them
zero-copy between trials, as it shares the data), and cached on disk under a key derived from
the teacher's own cache key, so a second search or `kdsearch train` reuses them.

Arrays are named ``logits``, ``features|<name>``, ``maps|<pair>|<layer>`` and
``post|<pair>|<layer>``; their first axis is the training sample. Storage is float32 (exact),
float16 or bfloat16 (half the memory; bfloat16 is kept as uint16 bits, numpy having no bfloat16).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kdsearch.atomic import atomic_path
from kdsearch.models.output import ModelOutput

# Bumped when what the cache stores for the same key changes meaning: old entries are rebuilt.
TARGET_RECIPE = 1
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
FILE = "targets.npz"
_BATCH = 256  # samples per teacher forward while filling the cache (any size gives the same values)


def wanted(kd) -> tuple[frozenset[str], frozenset[str]]:
    """(pairs whose maps, pairs whose post-attention outputs) the loss reads from the teacher."""
    return frozenset(kd.teacher_maps()), frozenset(kd.teacher_post_attention())


def target_key(teacher_cache_key: str, kd, dtype: str) -> str:
    """The cache key of one set of targets: the teacher (its own cache key: data fingerprint,
    task, architecture, training settings), what is stored, and how."""
    maps, post = wanted(kd)
    payload = {"teacher": teacher_cache_key, "maps": sorted(maps), "post": sorted(post), "dtype": dtype,
               "recipe": TARGET_RECIPE}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def key_for_config(config: dict, fingerprint: str) -> str:
    """`target_key` of a resolved distill config's teacher, KD loss and storage type."""
    from kdsearch.train.experiment import make_kd_loss
    from kdsearch.train.teacher_cache import teacher_key

    return target_key(teacher_key(config, fingerprint), make_kd_loss(config), storage_dtype(config))


def storage_dtype(config: dict) -> str:
    return str(config["distill"].get("teacher_cache_dtype", "float32"))


def _flatten(out: ModelOutput, maps, post) -> dict[str, torch.Tensor]:
    flat = {"logits": out.logits}
    flat.update({f"features|{name}": value for name, value in out.features.items()})
    for prefix, found, pairs in (("maps", out.attn_scores, maps), ("post", out.post_attention, post)):
        for pair in sorted(pairs):
            for layer, value in enumerate(found[pair]):
                flat[f"{prefix}|{pair}|{layer}"] = value
    return flat


def _teacher_output(teacher: nn.Module, batch: dict, maps, post) -> ModelOutput:
    from kdsearch.train.objectives import run_model

    return run_model(teacher, batch, maps, post)


def per_sample_shapes(teacher: nn.Module, kd, dims: dict, lengths: dict) -> dict[str, tuple[int, ...]]:
    """Name -> shape of one sample's targets, from a forward of one zero sample; a teacher built
    on PyTorch's meta device runs it without data or storage, so validation sizes the cache this
    way before anything runs."""
    from kdsearch.data.schema import MODALITIES

    maps, post = wanted(kd)
    was_training = teacher.training
    teacher.eval()
    device = next(teacher.parameters()).device
    batch = {m: torch.zeros(1, lengths[m], dims[m], device=device) for m in MODALITIES}
    with torch.no_grad():
        flat = _flatten(_teacher_output(teacher, batch, maps, post), maps, post)
    teacher.train(was_training)
    return {name: tuple(value.shape[1:]) for name, value in flat.items()}


def cache_bytes(shapes: dict[str, tuple[int, ...]], n_samples: int, dtype: str) -> int:
    """Bytes the targets of `n_samples` take at storage type `dtype`."""
    itemsize = torch.tensor([], dtype=STORAGE_DTYPES[dtype]).element_size()
    return int(n_samples * itemsize * sum(int(np.prod(s)) for s in shapes.values()))


def _to_numpy(value: torch.Tensor, dtype: str) -> np.ndarray:
    value = value.detach().to("cpu", STORAGE_DTYPES[dtype])
    if dtype == "bfloat16":
        return value.view(torch.int16).numpy().view(np.uint16)
    return value.numpy()


@torch.no_grad()
def compute_targets(teacher: nn.Module, split, kd, dtype: str = "float32", batch_size: int = _BATCH,
                    progress=None) -> dict[str, np.ndarray]:
    """Run the frozen `teacher` (eval mode) once over `split` (a `TensorSplit`, in sample order)
    and keep what `kd` reads, as arrays whose first axis is the sample index."""
    maps, post = wanted(kd)
    was_training = teacher.training
    teacher.eval()
    chunks: dict[str, list[np.ndarray]] = {}
    for start in range(0, split.n, batch_size):
        idx = torch.arange(start, min(start + batch_size, split.n), device=split.label.device)
        flat = _flatten(_teacher_output(teacher, split.batch(idx), maps, post), maps, post)
        for name, value in flat.items():
            chunks.setdefault(name, []).append(_to_numpy(value, dtype))
        if progress is not None:
            progress(min(start + batch_size, split.n), split.n)
    teacher.train(was_training)
    return {name: np.ascontiguousarray(np.concatenate(parts)) for name, parts in chunks.items()}


class TeacherTargets:
    """Targets by sample index, as the `ModelOutput` the teacher would have returned.

    Args:
        arrays: the flat arrays of `compute_targets` (read-only views from the object store are
            fine: nothing is written to them).
        device: where lookups happen. On a GPU the arrays are moved there once, like the data.
    """

    def __init__(self, arrays: dict[str, np.ndarray], device: torch.device | str = "cpu"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            self.tensors = {name: _from_numpy(arr).to(device) for name, arr in arrays.items()}
        self.n = int(self.tensors["logits"].shape[0])

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())

    def lookup(self, index: torch.Tensor) -> ModelOutput:
        """The teacher's output for the samples `index` (float32, as the teacher computes it)."""
        return output_from_flat({name: value[index].float() for name, value in self.tensors.items()})


def output_from_flat(flat: dict[str, torch.Tensor]) -> ModelOutput:
    """The `ModelOutput` whose flattened form (`compute_targets`' names) is `flat`."""
    out = ModelOutput(logits=flat["logits"])
    layers: dict[tuple[str, str], list] = {}
    for name, value in flat.items():
        kind, _, rest = name.partition("|")
        if kind == "features":
            out.features[rest] = value
        elif kind in ("maps", "post"):
            pair, _, layer = rest.rpartition("|")
            layers.setdefault((kind, pair), []).append((int(layer), value))
    for (kind, pair), found in layers.items():
        (out.attn_scores if kind == "maps" else out.post_attention)[pair] = [v for _, v in sorted(found)]
    return out


def _from_numpy(arr: np.ndarray) -> torch.Tensor:
    if arr.dtype == np.uint16:  # bfloat16 bits
        return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(arr)


# ---------------------------------------------------------------------- the disk cache
def targets_path(key: str) -> Path:
    from kdsearch.train.teacher_cache import cache_root

    return cache_root() / "teacher_targets" / key / FILE


def load_targets(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:  # numeric arrays only: nothing is unpickled
        return {name: data[name] for name in data.files}


def save_targets(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Atomic: a search killed mid-write leaves no half-written cache entry."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def get_targets(config: dict, fingerprint: str, teacher_blob: dict, arrays: dict, *, device="cpu",
                console=None) -> tuple[dict[str, np.ndarray], bool]:
    """The cached targets of this config's teacher and KD loss, computing them when missing.

    Args:
        config: a resolved distill experiment config (its `distill.teacher_cache_dtype` is used).
        fingerprint: the dataset's fingerprint (as for `teacher_key`).
        teacher_blob: the cached teacher (`kdsearch.train.teacher_cache.get_teacher`).
        arrays: the dataset's flat `split/field` arrays (the train split is read).

    Returns:
        (arrays, reused).
    """
    import time

    from kdsearch.train.experiment import make_kd_loss, tensor_split
    from kdsearch.train.teachers import build_any_teacher

    kd, dtype = make_kd_loss(config), storage_dtype(config)
    path = targets_path(key_for_config(config, fingerprint))
    if path.is_file():
        if console is not None:
            console.print(f"[green]Reusing cached teacher targets[/] {path}")
        return load_targets(path), True
    teacher = build_any_teacher(teacher_blob["config"], dims=teacher_blob["dims"], lengths=teacher_blob["lengths"],
                                n_out=teacher_blob["n_out"])
    teacher.load_state_dict(teacher_blob["state_dict"])
    teacher.to(device)
    started = time.perf_counter()
    targets = compute_targets(teacher, tensor_split(arrays, "train", torch.device(device)), kd, dtype)
    save_targets(targets, path)
    if console is not None:
        size = sum(a.nbytes for a in targets.values())
        console.print(f"Teacher targets computed once ({size / 2**20:.1f} MiB, {time.perf_counter() - started:.1f} s) "
                      f"and cached at {path}")
    return targets, False


def flat_teacher_output(teacher: nn.Module, batch: dict, kd) -> dict[str, torch.Tensor]:
    """What `kd` reads of the teacher's output on one batch, flat as the cache stores it (a pack
    whose students share their batches runs the teacher once a step this way)."""
    maps, post = wanted(kd)
    return _flatten(_teacher_output(teacher, batch, maps, post), maps, post)
