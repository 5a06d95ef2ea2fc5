"""Import a state dict saved from the original MulT code's `MULTModel` as a `MulTTeacher`.

The original model (docs/methods.md §2.1) names its parts ``proj_{l,a,v}`` (Conv1d, no bias),
``trans_{x}_with_{y}`` (queries from x, keys/values from y: our pair "Y<-X"), ``trans_{x}_mem``,
``proj1``/``proj2``/``out_layer``; inside an encoder, ``layers.i.self_attn`` (fused in_proj,
out_proj), ``layers.i.fc1/fc2``, ``layers.i.layer_norms.{0,1}`` (before attention, before the
FFN) and a final ``layer_norm``. Our modules hold the same tensors under other names, so the
import is a renaming plus checks; nothing is recomputed.

What a state dict does not say is asked for (defaults: MulT's MOSEI settings, docs/methods.md §2.2):
the number of heads (5), the attention mask (on), the sequence lengths (text 50, audio 500,
vision 500: they size our mask and position buffers; inputs of other lengths still work), and
the dropouts (only used if the teacher is trained further). Width, layers, input dims, output
units and the branch (complete, or MulT's --vonly/--aonly/--lonly) are read from the weights.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from kdsearch.errors import UserError
from kdsearch.models.checkpoint import model_blob, read_weights_only, save_model_file
from kdsearch.models.mult_teacher import BRANCH_PAIRS, MulTTeacher
from kdsearch.models.options import InvalidOption

MOSEI_LENGTHS = {"text": 50, "audio": 500, "vision": 500}
MULT_DROPOUTS = {"attn_dropout": 0.1, "attn_dropout_a": 0.0, "attn_dropout_v": 0.0, "relu_dropout": 0.1,
                 "res_dropout": 0.1, "embed_dropout": 0.25, "out_dropout": 0.0}
_LETTER = {"l": "L", "a": "A", "v": "V"}
_INPUT = {"l": "text", "a": "audio", "v": "vision"}
_TASK_BY_OUTPUTS = {1: "regression", 7: "classification"}
_ENCODER_KEY = re.compile(r"^trans_([lav])_(?:with_([lav])|mem)\.(.+)$")
_LAYER_RENAMES = (("self_attn.", "attn."), ("layer_norms.0.", "norm_attn."), ("layer_norms.1.", "norm_ffn."))
_DROPPED = ("version", "embed_positions._float_tensor")  # MulT buffers with no weights in them


def read_mult_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a MulT state-dict file (a `DataParallel` "module." prefix is removed)."""
    file = str(path)
    state = read_weights_only(file, what="state dict file", objects_hint="MulT's save_model pickles the whole "
                              "model; re-save it with torch.save(model.state_dict(), path)")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError("not a state dict (expected parameter name -> tensor)", file=file)
    return {k.removeprefix("module."): v for k, v in state.items()}


def detect_branch(state: dict[str, torch.Tensor]) -> str:
    """"complete", or the branch of MulT's partial mode, from the cross-modal encoders present."""
    present = {f"{_LETTER[m.group(2)]}<-{_LETTER[m.group(1)]}" for k in state
               if (m := _ENCODER_KEY.match(k)) and m.group(2)}
    for branch, pairs in BRANCH_PAIRS.items():
        if present == set(pairs):
            return branch
    raise ValueError(f"cross-modal encoders {sorted(present)} match no MulT mode (all six, or the two of one "
                     f"branch)")


def _count_layers(state: dict, prefix: str) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"\.layers\.(\d+)\.", k))}
    return max(found) + 1 if found else 0


def _rename(key: str) -> str | None:
    """Our name for a MulT key; None for MulT buffers that hold no weights; KeyError if unknown."""
    for old, new in (("proj_l.", "projections.text."), ("proj_a.", "projections.audio."),
                     ("proj_v.", "projections.vision."), ("proj1.", "head.proj1."), ("proj2.", "head.proj2."),
                     ("out_layer.", "head.out_layer.")):
        if key.startswith(old):
            return new + key[len(old):]
    m = _ENCODER_KEY.match(key)
    if m is None:
        raise KeyError(key)
    query, source, rest = m.groups()
    name = f"{_LETTER[source]}<-{_LETTER[query]}" if source else f"mem_{_LETTER[query]}"
    if rest in _DROPPED:
        return None
    if rest.startswith("layer_norm."):
        return f"body.encoders.{name}.norm.{rest[len('layer_norm.'):]}"
    for old, new in _LAYER_RENAMES:
        rest = re.sub(r"^(layers\.\d+\.)" + re.escape(old), r"\g<1>" + new, rest)
    return f"body.encoders.{name}.{rest}"


