"""`kdsearch predict MODEL.pt DATA.h5 --split test --out preds.npy`: run any saved model.

A model file (`kdsearch.models.checkpoint`: a cached or imported teacher, or a student) is run
in eval mode over one split; the raw outputs (N, n_out) are written as float32 .npy, rows in the
file's sample order. When the model file names its task, the task's metrics on that split are
printed too. Nothing is trained and the test split is only read when asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from kdsearch.atomic import atomic_write
from kdsearch.errors import DataError, UserError
from kdsearch.data.schema import MODALITIES


@torch.inference_mode()
def predict_arrays(model: nn.Module, arrays, *, batch_size: int = 256,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """Outputs (N, n_out) of `model` on a split's arrays (`SplitArrays`), in order.

    A video-only student gets the video alone; a teacher gets all three modalities.
    """
    from kdsearch.train.objectives import run_model

    model.eval()
    outs = []
    n = arrays.label.shape[0]
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size)
        batch = {m: torch.from_numpy(np.ascontiguousarray(getattr(arrays, m)[rows])).to(device)
                 for m in MODALITIES}
        outs.append(run_model(model, batch).logits.float().cpu())
    return torch.cat(outs).numpy() if outs else np.zeros((0, 0), np.float32)


def check_compatible(blob: dict, dims: dict[str, int], lengths: dict[str, int], *, model_file: str,
                     data_file: str) -> list[str]:
    """Refuse data whose feature widths differ from the model's; notes for other lengths.

    Returns:
        Human-readable notes (e.g. sequence lengths that differ from the ones the model was built
        for: MulT-style encoders run on any length, but results may not be what was validated).
    """
    # Teachers (MulT, DMD) read all three modalities; a video-only student reads vision alone.
    wanted = {"vision": blob["dims"]["vision"]} if blob["arch"] == "video_student" else blob["dims"]
    for modality, dim in wanted.items():
        if int(dims[modality]) != int(dim):
            raise DataError(f"{modality} features are {dims[modality]}-d but the model {model_file} expects {dim}-d",
                            file=data_file, field=modality)
    return [f"{m} length {lengths[m]} differs from the model's {blob['lengths'][m]}"
            for m in MODALITIES if int(lengths[m]) != int(blob["lengths"][m])]


def predict_command(model_path: str, data_path: str, *, split: str = "test", out: str, batch_size: int = 256,
                    device: str = "cpu") -> int:
    """CLI body: load, check, predict, save, and print a one-line summary (plus metrics)."""
    from kdsearch.data.layout import load_dataset
    from kdsearch.train.model_files import load_model_file
    from kdsearch.train.tasks import TASKS

    if batch_size < 1:
        raise UserError(f"must be >= 1, got {batch_size}", field="--batch-size")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("CUDA is not available on this machine", field="--device")
    model, blob = load_model_file(model_path, device=device)
    dataset = load_dataset(data_path, splits=(split,))
    notes = check_compatible(blob, dataset.dims, dataset.lengths, model_file=model_path, data_file=data_path)
    arrays = dataset.splits[split]
    preds = predict_arrays(model, arrays, batch_size=batch_size, device=device)
    saved = _save_npy(preds, out)
    print(f"{model_path} ({blob['arch']}, {blob.get('task') or 'no task'}) on {data_path}:{split}: "
          f"{preds.shape[0]} samples -> {saved} {tuple(preds.shape)}")
    for note in notes:
        print(f"  note: {note}")
    task = TASKS.get(blob.get("task") or "")
    if task is not None and preds.shape[1] == task.n_out:
        metrics = task.metrics(preds, arrays.label)
        print("  " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return 0


def _save_npy(array: np.ndarray, out: str) -> Path:
    path = Path(out)
    if path.suffix != ".npy":
        path = path.with_name(path.name + ".npy")  # what np.save would do, but said up front
    try:
        atomic_write(path, lambda f: np.save(f, array.astype(np.float32)))
    except OSError as exc:
        raise UserError(f"cannot write predictions: {exc.strerror}", file=str(path), field="--out") from None
    return path
