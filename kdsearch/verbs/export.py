"""`kdsearch export results/<name> --out student.pt`: the best video-only student, ready to run.

The model is restored from its best validation epoch's checkpoint and written with what is
needed to feed it: the input it expects (video features only, shape (B, T_v, D_v), sequences
left-padded with zeros or truncated to T_v, NaN/inf replaced by 0) and how to read its output
(7 class logits for classes round(clip(y,-3,3))+3, or one regression value).

Formats: ``kdsearch`` (a self-describing model file; `kdsearch predict` runs it), ``torchscript``
(traced; loads with `torch.jit.load` and no kdsearch), ``onnx`` (needs the `onnx` package).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from rich.console import Console

from kdsearch.errors import UserError
from kdsearch.results.store import read_results
from kdsearch.results.table import best_trial


def preprocess_info(exp: dict, dims: dict, lengths: dict) -> dict:
    classification = exp["task"] == "classification"
    return {
        "input": "vision", "shape": ["batch", int(lengths["vision"]), int(dims["vision"])], "dtype": "float32",
        "padding": "left-pad with zeros (or keep the last T_v steps): the model pools the last time step",
        "nonfinite": "replace NaN and +-inf by 0",
        "output": ("7 logits; class k means sentiment k - 3 (round(clip(y, -3, 3)) + 3)" if classification
                   else "one regression value, sentiment in [-3, 3]"),
    }


def export(results_dir: str | Path, out: str | Path, *, fmt: str = "kdsearch", trial_id: str | None = None,
           console: Console | None = None) -> Path:
    from kdsearch.models.checkpoint import model_blob, save_model_file
    from kdsearch.verbs.evaluate import restore_trial
    from kdsearch.spec.kinds import kind_of
    from kdsearch.train.experiment import data_shapes_of
    from kdsearch.train.tasks import get_task

    console = console or Console()
    folder = Path(results_dir)
    meta, trials, _ = read_results(folder)
    if trial_id is None:
        row = best_trial(trials, metric=meta["metric"], mode=meta["mode"])
        if row is None:
            raise UserError("no trial has a validation result to export", file=str(folder / "trials.parquet"))
    else:
        match = trials[trials["trial_id"] == trial_id]
        if match.empty:
            raise UserError(f"no trial {trial_id!r}", file=str(folder / "trials.parquet"), field="--trial")
        row = match.iloc[0]
    trainer, exp, dataset, epoch, model = restore_trial(folder, row["trial_id"], row.get("best_epoch"))
    kind = kind_of(exp)
    if not kind.exportable:
        raise UserError(f"a {kind.name} search trains a multimodal model, not a video-only student; "
                        "export applies to distillation searches", file=str(folder))
    model.eval()
    shapes = data_shapes_of(dataset.to_arrays())
    info = preprocess_info(exp, shapes["dims"], shapes["lengths"])
    out = Path(out)
    if fmt == "kdsearch":
        blob = model_blob(model, arch=kind.model_arch, config=kind.model_file_config(exp), dims=shapes["dims"],
                          lengths=shapes["lengths"], n_out=get_task(exp["task"]).n_out,
                          task=exp["task"], source=f"{folder.name}/{row['trial_id']}@epoch{epoch}",
                          preprocess=info)
        save_model_file(blob, out)
    else:
        example = torch.zeros(1, shapes["lengths"]["vision"], shapes["dims"]["vision"])
        wrapped = _LogitsOnly(model).eval()
        if fmt == "torchscript":
            import warnings

            with torch.no_grad(), warnings.catch_warnings():
                # Sequence lengths are fixed for a model (inputs are padded to T_v), so the
                # tracer's "treated as a constant" warnings about them are expected.
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                torch.jit.trace(wrapped, example).save(str(out))
        else:
            _export_onnx(wrapped, example, out)
        out.with_suffix(out.suffix + ".json").write_text(json.dumps(
            {"source": f"{folder.name}/{row['trial_id']}", "epoch": epoch, "task": exp["task"], **info}, indent=2))
    metric = meta["metric"]
    console.print(f"Exported trial {row['trial_id']} (epoch {epoch}, {metric}={row[f'best_{metric}']:.4f}) "
                  f"as {fmt} -> {out}")
    return out


class _LogitsOnly(torch.nn.Module):
    """The student's forward reduced to video -> logits (what tracing and ONNX need)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, vision: torch.Tensor) -> torch.Tensor:
        return self.model(vision).logits


def _export_onnx(model: torch.nn.Module, example: torch.Tensor, out: Path) -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx needs it to write the file)
    except ImportError:
        raise UserError("ONNX export needs the onnx package: pip install onnx", field="--format") from None
    torch.onnx.export(model, (example,), str(out), input_names=["vision"], output_names=["logits"],
                      dynamic_axes={"vision": {0: "batch"}, "logits": {0: "batch"}})


def export_command(results_dir: str, out: str, *, fmt: str = "kdsearch", trial_id: str | None = None,
                   console: Console | None = None) -> int:
    export(results_dir, out, fmt=fmt, trial_id=trial_id, console=console)
    return 0
