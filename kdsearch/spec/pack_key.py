"""Which trials may share a pack: the same model shapes and loss, differing only where a pack can.

A pack trains its students as one batched model (kdsearch.train.packing), so everything that
shapes the model, the loss or the batches must be equal; what enters the batched step as a
per-student value may differ. A trial that cannot be packed at all gets no key and trains alone
(a pack of one running the ordinary `Trainer`): nothing about it changes. docs/packing.md.
"""

from __future__ import annotations

import hashlib
import json

# Per-student values of the packed step: loss weights, optimiser settings, data order and
# labelled subset, the EDAM/logit temperature, and how many epochs the trial runs.
MAY_DIFFER = ("loss.alpha", "loss.beta", "train.lr", "train.weight_decay", "train.grad_clip", "train.seed",
              "train.labelled_fraction", "train.labelled_seed", "train.epochs", "distill.temperature")

# The recipes a packed step does not have (it is the plain loop: one step a batch, clipping by
# norm, a constant rate, every epoch run).
PLAIN_LOOP = {"accumulate": 1, "clip_mode": "norm", "lr_schedule": "none", "early_stop_patience": 0}


def why_alone(exp: dict) -> str | None:
    """Why this trial cannot be packed, or None when it can."""
    if exp.get("kind", "distill") != "distill":
        return f"kind {exp.get('kind')} trains one model per worker"
    if float(exp["loss"]["beta"]) == 0.0:
        return "beta = 0 (no distillation) trains alone"
    if exp["distill"]["method"] == "crd":
        return "CRD's memory banks are updated in place by sample index, which a batched step cannot do"
    for key, plain in PLAIN_LOOP.items():
        if exp["train"].get(key, plain) != plain:
            return f"train.{key} = {exp['train'][key]!r} is a recipe of the one-student loop"
    return None


def pack_key(exp: dict, fingerprint: str, shares_batches: bool) -> str | None:
    """Equal keys: the trials can train as one batched model. None: this one trains alone."""
    if why_alone(exp) is not None:
        return None
    fixed = json.loads(json.dumps(exp, default=str))
    for path in MAY_DIFFER:
        section, _, key = path.partition(".")
        if isinstance(fixed.get(section), dict):
            fixed[section].pop(key, None)
    fixed.pop("params", None)
    fixed.pop("search", None)
    payload = {"experiment": fixed, "data": fingerprint, "shares_batches": bool(shares_batches)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
