"""Kind `dmd`: a DMD model trains on its own (paper 003): L_task + λ1·L_dec + λ2·L_dtl.

Its config is the `model:` section; it has no teacher, student or distill section.
"""

from __future__ import annotations

import torch

from kdsearch.errors import SpaceError, UserError
from kdsearch.spec import schema
from kdsearch.spec.kinds.base import ExperimentKind, Run, register_kind



@register_kind
class DMDKind(ExperimentKind):
    name = "dmd"
    model_section = "model"
    model_arch = "dmd"

    def sections(self, raw: dict, file: str) -> dict:
        from kdsearch.train.dmd_objective import DMD_DEFAULTS

        for section in schema.DISTILL_ONLY:
            if section in raw:
                raise SpaceError("not used by a kind: dmd experiment (its model is the `model:` section)",
                                 file=file, field=section)
        return {"model": dict(DMD_DEFAULTS)}

    def check(self, space) -> None:
        """Build the DMD objective of every categorical combination once (on the meta device):
        bad keys and values named, and a model too big for the device refused."""
        from kdsearch.spec.combos import categorical_configs
        from kdsearch.spec.model_memory import BYTES_TRAINED, on_meta, refuse_if_too_big
        from kdsearch.models.build import count_parameters
        from kdsearch.train.dmd_objective import DMD_DEFAULTS, build_dmd_objective
        from kdsearch.train.experiment import data_shapes
        from kdsearch.train.tasks import get_task

        for cfg in categorical_configs(space):
            dims, lengths = data_shapes(cfg)
            task = get_task(cfg["task"])

            def size_of(model_cfg: dict) -> int:
                return count_parameters(build_dmd_objective(model_cfg, dims=dims, lengths=lengths, task=task))

            try:
                with on_meta(file=space.file, field="model"):
                    params = size_of(cfg["model"])
                refuse_if_too_big(need=BYTES_TRAINED * params, params=params, what="the model",
                                  gpus_per_trial=space.resources["gpus_per_trial"], section="model",
                                  cfg=cfg["model"], defaults=DMD_DEFAULTS, size_of=size_of, searched=space.params)
            except UserError as exc:
                raise SpaceError(exc.problem, file=space.file, field=exc.field or "model") from None
            except (ValueError, TypeError) as exc:
                raise SpaceError(str(exc), file=space.file, field="model") from None

    def check_searched(self, cfg: dict, space, path: str) -> None:
        """Build the objective with an end of a searched range: `model.output_dropout` up to 1.5
        is refused here exactly as the fixed value 1.2 is."""
        from kdsearch.spec.model_memory import on_meta
        from kdsearch.train.dmd_objective import build_dmd_objective
        from kdsearch.train.experiment import data_shapes
        from kdsearch.train.tasks import get_task

        if path.startswith("model."):
            dims, lengths = data_shapes(cfg)
            with on_meta(file=space.file, field="model"):
                build_dmd_objective(cfg["model"], dims=dims, lengths=lengths, task=get_task(cfg["task"]))

    def summary(self, config: dict) -> str:
        return "DMD"

    def model_title(self, config: dict) -> str:
        return "the DMD model"

    def build_run(self, exp: dict, arrays: dict, teacher_blob: dict, device: torch.device, targets=None) -> Run:
        from kdsearch.train.dmd_objective import build_dmd_objective
        from kdsearch.train.experiment import tensor_split
        from kdsearch.train.tasks import get_task
        from kdsearch.train.trainer import Trainer, TrainSettings

        settings = TrainSettings.from_config(exp["train"])
        torch.manual_seed(settings.seed)
        task = get_task(exp["task"])
        objective = build_dmd_objective(exp["model"], dims=teacher_blob["dims"], lengths=teacher_blob["lengths"],
                                        task=task)
        objective.to(device)
        trainer = Trainer(objective, task, settings)
        return Run(trainer, tensor_split(arrays, "train", device), tensor_split(arrays, "valid", device),
                   objective.model)

    def model_file_config(self, exp: dict) -> dict:
        return {"arch": "dmd", **exp["model"]}