def convert_mult_state_dict(state: dict[str, torch.Tensor], *, heads: int = 5, layers: int | None = None,
                            attn_mask: bool = True, lengths: dict[str, int] | None = None,
                            dropouts: dict[str, float] | None = None) -> tuple[MulTTeacher, dict, list[str]]:
    """A `MulTTeacher` holding the weights of an original `MULTModel` state dict.

    Args:
        state: the MulT state dict.
        heads: attention heads (not recorded in the weights).
        layers: cross-modal layers; None reads them from the weights, a number is checked.
        attn_mask: MulT's mask rule (argparse default on).
        lengths: sequence lengths (default `MOSEI_LENGTHS`).
        dropouts: MulT's dropouts (default `MULT_DROPOUTS`); irrelevant in eval mode.

    Returns:
        (teacher in eval mode, its config section, the MulT keys that were not needed: the mem
        encoders of the branches a partial-mode MulT never runs).

    Raises:
        ValueError: weights that do not describe a MulT this importer can reproduce.
    """
    missing = [k for k in ("proj_l.weight", "proj_a.weight", "proj_v.weight", "out_layer.weight") if k not in state]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}: not a state dict of MulT's MULTModel")
    branch = detect_branch(state)
    d_model = int(state["proj_l.weight"].shape[0])
    kernels = {state[f"proj_{m}.weight"].shape[2] for m in "lav"}
    if kernels != {1}:
        raise ValueError(f"temporal convolutions of kernel {sorted(kernels)}: MulT uses kernel 1 with padding 0; "
                         f"other kernels change the sequence lengths, which this teacher does not reproduce")
    first = BRANCH_PAIRS[branch][0]
    found_layers = _count_layers(state, f"trans_{first[-1].lower()}_with_{first[0].lower()}")
    if layers is not None and layers != found_layers:
        raise ValueError(f"--layers {layers} but the checkpoint's cross-modal encoders have {found_layers} layers")
    dims = {_INPUT[m]: int(state[f"proj_{m}.weight"].shape[1]) for m in "lav"}
    n_out = int(state["out_layer.weight"].shape[0])
    config = {"branch": branch, "d_model": d_model, "heads": heads, "layers": found_layers, "conv_kernel": 1,
              "attn_mask": bool(attn_mask), **MULT_DROPOUTS, **(dropouts or {})}
    try:
        teacher = MulTTeacher(dims=dims, lengths=dict(lengths or MOSEI_LENGTHS), n_out=n_out, **config)
    except InvalidOption as err:
        raise ValueError(f"{err.option}: {err.problem}") from None
    used_mem = {name for name in teacher.pair_names if name.startswith("mem_")}
    renamed, unused = {}, []
    for key, value in state.items():
        try:
            new = _rename(key)
        except KeyError:
            raise ValueError(f"unexpected key {key!r}: not part of MulT's MULTModel") from None
        if new is None:
            continue
        if new.startswith("body.encoders.mem_") and new.split(".")[2] not in used_mem:
            unused.append(key)  # partial mode builds all three mem encoders but runs one
            continue
        renamed[new] = value
    for m in "lav":
        if dims[_INPUT[m]] == d_model:  # MulT skips the projection when the width already matches
            renamed[f"projections.{_INPUT[m]}.weight"] = torch.eye(d_model).unsqueeze(-1)
    missing, unexpected = teacher.load_state_dict(renamed, strict=False)
    if missing or unexpected:
        raise ValueError(f"weights do not fit (missing {missing[:3]}, unexpected {unexpected[:3]}); "
                         f"is the layer count per encoder consistent?")
    return teacher.eval(), config, sorted(unused)


def import_mult(src: str | Path, out: str | Path, *, heads: int = 5, layers: int | None = None,
                attn_mask: bool = True, lengths: dict[str, int] | None = None) -> dict:
    """Convert the MulT state dict `src` into a kdsearch model file `out`; returns the blob."""
    state = read_mult_state_dict(src)
    try:
        teacher, config, unused = convert_mult_state_dict(state, heads=heads, layers=layers, attn_mask=attn_mask,
                                                          lengths=lengths)
    except (ValueError, KeyError) as exc:
        raise UserError(str(exc).strip("'\""), file=str(src)) from None
    blob = model_blob(teacher, arch="mult", config=config, dims={k: int(v) for k, v in _dims(teacher).items()},
                      lengths=dict(lengths or MOSEI_LENGTHS), n_out=teacher.head.out_layer.out_features,
                      task=_TASK_BY_OUTPUTS.get(teacher.head.out_layer.out_features),
                      source=f"import-mult:{Path(src).name}", unused_mult_keys=unused, val_metrics={})
    save_model_file(blob, out)
    return blob


def _dims(teacher: MulTTeacher) -> dict[str, int]:
    return {name: conv.in_channels for name, conv in teacher.projections.items()}
