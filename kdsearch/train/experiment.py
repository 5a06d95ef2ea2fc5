"""From an experiment config to the things a run trains: models, the KD loss, data tensors.

`kdsearch train`, a search trial and `kdsearch validate` all build through these functions, so
what validation accepted is exactly what a trial will build.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from kdsearch.data.schema import MODALITIES
from kdsearch.train.tasks import get_task



def data_shapes(config: dict) -> tuple[dict[str, int], dict[str, int]]:
    """Feature dims and sequence lengths of the config's dataset, without loading it."""
    from kdsearch.data.source import dataset_shapes

    return dataset_shapes(config["data"])


def data_shapes_of(arrays: dict) -> dict:
    """{"dims", "lengths"} of a dataset's flat `split/field` arrays: what a run that reads no
    teacher needs in place of a teacher blob (the blob carries them otherwise)."""
    dims = {m: arrays[f"train/{m}"].shape[2] for m in MODALITIES}
    lengths = {m: arrays[f"train/{m}"].shape[1] for m in MODALITIES}
    return {"dims": dims, "lengths": lengths}


def build_models(config: dict, dims: dict | None = None, lengths: dict | None = None):
    """The (teacher, student) pair the config describes, freshly initialised."""
    from kdsearch.models.build import build_student
    from kdsearch.train.teachers import build_any_teacher

    if dims is None or lengths is None:
        dims, lengths = data_shapes(config)
    n_out = get_task(config["task"]).n_out
    teacher = build_any_teacher(config["teacher"], dims=dims, lengths=lengths, n_out=n_out)
    student = build_student(config["student"], dims=dims, lengths=lengths, n_out=n_out)
    return teacher, student


def build_student_only(config: dict, dims: dict, lengths: dict):
    from kdsearch.models.build import build_student

    return build_student(config["student"], dims=dims, lengths=lengths, n_out=get_task(config["task"]).n_out)


def default_pairs(config: dict) -> dict[str, str]:
    """Paper 000's student-pair -> teacher-pair mapping for the student's configuration."""
    from kdsearch.models.video_student import DISTILLED_PAIRS

    return dict(DISTILLED_PAIRS[int(config["student"]["config"])])


def build_kd_loss(config: dict):
    """The configured distillation loss, or None when beta is 0 (the no-KD baseline)."""
    if float(config["loss"]["beta"]) == 0.0:
        return None
    return make_kd_loss(config)


def make_kd_loss(config: dict):
    """The loss the `distill:` section describes (validation builds it even where beta is 0,
    since a searched beta can make it run)."""
    from kdsearch.distill import build_loss, loss_options, options_for

    distill, method = config["distill"], config["distill"]["method"]
    # Pairs go to the losses that take them (logit KD distils the outputs: it has no pairs).
    given = {"pairs": distill["pairs"] or default_pairs(config)} if "pairs" in loss_options(method) else {}
    return build_loss(method, **given, **options_for(method, distill))


@dataclass
class TensorSplit:
    """One split as tensors on the training device; `index` lets losses address samples."""

    text: torch.Tensor
    audio: torch.Tensor
    vision: torch.Tensor
    label: torch.Tensor
    labelled: torch.Tensor | None = None  # bool (N,): whose label the task loss may use

    @property
    def n(self) -> int:
        return self.label.shape[0]

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"text": self.text[idx], "audio": self.audio[idx], "vision": self.vision[idx],
               "label": self.label[idx], "index": idx}
        if self.labelled is not None:
            out["labelled"] = self.labelled[idx]
        return out

    def batches(self, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None):
        order = (torch.randperm(self.n, generator=generator) if shuffle else torch.arange(self.n))
        order = order.to(self.label.device)
        for start in range(0, self.n, batch_size):
            yield self.batch(order[start:start + batch_size])


def labelled_mask(n: int, fraction: float, seed: int) -> torch.Tensor | None:
    """A fixed, seeded subset of round(fraction * n) samples (None when every label is used)."""
    if fraction >= 1.0:
        return None
    count = max(1, int(round(fraction * n)))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    mask = torch.zeros(n, dtype=torch.bool)
    mask[order[:count]] = True
    return mask


def tensor_split(arrays: dict[str, np.ndarray], split: str, device: torch.device) -> TensorSplit:
    """Wrap the flat `split/field` arrays (often read-only, zero-copy from Ray's object store).

    On CPU the tensors share memory with the arrays, so a trial does not copy the dataset; on a
    GPU the split is moved once and stays resident (no per-batch host->device copies).
    """
    with warnings.catch_warnings():
        # Arrays from the object store are read-only; nothing here ever writes to them.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensors = {k: torch.from_numpy(arrays[f"{split}/{k}"]) for k in (*MODALITIES, "label")}
    return TensorSplit(**{k: v.to(device) for k, v in tensors.items()})
