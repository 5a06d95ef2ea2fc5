"""One MLflow run per trial in the search's experiment: parameters, per-epoch metrics (step =
epoch), status, and the best checkpoint's files as the artifact folder `best_checkpoint`."""

from __future__ import annotations

import time


class MLflowTracker:
    def __init__(self, uri: str, experiment: str, artifacts: str | None = None):
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(
            experiment, artifact_location=artifacts)
        self._runs: dict[str, str] = {}

    def _run(self, trial_id: str) -> str:
        if trial_id not in self._runs:
            run = self.client.create_run(self.experiment_id, run_name=trial_id, tags={"kdsearch.trial_id": trial_id})
            self._runs[trial_id] = run.info.run_id
        return self._runs[trial_id]

    def start(self, trial_id: str, params: dict) -> None:
        from mlflow.entities import Param

        run_id = self._run(trial_id)
        self.client.log_batch(run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def epoch(self, trial_id: str, epoch: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self._run(trial_id),
                              metrics=[Metric(k, float(v), now, int(epoch)) for k, v in metrics.items()])

    def end(self, trial_id: str, status: str, checkpoint: str | None, best: dict[str, float] | None = None) -> None:
        run_id = self._run(trial_id)
        if checkpoint:
            self.client.log_artifacts(run_id, checkpoint, artifact_path="best_checkpoint")
        self.client.set_tag(run_id, "kdsearch.status", status)  # done, stopped (by ASHA) or error
        self.client.set_terminated(run_id, status="FAILED" if status == "error" else "FINISHED")
        self._runs.pop(trial_id, None)

    def close(self) -> None:
        for run_id in self._runs.values():
            self.client.set_terminated(run_id, status="KILLED")
        self._runs.clear()
