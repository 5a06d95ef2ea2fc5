"""ResultsWriter and LiveLeaderboard inside a real local Ray Tune run (ASHA, 8 trials, one NaN)."""

from __future__ import annotations

import io
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator
from rich.console import Console

from kdsearch.results import leaderboard_command, read_results
from kdsearch.search.live_leaderboard import LiveLeaderboard
from kdsearch.search.results_writer import ResultsWriter

pytestmark = pytest.mark.slow

MAX_EPOCHS = 6
SEARCHED = ["loss.alpha"]
NAN_ALPHA = 0.55
# The best point first, so that worse trials meet a high bar at rung 1 and ASHA stops some.
ALPHAS = [0.3, 0.32, NAN_ALPHA, 0.95, 0.05, 0.9, 0.1, 0.85]


def noisy_quadratic(config):
    """A stand-in trial: accuracy peaks at alpha=0.3, reports the keys the real trainer reports."""
    alpha = config["loss.alpha"]
    rng = np.random.default_rng(int(alpha * 1000))
    for epoch in range(1, MAX_EPOCHS + 1):
        if alpha == NAN_ALPHA and epoch == 2:
            raise ValueError(f"loss became NaN at epoch {epoch}\n(more detail on a second line)")
        acc = 0.9 - (alpha - 0.3) ** 2 + 0.01 * epoch + 0.005 * rng.standard_normal()
        if alpha == NAN_ALPHA:
            acc = 0.99  # looks best at rung 1 (so ASHA keeps it), then diverges
        tune.report({
            "epoch": epoch, "val_loss": 1.0 - acc, "val_acc7": acc, "val_acc2": min(1.0, acc + 0.05),
            "val_f1": acc - 0.02, "train_loss": 1.1 - acc, "train_task": 0.8, "train_kd": 0.3,
            "epoch_time_s": 0.01, "student_params": 1234, "seed": 7, "node_id": "node-a",
        })


@pytest.fixture(scope="module")
def ray_session():
    # Ray workers cannot import this test module by name: ship the trainable by value instead.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with pytest.MonkeyPatch.context() as env:
        # Tune's JSON/CSV/TBX loggers are not needed here and slow tiny trials down.
        env.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        yield
        ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def run(ray_session, tmp_path_factory):
    """Runs the search once; every test below reads what it left behind."""
    tmp = tmp_path_factory.mktemp("search")
    out_dir = tmp / "results" / "t"
    writer = ResultsWriter(out_dir, searched=SEARCHED, metric="val_acc7", mode="max",
                           max_epochs=MAX_EPOCHS, flush_every_s=0.2,
                           meta_extra={"rungs": [1, 2, 4]})
    log = io.StringIO()
    board = LiveLeaderboard(searched=SEARCHED, metric="val_acc7", mode="max",
                            max_epochs=MAX_EPOCHS, num_samples=len(ALPHAS), rungs=[1, 2, 4],
                            console=Console(file=log, force_terminal=False, width=200),
                            summary_every_s=0.2)
    tty = io.StringIO()
    live = LiveLeaderboard(searched=SEARCHED, metric="val_acc7", mode="max",
                           max_epochs=MAX_EPOCHS, num_samples=len(ALPHAS), rungs=[1, 2, 4],
                           console=Console(file=tty, force_terminal=True, width=200))
    tuner = tune.Tuner(
        noisy_quadratic,
        param_space={"loss.alpha": tune.uniform(0.0, 1.0), "distill.temperature": 2.0},
        tune_config=tune.TuneConfig(
            metric="val_acc7", mode="max", num_samples=len(ALPHAS), reuse_actors=True,
            scheduler=ASHAScheduler(max_t=MAX_EPOCHS, grace_period=1, reduction_factor=2),
            search_alg=BasicVariantGenerator(
                points_to_evaluate=[{"loss.alpha": a} for a in ALPHAS]),
        ),
        run_config=tune.RunConfig(storage_path=str(tmp / "ray"), name="t",
                                  callbacks=[writer, board, live], verbose=0),
    )
    grid = tuner.fit()
    return {"out_dir": out_dir, "grid": grid, "log": log.getvalue(), "tty": tty.getvalue(),
            "experiment": tmp / "ray" / "t"}


def test_trials_parquet_has_one_row_per_trial_with_statuses(run):
    meta, trials, _ = read_results(run["out_dir"])
    assert meta["metric"] == "val_acc7" and meta["max_epochs"] == MAX_EPOCHS
    assert len(trials) == len(ALPHAS)
    assert sorted(trials["loss.alpha"]) == sorted(ALPHAS)
    assert (trials["config/distill.temperature"] == 2.0).all()
    by_alpha = trials.set_index("loss.alpha")
    nan_row = by_alpha.loc[NAN_ALPHA]
    assert nan_row["status"] == "error"
    assert nan_row["error"] == "loss became NaN at epoch 2"
    assert nan_row["epochs"] == 1
    # "stopped" means ASHA ended it early; "done" means it ran every epoch.
    ok = trials[trials["status"] != "error"]
    assert set(ok["status"]) <= {"stopped", "done"}
    assert (ok.loc[ok["status"] == "stopped", "epochs"] < MAX_EPOCHS).all()
    assert (ok.loc[ok["status"] == "done", "epochs"] == MAX_EPOCHS).all()
    assert (trials["status"] == "stopped").sum() >= 1
    assert (trials["status"] == "done").sum() >= 1  # ASHA lets the first arrival at a rung on
    assert trials["error"].isna().sum() == len(ALPHAS) - 1
    assert (trials["student_params"] == 1234).all() and (trials["node_id"] == "node-a").all()
    assert (trials["elapsed_s"] >= 0).all() and trials["started_at"].notna().all()


