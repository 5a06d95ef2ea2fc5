"""The printed table and the JSON file."""

import json

from rich.console import Console

from kdsearch.bench.report import print_results, write_json


def _timing(ms):
    return {"median_ms": ms, "iqr_ms": 0.5, "min_ms": ms - 1, "reps": 3}


def _entry(params, ms):
    train = {"batch": 24, **_timing(ms), "samples_per_s": 24000 / ms, "epoch_s_est": 2.5}
    return {"params": params, "train": train, "sweep": [train], "best": train, "infer_b1": _timing(2.0),
            "infer_b32": _timing(9.0), "peak_mem_mb": None}


RESULTS = {
    "meta": {"device": "cpu", "device_name": "test cpu", "shapes": "small", "threads": 1, "batch": 24,
             "load_avg_start": [1.0, 1.0, 1.0], "load_avg_end": [1.0, 1.0, 1.0], "cpu_count": 2, "wall_s": 3.0,
             "n_train": 2000},
    "teacher": _entry(1_099_357, 100.0),
    "students": {"config5": _entry(217_597, 40.0)},
    "compare": {"naive": {"params": 1_099_357, "train": {"batch": 24, **_timing(160.0), "samples_per_s": 150.0,
                                                          "epoch_s_est": 4.0},
                          "infer_b1": _timing(3.0), "infer_b32": _timing(12.0), "speedup_train": 1.6,
                          "speedup_infer_b1": 1.5, "speedup_infer_b32": 1.33, "same_params": True}},
    "search": {"space": "smoke", "trials": 4, "wall_s": 60.0, "trials_per_hour": 240.0, "gpu_util_mean": "n/a",
               "gpu_util_max": "n/a", "gpu_util_samples": 0},
}


def test_table_and_summary_show_every_model_and_ratio():
    console = Console(record=True, width=200)
    print_results(RESULTS, console)
    text = console.export_text()
    for expected in ("teacher (MulT)", "naive", "student config5 + EDAM", "1,099,357", "1.60x", "240 trials/hour",
                     "n/a (no GPU)"):
        assert expected in text


def test_write_json_round_trips_and_leaves_no_temp_file(tmp_path):
    path = write_json(RESULTS, tmp_path / "sub" / "bench.json")
    assert json.loads(path.read_text()) == RESULTS
    assert [p.name for p in path.parent.iterdir()] == ["bench.json"]
