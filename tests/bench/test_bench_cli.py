"""`kdsearch bench` end to end through the CLI, and the suite's full (non-quick) path at tiny sizes."""

import json

import pytest
import torch

from kdsearch.bench.options import BenchOptions, Repeats
from kdsearch.bench.suite import run_bench
from kdsearch.cli import main
from kdsearch.errors import EXIT_USER_ERROR


def _positive_timing(entry):
    return entry["median_ms"] > 0 and entry["iqr_ms"] >= 0 and entry["reps"] >= 1


def test_quick_bench_writes_json_with_positive_figures(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) >= {"meta", "teacher", "students", "compare", "search"}
    meta = results["meta"]
    assert meta["quick"] and meta["shapes"] == "small" and meta["threads"] == 1 and meta["wall_s"] > 0
    teacher = results["teacher"]
    assert teacher["params"] > 1_000_000  # MulT repo sizes: d 30, 5 heads, 5 layers
    assert _positive_timing(teacher["train"]) and teacher["train"]["batch"] == 24
    assert teacher["train"]["samples_per_s"] > 0 and teacher["train"]["epoch_s_est"] > 0
    assert _positive_timing(teacher["infer_b1"]) and _positive_timing(teacher["infer_b32"])
    student = results["students"]["config5"]
    assert 0 < student["params"] < teacher["params"]
    assert _positive_timing(student["train"]) and student["pairs"] == {"V<-A": "V<-A", "V<-L": "V<-L"}
    naive = results["compare"]["naive"]
    assert naive["same_params"] and naive["params"] == teacher["params"]
    assert naive["speedup_train"] > 0 and naive["speedup_infer_b1"] > 0 and naive["speedup_infer_b32"] > 0
    assert results["search"] == {"skipped": True}
    printed = capsys.readouterr().out
    assert "naive" in printed and "faster" in printed and "teacher (MulT)" in printed


def test_full_path_sweeps_batches_and_times_every_configuration():
    opts = BenchOptions(device="cpu", shapes="small", configs=(1, 2, 3, 4, 5), skip_search=True, threads=1,
                        model_cfg={"d_model": 8, "heads": 2, "layers": 1},
                        repeats=Repeats(warmup=0, train_reps=1, infer_reps=1, max_seconds=1.0))
    results = run_bench(opts)
    assert "compare" not in results
    assert set(results["students"]) == {f"config{c}" for c in range(1, 6)}
    for entry in (results["teacher"], *results["students"].values()):
        assert [row["batch"] for row in entry["sweep"]] == [24, 64]
        assert entry["best"] in entry["sweep"]
        assert entry["best"]["samples_per_s"] == max(row["samples_per_s"] for row in entry["sweep"])
        assert entry["peak_mem_mb"] is None  # no per-call figure on a CPU
    assert results["students"]["config2"]["teacher_branch"] == "video"
    assert results["students"]["config2"]["teacher_params"] < results["teacher"]["params"]


@pytest.mark.parametrize("argv,field", [
    (["bench", "--quick", "--batch", "0"], "--batch"),
    (["bench", "--quick", "--threads", "0"], "--threads"),
    (["bench", "--quick", "--configs", "9"], "--configs"),
    (["bench", "--quick", "--configs", "five"], "--configs"),
])
def test_bad_options_are_user_errors(argv, field, capsys):
    assert main(argv) == EXIT_USER_ERROR
    assert field in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_user_error(capsys):
    assert main(["bench", "--quick", "--device", "cuda"]) == EXIT_USER_ERROR
    assert "cuda asked for, but PyTorch sees 0 CUDA device(s)" in capsys.readouterr().err
