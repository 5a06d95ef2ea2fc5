"""`kdsearch bench --search SPACE`: the generic and the fast search side by side, and the
config-5 EDAM step with and without the teacher cache."""

import functools
import json
import math

import pytest

from kdsearch.bench import cache_steps
from kdsearch.bench.cache_steps import cache_step_comparison
from kdsearch.bench.fast_vs_generic import compare_searches
from kdsearch.cli import main


def test_cache_step_comparison_times_both_sides_of_the_same_step():
    result = cache_step_comparison(sizes={"tiny": {"d_model": 8, "heads": 2, "layers": 1}}, batch=16, reps=2,
                                   warmup=1)
    entry = result["tiny"]
    assert entry["online"]["median_ms"] > 0 and entry["cached"]["median_ms"] > 0
    assert entry["online"]["reps"] == entry["cached"]["reps"] == 2
    assert math.isfinite(entry["speedup"]) and entry["speedup"] > 0


def test_a_bad_trial_count_is_one_line(capsys):
    assert main(["bench", "--search", "smoke", "--num-samples", "0"]) == 2
    assert "--num-samples" in capsys.readouterr().err


@pytest.mark.slow
def test_generic_and_fast_searches_run_and_compare(warm_cache, tmp_path, capsys, monkeypatch):
    # The smoke teacher is cached (the bench prepares it outside both clocks anyway), and the step
    # comparison times its two default sizes over 2 steps each instead of 15: the same real steps,
    # 10 s less of timing that nothing below reads.
    monkeypatch.setattr(cache_steps, "cache_step_comparison",
                        functools.partial(cache_steps.cache_step_comparison, reps=2, warmup=1))
    out = tmp_path / "bench.json"
    assert main(["bench", "--search", "smoke", "--num-samples", "1", "--cpus", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "generic vs fast" in text and "fast / generic" in text and "load average" in text
    result = json.loads(out.read_text())
    assert result["generic"]["teacher_cache"] is False and result["fast"]["teacher_cache"] is True
    assert result["generic"]["overrides"]["distill.teacher_cache"] == "off"
    for way in ("generic", "fast"):
        run = result[way]
        assert run["trials"] == 1 and run["wall_s"] > 0 and run["student_steps"] > 0
        assert run["best_val_acc7"] is not None and 0 <= run["best_val_acc7"] <= 1
    assert set(result["steps"]) == {"demo_d16_l2", "mult_d30_l5"}
    assert {entry["online"]["reps"] for entry in result["steps"].values()} == {2}  # the shortening above took
    assert result["ratio"]["trials_per_hour"] > 0 and "load average" in result["uptime"]


def test_a_packed_run_needs_a_search_and_two_students(capsys):
    assert main(["bench", "--packed", "2"]) == 2
    assert main(["bench", "--search", "smoke", "--packed", "1"]) == 2
    assert capsys.readouterr().err.count("--packed") == 2


def _run(way, wall_s, best, trials=12, epochs=80):
    return {"way": way, "teacher_cache": way != "generic", "trials": trials, "trial_epochs": epochs, "wall_s": wall_s,
            "trials_per_hour": trials / wall_s * 3600, "student_steps": epochs * 32,
            "student_steps_per_s": epochs * 32 / wall_s, "best_val_acc7": best, "metric": "val_acc7", "mode": "max"}


def test_the_packed_run_is_printed_beside_the_others_with_its_ratios_to_the_fast_way():
    from rich.console import Console

    from kdsearch.bench.fast_vs_generic import print_comparison, ratios

    runs = {"generic": _run("generic", 120.0, 0.40), "fast": _run("fast", 90.0, 0.40),
            "packed": _run("packed", 100.0, 0.38)}
    result = {"space": "edam", "students_per_worker": 2, "cpu_count": 2, "prep_s": 1.0, "uptime": "load average: 1.0",
              "load_avg": {"start": [1.0], "end": [1.2]}, **runs,
              "ratio": ratios(runs["fast"], runs["generic"]), "ratio_packed": ratios(runs["packed"], runs["fast"])}
    assert result["ratio_packed"]["trials_per_hour"] == pytest.approx(0.9)
    assert result["ratio_packed"]["best_val_acc7"] == pytest.approx(0.95)
    console = Console(record=True, width=200)
    print_comparison(result, console)
    text = console.export_text()
    assert "generic vs fast vs packed (2 students per worker)" in text
    assert "packed / fast" in text and "0.90x" in text and "0.950x" in text and "fast / generic" in text
