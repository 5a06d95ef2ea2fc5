"""`kdsearch describe`: parameter counts and batch-1 latency beside paper 000's figures."""

import subprocess
import sys
import time

import pytest

from kdsearch.verbs.describe import PAPER_000, comparison_lines, describe_space, latency_ms
from kdsearch.models import MulTTeacher, count_parameters
from kdsearch.spec.space import load_space


def test_rows_hold_the_built_models_counts_and_a_positive_latency():
    space = load_space("smoke")
    rows = describe_space(space, repeats=2)
    assert [r["role"] for r in rows] == ["teacher", "student"]
    teacher = MulTTeacher(dims={"text": 300, "audio": 74, "vision": 35}, lengths={"text": 8, "audio": 32,
                                                                                  "vision": 32},
                          n_out=7, branch="complete", d_model=8, heads=2, layers=1)
    assert rows[0]["params"] == count_parameters(teacher)
    assert all(r["latency_ms"] > 0 for r in rows)
    assert rows[0]["params"] > rows[1]["params"]


def test_mosei_shapes_change_the_student_not_the_attention_widths():
    space = load_space("smoke")
    data_rows = describe_space(space, repeats=1)
    mosei_rows = describe_space(space, shapes="mosei", repeats=1)
    # A 451-tap downsampling conv (500 -> 50) is where the MOSEI-shaped student's extra weights go.
    assert mosei_rows[1]["params"] > data_rows[1]["params"]
    assert mosei_rows[0]["params"] == data_rows[0]["params"]  # kernel-3 convs: no length in the count


def test_latency_is_a_median_of_timed_forward_passes():
    import torch

    calls = []

    class Counting(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, text, audio, vision, **_):
            calls.append(1)
            from kdsearch.models.output import ModelOutput

            return ModelOutput(logits=text.sum().reshape(1, 1))

    model = Counting()
    batch = {m: torch.zeros(1, 2, 2) for m in ("text", "audio", "vision")}
    assert latency_ms(model, batch, repeats=4, warmup=2) >= 0
    assert len(calls) == 6  # warm-up passes are run but not timed


def test_by_default_latency_is_the_median_of_enough_passes_to_be_stable():
    import torch

    from kdsearch.verbs.describe import MIN_REPEATS, MIN_TIMED_S

    calls = []

    class Sleepy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, text, audio, vision, **_):
            calls.append(1)
            time.sleep(0.002)
            from kdsearch.models.output import ModelOutput

            return ModelOutput(logits=text.sum().reshape(1, 1))

    batch = {m: torch.zeros(1, 2, 2) for m in ("text", "audio", "vision")}
    assert latency_ms(Sleepy(), batch, warmup=0) >= 2.0
    # 2 ms passes: the time floor (not the count floor) decides, ~500 passes
    assert len(calls) >= max(MIN_REPEATS, int(MIN_TIMED_S / 0.01))


def test_comparison_states_the_papers_figures_and_ours():
    rows = [{"role": "teacher", "params": 1_000_000, "latency_ms": 10.0},
            {"role": "student", "params": 400_000, "latency_ms": 8.0}]
    paper, ours = comparison_lines(rows)
    assert "1.802M" in paper and "0.675M" in paper and "29 ms" in paper and "22%" in paper
    assert "1.000M" in ours and "0.400M" in ours and "2.5x" in ours and "1.2x faster than the teacher" in ours
    assert "1.3x faster" in paper  # 22% less time
    assert PAPER_000["student_ms"] == 29.0


def test_comparison_says_larger_and_slower_when_the_student_is():
    # At MOSEI lengths a small teacher can weigh less than the student's long proxy convs.
    rows = [{"role": "teacher", "params": 200_000, "latency_ms": 4.0},
            {"role": "student", "params": 300_000, "latency_ms": 5.0}]
    _, ours = comparison_lines(rows)
    assert "1.5x larger" in ours and "1.2x slower than the teacher" in ours
    assert "%" not in ours  # "100% faster" read as twice as fast; a ratio says it plainly


@pytest.mark.parametrize("space", ["smoke", "edam_dmd_teacher"])  # a MulT and a DMD teacher
def test_cli_prints_the_table_and_the_paper_line(tmp_path, space):
    result = subprocess.run([sys.executable, "-m", "kdsearch", "describe", space, "--repeats", "2"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "latency (ms)" in result.stdout and "paper 000: teacher 1.802M" in result.stdout
    assert "this space: teacher" in result.stdout
