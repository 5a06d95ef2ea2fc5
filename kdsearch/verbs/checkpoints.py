"""Find and load a trial's checkpoints in Tune's experiment folder.

Each trial keeps its best checkpoints (by the search metric) and its latest one; every
checkpoint holds ``state.pt`` with the trainer's full state and the epoch it was taken after.
"""

from __future__ import annotations

from pathlib import Path


from kdsearch.errors import UserError
from kdsearch.results.store import read_space_record
from kdsearch.search.trial import STATE_FILE
from kdsearch.search.tuner import TUNE_DIR


def tune_dir(results_dir: Path) -> Path:
    """Tune's experiment folder for a results folder (local, or a shared --storage path)."""
    record = read_space_record(results_dir)
    storage = record.get("storage")
    if storage and "://" in storage:
        raise UserError(f"checkpoints are in {storage}: copy them to a local folder first "
                        f"(e.g. `aws s3 sync {storage}/{results_dir.name} {results_dir}/tune`)", file=str(results_dir))
    folder = Path(storage) / results_dir.name if storage else results_dir / TUNE_DIR
    if not folder.is_dir():
        raise UserError("no Tune experiment folder (checkpoints) found", file=str(folder))
    return folder


def trial_checkpoints(results_dir: Path, trial_id: str) -> dict[int, Path]:
    """{epoch: state.pt path} of every checkpoint the trial still has."""
    folders = sorted(tune_dir(results_dir).glob(f"*_{trial_id}_*"))
    if not folders:
        raise UserError(f"no trial folder for {trial_id}", file=str(tune_dir(results_dir)))
    found: dict[int, Path] = {}
    for state in folders[0].glob(f"checkpoint_*/{STATE_FILE}"):
        epoch = int(_read_state(state)["epoch"])
        found[epoch] = state
    if not found:
        raise UserError(f"trial {trial_id} has no checkpoint", file=str(folders[0]))
    return found


def best_checkpoint(results_dir: Path, trial_id: str, best_epoch: int | None) -> tuple[int, Path]:
    """The checkpoint of the trial's best validation epoch (else the latest it kept)."""
    found = trial_checkpoints(results_dir, trial_id)
    if best_epoch is not None and int(best_epoch) in found:
        return int(best_epoch), found[int(best_epoch)]
    epoch = max(found)
    return epoch, found[epoch]


def load_trainer_state(path: Path, device: str = "cpu") -> dict:
    """The trainer state saved in a trial checkpoint. Read on the CPU whatever `device` is: the
    modules' and optimizer's `load_state_dict` copy it to the device they live on."""
    return _read_state(path)["trainer"]


def _read_state(path: Path) -> dict:
    """A trial checkpoint's state.pt, weights only: a file holding pickled objects is refused."""
    from kdsearch.models.checkpoint import read_weights_only

    state = read_weights_only(str(path), what="trial checkpoint")
    if not isinstance(state, dict) or "epoch" not in state or "trainer" not in state:
        raise UserError("not a trial checkpoint (no epoch and trainer state)", file=str(path))
    return state
