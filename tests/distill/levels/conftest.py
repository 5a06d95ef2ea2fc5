"""Fixtures for paper 000's tests; the helpers themselves live in p000_helpers.py."""

import pytest

from p000_helpers import make_batch, make_models, run_pair


@pytest.fixture
def models():
    """Factory: (teacher, student) tiny and seeded; see `make_models` for the options."""
    return make_models


@pytest.fixture
def batch():
    return make_batch


@pytest.fixture
def run_models():
    """run_models(loss, teacher, student, batch) -> (student_out, teacher_out)."""
    return run_pair
