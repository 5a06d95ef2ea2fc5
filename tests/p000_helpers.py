"""Tiny real models, batches and files for paper 000's tests (seconds on a 2-core CPU)."""

from __future__ import annotations

import numpy as np
import torch

from kdsearch.models import MulTTeacher, VideoStudent

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 4, "audio": 10, "vision": 10}
TINY = {"d_model": 8, "heads": 2, "layers": 2}
N_TRAIN = 40


def make_models(*, config=5, branch="complete", n_out=7, student_align="student_down", attn_mask=True,
                student_heads=2, seed=0):
    """(teacher, student), seeded: a `branch` teacher and a configuration-`config` student."""
    torch.manual_seed(seed)
    teacher = MulTTeacher(dims=DIMS, lengths=LENGTHS, n_out=n_out, branch=branch, attn_mask=attn_mask, **TINY)
    student = VideoStudent(vision_dim=DIMS["vision"], lengths=LENGTHS, n_out=n_out, config=config,
                           align=student_align, attn_mask=attn_mask, **{**TINY, "heads": student_heads})
    return teacher, student


def make_batch(n=4, seed=0, start=0):
    """n random samples with labels in [-3, 3] and training-set indices start..start+n-1."""
    gen = torch.Generator().manual_seed(seed)
    batch = {m: torch.randn(n, LENGTHS[m], DIMS[m], generator=gen) for m in DIMS}
    batch["label"] = torch.empty(n).uniform_(-3, 3, generator=gen)
    batch["index"] = torch.arange(start, start + n)
    return batch


def run_pair(loss, teacher, student, batch, *, teacher_grad=False):
    """Both models with exactly what the loss asks for; the teacher frozen as a trial has it, or
    (teacher_grad) run with gradients on, so only the loss's own detaching keeps it untouched."""
    teacher.eval().requires_grad_(teacher_grad)
    with torch.set_grad_enabled(teacher_grad):
        t_out = teacher(batch["text"], batch["audio"], batch["vision"], maps_for=loss.teacher_maps(),
                        post_attention_for=loss.teacher_post_attention())
    s_out = student(batch["vision"], maps_for=loss.student_maps(), post_attention_for=loss.student_post_attention())
    return s_out, t_out


def dataset_splits(dims=None, lengths=None, sizes=None, seed=0, pad_rows=2):
    """Clean splits with left zero-padding on some samples (what MulT's pickles look like)."""
    dims, lengths = dims or DIMS, lengths or LENGTHS
    sizes = sizes or {"train": 8, "valid": 4, "test": 5}
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in sizes.items():
        fields = {m: rng.standard_normal((n, lengths[m], dims[m])).astype(np.float32) for m in dims}
        for m in dims:
            fields[m][::2, :pad_rows] = 0.0  # every other sample is left-padded
        fields["label"] = rng.uniform(-3, 3, n).astype(np.float32)
        fields["id"] = np.array([f"{split}-{i}" for i in range(n)], dtype=object)
        splits[split] = fields
    return splits
