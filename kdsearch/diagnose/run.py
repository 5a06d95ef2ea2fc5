"""Load a teacher (and optionally a student), run one data split through it, collect map statistics.

Every attention map of every encoder is requested (`maps_for` = all pairs), at temperature 1,
in eval mode under no_grad; batches are folded into `MapStats` running sums right away, so memory
holds one batch of maps at a time, not the split's.

Event steps (synthetic files store ``audio_events``/``vision_events``: the planted informative
steps) are matched to a map through its *key* stream: for the teacher, keys from V use the vision
events and keys from A the audio events (text has none); a student's streams are all projections
of the video, so its maps use the vision events when the key length equals T_v.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kdsearch.diagnose.accumulate import MapStats
from kdsearch.diagnose.stats import probabilities
from kdsearch.errors import DataError, UserError
from kdsearch.data.schema import MODALITIES

STUDENT_BLOB_KEYS = ("state_dict", "config")


@dataclass
class ModelMaps:
    """The statistics of every map of one model: role ("teacher"/"student") and `MapStats` list."""

    role: str
    maps: list[MapStats]
    heads: int


def key_stream(pair: str) -> str:
    """Letter of the stream keys come from: "V" for "V<-A" (query A), "V" for "mem_V"."""
    if pair.startswith("mem_"):
        return pair[-1]
    return pair.partition("<-")[0]


def _strip_prefix(state: dict, prefix: str) -> dict:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def build_teacher_from_blob(blob: dict, path: str):
    """The teacher (MulT or DMD) a cached checkpoint describes, weights loaded, in eval mode."""
    from kdsearch.train.teachers import TEACHER_ARCHS, build_any_teacher

    missing = [k for k in ("state_dict", "config", "dims", "lengths", "n_out") if k not in blob]
    if missing:
        raise UserError(f"not a kdsearch teacher checkpoint (missing {', '.join(missing)})", file=path)
    arch = blob.get("arch", "mult")
    if arch not in TEACHER_ARCHS:
        raise UserError(f"unsupported teacher arch {arch!r} (a teacher is {' or '.join(map(repr, TEACHER_ARCHS))})",
                        file=path, field="arch")
    # The cache stores `arch` both beside the config and (since DMD teachers) inside it.
    config = {**blob["config"], "arch": arch}
    teacher = build_any_teacher(config, dims=blob["dims"], lengths=blob["lengths"], n_out=blob["n_out"])
    _load_weights(teacher, blob["state_dict"], path)
    return teacher.eval()


def build_student_from_blob(blob: dict, path: str, teacher_blob: dict):
    """A video student from a checkpoint dict, weights loaded, in eval mode.

    Takes a model file (`kdsearch.models.checkpoint`, arch "video_student") or any dict with
    ``state_dict`` (the student's, or a `DistillObjective`'s with its "student." prefix) and
    ``config`` (the space's `student:` section, or a whole experiment config holding one);
    ``dims``, ``lengths``, ``n_out`` default to the teacher's, since a student is built on the
    teacher's lengths.
    """
    from kdsearch.models.build import build_student

    if blob.get("arch", "video_student") != "video_student":
        raise UserError(f"arch is {blob['arch']!r}: --student needs a video student (arch 'video_student')",
                        file=path, field="arch")
    missing = [k for k in STUDENT_BLOB_KEYS if k not in blob]
    if missing or not isinstance(blob.get("config"), dict):
        raise UserError(f"not a student checkpoint: expected a dict with {', '.join(STUDENT_BLOB_KEYS)}"
                        f" (missing {', '.join(missing) or 'a config dict'})", file=path)
    config = blob["config"].get("student", blob["config"])
    student = build_student(config, dims=blob.get("dims", teacher_blob["dims"]),
                            lengths=blob.get("lengths", teacher_blob["lengths"]),
                            n_out=blob.get("n_out", teacher_blob["n_out"]))
    _load_weights(student, _strip_prefix(blob["state_dict"], "student."), path)
    return student.eval()


def _load_weights(model: torch.nn.Module, state: dict, path: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # shapes or names do not match the config stored beside them
        raise UserError(f"weights do not match the stored config: {str(exc).splitlines()[0]}",
                        file=path, field="state_dict") from None


def check_shapes(split_arrays, blob: dict, data_path: str, split: str) -> None:
    """The split's feature widths and lengths must be those the teacher was trained on."""
    for name in MODALITIES:
        _, length, dim = split_arrays.modality(name).shape
        want = (blob["lengths"][name], blob["dims"][name])
        if (length, dim) != want:
            raise DataError(f"(T, D) = ({length}, {dim}) but the teacher was trained on {want}",
                            file=data_path, field=f"{split}/{name}")


def event_steps(role: str, pair: str, t_k: int, extras: dict, lengths: dict) -> np.ndarray | None:
    """(N, E) event steps in the key coordinates of `pair`, or None when unknown for its keys."""
    letter = key_stream(pair)
    if role == "student":
        field = "vision_events" if t_k == lengths["vision"] else None
    else:
        field = {"V": "vision_events", "A": "audio_events"}.get(letter)
    steps = extras.get(field) if field else None
    if steps is None or steps.ndim != 2 or steps.size == 0 or int(steps.max()) >= t_k:
        return None
    return steps


def collect_maps(model, role: str, split_arrays, *, lengths: dict, batch_size: int = 64,
                 max_samples: int | None = None, per_head: bool = False, top_k: int | None = None,
                 device: torch.device | str = "cpu") -> ModelMaps:
    """Run `split_arrays` through `model` and accumulate the statistics of all its maps.

    Args:
        model: a `MulTTeacher` (role "teacher") or `VideoStudent` (role "student"), in eval mode.
        role: "teacher" feeds text, audio and vision; "student" feeds vision only.
        split_arrays: a `SplitArrays` (numpy features, ``extras`` with optional events).
        lengths: the teacher's sequence lengths per modality.
        batch_size: samples per forward pass.
        max_samples: use only the first N samples.
        per_head: also keep per-head statistics.
        top_k: k of the top-k mass; default the event count when known, else 2.
        device: where to run the model.

    Returns:
        `ModelMaps` with one `MapStats` per (pair, layer), in the model's pair order.
    """
    n = split_arrays.n if max_samples is None else min(split_arrays.n, max_samples)
    if n < 1:
        raise UserError("no samples to diagnose", field="max_samples" if max_samples is not None else "split")
    model = model.to(device).eval()
    names = frozenset(model.pair_names)
    events_by_pair = {pair: event_steps(role, pair, model.map_shape(pair)[1], split_arrays.extras, lengths)
                      for pair in model.pair_names}
    known = [e for e in events_by_pair.values() if e is not None]
    k = top_k if top_k is not None else (known[0].shape[1] if known else 2)
    accumulators: dict[tuple[str, int], MapStats] = {}
    heads = 0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            inputs = {m: torch.from_numpy(np.ascontiguousarray(split_arrays.modality(m)[start:stop])).float()
                      .to(device) for m in MODALITIES}
            out = model(**inputs, maps_for=names) if role == "teacher" else model(inputs["vision"], maps_for=names)
            for pair in model.pair_names:
                events = events_by_pair[pair]
                batch_events = None if events is None else torch.from_numpy(events[start:stop]).to(device)
                for layer, scores in enumerate(out.attn_scores[pair]):
                    heads = scores.shape[1]
                    acc = accumulators.setdefault((pair, layer), MapStats(pair, layer, top_k=k, per_head=per_head))
                    acc.update(probabilities(scores), out.attn_mask.get(pair), batch_events)
    return ModelMaps(role=role, maps=list(accumulators.values()), heads=heads)
