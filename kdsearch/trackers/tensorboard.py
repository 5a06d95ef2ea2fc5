"""One TensorBoard run per trial: results/<name>/tb/<trial_id>/, a scalar per metric per epoch
(step = epoch), and the trial's parameters as text and as TensorBoard's HParams."""

from __future__ import annotations

from pathlib import Path


class TensorBoardTracker:
    def __init__(self, logdir: Path):
        self.logdir = Path(logdir)
        self._writers: dict = {}
        self._params: dict[str, dict] = {}

    def _writer(self, trial_id: str):
        from torch.utils.tensorboard import SummaryWriter

        if trial_id not in self._writers:
            self._writers[trial_id] = SummaryWriter(log_dir=str(self.logdir / trial_id))
        return self._writers[trial_id]

    def start(self, trial_id: str, params: dict) -> None:
        self._params[trial_id] = dict(params)
        text = "\n".join(f"    {k}: {v}" for k, v in params.items())
        self._writer(trial_id).add_text("params", text or "(fixed configuration)", 0)

    def epoch(self, trial_id: str, epoch: int, metrics: dict[str, float]) -> None:
        writer = self._writer(trial_id)
        for key, value in metrics.items():
            writer.add_scalar(key, value, epoch)
        writer.flush()

    def end(self, trial_id: str, status: str, checkpoint: str | None, best: dict[str, float] | None = None) -> None:
        writer = self._writer(trial_id)
        params = {k: v if isinstance(v, (int, float, str, bool)) else str(v)
                  for k, v in self._params.pop(trial_id, {}).items()}
        if best:  # the HParams tab: parameters against the chosen epoch's metrics
            writer.add_hparams(params, {f"hparam/{k}": v for k, v in best.items()}, run_name=".")
        writer.close()
        self._writers.pop(trial_id, None)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
