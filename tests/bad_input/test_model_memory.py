"""Model sizing without allocation: the memory cap, and allocation failures as one UserError."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kdsearch.errors import SpaceError, UserError
from kdsearch.spec.model_memory import ENV_CAP, on_meta, parse_bytes
from kdsearch.spec.space import load_space

SPACES = Path(__file__).parents[2] / "search_spaces"


def test_cap_refuses_a_model_and_names_the_key_that_made_it_big(monkeypatch):
    monkeypatch.setenv(ENV_CAP, "10kB")  # below even the smoke space's tiny models
    with pytest.raises(SpaceError) as err:
        load_space(str(SPACES / "smoke.yaml"))
    assert err.value.field.split(".")[0] in ("teacher", "student")
    assert f"{ENV_CAP} allows 10kB" in err.value.problem


def test_cap_in_bytes_with_units():
    assert parse_bytes("24GiB") == 24 * 2**30 and parse_bytes("500MB") == 500_000_000 and parse_bytes("7") == 7
    for bad in ("lots", "-1GB", "0", "3 parsecs"):
        with pytest.raises(UserError, match=ENV_CAP):
            parse_bytes(bad)


def test_builds_on_meta_allocate_nothing():
    with on_meta(file="s.yaml", field="student"):
        weight = torch.nn.Linear(100_000, 100_000).weight  # 40 GB if it were real
    assert weight.is_meta


@pytest.mark.parametrize("failure", [MemoryError(), torch.OutOfMemoryError("CUDA out of memory"),
                                     RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried ...")])
def test_allocation_failures_become_one_user_error(failure):
    with pytest.raises(SpaceError) as err, on_meta(file="s.yaml", field="student"):
        raise failure
    assert err.value.message.startswith("s.yaml: student: not enough memory to build the model")


def test_other_runtime_errors_are_not_disguised():
    with pytest.raises(RuntimeError, match="shape mismatch"), on_meta(file="s.yaml", field="student"):
        raise RuntimeError("shape mismatch")
