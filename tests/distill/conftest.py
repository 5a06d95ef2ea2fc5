"""Tiny real teacher/student pairs for the loss tests (config 5, complete teacher)."""

import pytest
import torch

from kdsearch.models import DISTILLED_PAIRS, MulTTeacher, VideoStudent

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 4, "audio": 10, "vision": 10}
TINY = {"d_model": 8, "heads": 2, "layers": 2}

# Options each registered loss needs to be built in the contract tests (required ones at least).
# A new loss with required options must add its entry here, or the contract tests fail.
EXAMPLE_OPTIONS = {"edam": {"pairs": DISTILLED_PAIRS[5]}}


@pytest.fixture
def example_options():
    return EXAMPLE_OPTIONS


@pytest.fixture
def kd_setup():
    """Factory: (teacher, student, batch dict) for n_out outputs, seeded."""
    def make(n_out=7, seed=0):
        torch.manual_seed(seed)
        teacher = MulTTeacher(dims=DIMS, lengths=LENGTHS, n_out=n_out, **TINY)
        student = VideoStudent(vision_dim=DIMS["vision"], lengths=LENGTHS, n_out=n_out, **TINY)
        gen = torch.Generator().manual_seed(seed)
        batch = {m: torch.randn(3, LENGTHS[m], DIMS[m], generator=gen) for m in DIMS}
        batch["label"] = torch.randint(0, max(n_out, 2), (3,), generator=gen)
        batch["index"] = torch.arange(3)
        return teacher, student, batch
    return make


def run_pair(loss, teacher, student, batch, *, teacher_grad=False):
    """Run both models with exactly the maps/post-attention the loss asks for; returns outputs."""
    with torch.set_grad_enabled(teacher_grad):
        t_out = teacher(batch["text"], batch["audio"], batch["vision"], maps_for=loss.teacher_maps(),
                        post_attention_for=loss.teacher_post_attention())
    s_out = student(batch["vision"], maps_for=loss.student_maps(), post_attention_for=loss.student_post_attention())
    return s_out, t_out


@pytest.fixture
def run_models():
    return run_pair
