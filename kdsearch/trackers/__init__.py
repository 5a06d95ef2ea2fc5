"""Experiment trackers a lab already uses, fed with every trial's parameters and epochs (no Ray).

`kdsearch run --log tensorboard` writes one TensorBoard run per trial under results/<name>/tb/
(`tensorboard --logdir results/<name>/tb`); `--log mlflow[=URI]` records each trial as an MLflow
run (parameters, per-epoch metrics, the best checkpoint as an artifact) in URI, by default a local
store in results/<name>/mlruns/ (a SQLite database and the artifacts:
`mlflow ui --backend-store-uri sqlite:///results/<name>/mlruns/mlflow.db`). Both are
optional extras (`pip install "kdsearch[tensorboard]"`, `"kdsearch[mlflow]"`); asking for one
that is not installed is refused with one line naming the extra, before the search starts.

A tracker has four calls, made on the driver by `kdsearch.search.callbacks.TrackerCallback`:
`start(trial_id, params)`, `epoch(trial_id, epoch, metrics)`, `end(trial_id, status, checkpoint)`
and `close()`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from kdsearch.errors import UserError

KINDS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}  # kind -> (module, extra)


@dataclass(frozen=True)
class TrackerSpec:
    kind: str
    uri: str | None = None


def parse_log(values: list[str] | None) -> list[TrackerSpec]:
    """`--log tensorboard`, `--log mlflow`, `--log mlflow=URI` (repeatable) -> checked specs.

    Raises:
        UserError: an unknown tracker, or one whose package (extra) is not installed.
    """
    specs = []
    for value in values or []:
        kind, _, uri = value.partition("=")
        if kind not in KINDS:
            raise UserError(f"unknown tracker {kind!r}; choose tensorboard or mlflow[=URI]", field="--log")
        if uri and kind != "mlflow":
            raise UserError(f"{kind} takes no URI (it writes to results/<name>/tb)", field="--log")
        module, extra = KINDS[kind]
        try:
            importlib.import_module(module)
        except ImportError:
            raise UserError(f"{kind} is not installed: pip install \"kdsearch[{extra}]\"", field="--log") from None
        specs.append(TrackerSpec(kind, uri or None))
    return specs


def build_trackers(specs: list[TrackerSpec], folder: Path, name: str) -> list:
    """The tracker objects of a search whose results go to `folder`."""
    out = []
    for spec in specs:
        if spec.kind == "tensorboard":
            from kdsearch.trackers.tensorboard import TensorBoardTracker

            out.append(TensorBoardTracker(Path(folder) / "tb"))
        else:
            from kdsearch.trackers.mlflow import MLflowTracker

            # MLflow 3 keeps its plain-file store in maintenance mode (it refuses it by default):
            # the local default is a SQLite database with the artifacts beside it, in mlruns/.
            store = Path(folder).absolute() / "mlruns"
            store.mkdir(parents=True, exist_ok=True)
            uri = spec.uri or f"sqlite:///{store / 'mlflow.db'}"
            out.append(MLflowTracker(uri, experiment=name,
                                     artifacts=None if spec.uri else (store / "artifacts").as_uri()))
    return out