def test_statuses_agree_with_tune(run):
    _, trials, _ = read_results(run["out_dir"])
    grid = run["grid"]
    assert grid.num_errors == 1
    tune_epochs = {r.config["loss.alpha"]: r.metrics["training_iteration"] for r in grid}
    ours = dict(zip(trials["loss.alpha"], trials["epochs"]))
    assert ours == tune_epochs


def test_epochs_parquet_has_every_report(run):
    _, trials, epochs = read_results(run["out_dir"])
    total_reports = sum(r.metrics["training_iteration"] for r in run["grid"])
    assert len(epochs) == total_reports
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    for column in ("val_acc7", "val_f1", "train_kd", "epoch_time_s", "student_params"):
        assert column in epochs.columns
    # Files are plain parquet, readable without pandas.
    out = run["out_dir"]
    assert pq.read_table(out / "epochs.parquet").num_rows == total_reports
    assert pq.read_table(out / "trials.parquet").num_rows == len(ALPHAS)


def test_best_columns_come_from_the_best_epoch(run):
    _, trials, epochs = read_results(run["out_dir"])
    for _, row in trials.iterrows():
        mine = epochs[epochs["trial_id"] == row["trial_id"]]
        best = mine.loc[mine["val_acc7"].idxmax()]
        last = mine.loc[mine["epoch"].idxmax()]
        assert row["best_epoch"] == best["epoch"]
        for metric in ("val_acc7", "val_acc2", "val_f1", "val_loss"):
            assert row[f"best_{metric}"] == pytest.approx(best[metric])
            assert row[f"last_{metric}"] == pytest.approx(last[metric])
        assert row["epochs"] == mine["epoch"].max() == len(mine)


def test_no_tmp_files_left(run):
    names = sorted(p.name for p in run["out_dir"].iterdir())
    assert names == ["epochs.parquet", "meta.json", "trials.parquet"]


def test_non_tty_summary_lines_and_final_table(run):
    log = run["log"]
    lines = [line for line in log.splitlines() if line.startswith("[kdsearch] ")]
    assert any("trials · running" in line for line in lines)
    final = [line for line in lines if line.startswith(f"[kdsearch] {len(ALPHAS)}/{len(ALPHAS)}")]
    assert final and "running 0" in final[-1] and "error 1" in final[-1]
    assert "budget 100%" in final[-1] and "best val_acc7=" in final[-1]
    assert "trial" in log and "error: loss became NaN at epoch 2" in log
    assert "kdsearch leaderboard · val_acc7 (max)" in log  # the final table
    assert "\x1b[" not in log  # no terminal escapes in logs


def test_tty_live_view_ends_with_full_budget(run):
    tty = run["tty"]
    assert "kdsearch leaderboard" in tty
    budget = len(ALPHAS) * MAX_EPOCHS
    assert f"{budget}/{budget} trial-epochs (100%)" in tty
    assert "stopped by ASHA" in tty


def test_leaderboard_command_prints_best_trial(run):
    _, trials, _ = read_results(run["out_dir"])
    # The NaN trial looked best (0.99) before it failed: it must not be named the winner.
    ok = trials[trials["status"] != "error"]
    best = ok.loc[ok["best_val_acc7"].idxmax()]
    out = io.StringIO()
    assert leaderboard_command(str(run["out_dir"]), top=5,
                               console=Console(file=out, width=200)) == 0
    text = out.getvalue()
    assert f"Best trial {best['trial_id']}" in text
    assert f"loss.alpha: {best['loss.alpha']}" in text and "distill.temperature: 2.0" in text
    assert best["loss.alpha"] in (0.3, 0.32)
    assert "3 more not shown" in text


def test_callbacks_survive_tuner_pickling_for_restore(run):
    # Tuner pickles its RunConfig (callbacks included) into tuner.pkl so `--resume` can restore.
    state = ray.cloudpickle.loads((run["experiment"] / "tuner.pkl").read_bytes())
    callbacks = state["_run_config"].callbacks
    kinds = sorted(type(c).__name__ for c in callbacks)
    assert kinds == ["LiveLeaderboard", "LiveLeaderboard", "ResultsWriter"]
    assert all(c.console is None for c in callbacks if isinstance(c, LiveLeaderboard))


def test_error_reason_reads_the_latest_failure(ray_session, tmp_path):
    from ray.exceptions import RayTaskError
    from ray.train._internal.storage import StorageContext
    from ray.tune.experiment import Trial

    from kdsearch.search.callbacks import error_reason

    storage = StorageContext(storage_path=str(tmp_path), experiment_dir_name="exp")
    wrapped = Trial("f", config={}, trial_id="x_00000", stub=True, storage=storage)
    wrapped.init_local_path()
    wrapped.handle_error(RayTaskError("train", "Traceback ...", ValueError("loss became NaN\nmore")))
    assert error_reason(wrapped) == "loss became NaN"
    # Without a pickle (non-Ray errors), the text trace is read: the last failure wins.
    plain = Trial("f", config={}, trial_id="x_00001", stub=True, storage=storage)
    plain.init_local_path()
    plain.handle_error(RuntimeError("first failure"))
    plain.handle_error(RuntimeError("CUDA out of memory\ndetails"))
    assert error_reason(plain) == "CUDA out of memory"
