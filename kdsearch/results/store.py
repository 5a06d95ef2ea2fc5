"""The results store: `results/<name>/{meta.json, trials.parquet, epochs.parquet}`.

The Tune callback that writes them as a search runs is `kdsearch.search.results_writer`;
this module only reads and writes the files (it imports no Ray). Every write goes to `x.tmp` first and is then
renamed over `x` (`os.replace` is atomic), so killing the search at any moment leaves either the
previous complete file or the new one, never half of one. Writes are throttled (the table is
rewritten whole, which is cheap at hundreds of trials) but never skipped when a trial ends.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from kdsearch import safe_yaml
from kdsearch.atomic import atomic_write
from kdsearch.errors import UserError, short
from kdsearch.userfiles import load_user_json, read_user_text

logger = logging.getLogger(__name__)

META_FILE = "meta.json"
TRIALS_FILE = "trials.parquet"
EPOCHS_FILE = "epochs.parquet"
# The last whole copy of Tune's experiment state (Tune rewrites its own in place, so a full disk
# can truncate it; kdsearch.search.recovery puts this copy back before a resume).
TUNE_STATE_BACKUP = ".tune-state"
_TUNE_STATE = ("experiment_state-{}.json", "search_gen_state-{}.json", "searcher-state-{}.pkl")
SPACE_FILE = "space.yaml"


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# What every reader of meta.json takes for granted: checked once, so a hand-edited or damaged
# file costs one line naming the field, not a traceback in whichever verb reads it.
_META_FIELDS = {
    "metric": (lambda v: isinstance(v, str), "a metric name"),
    "mode": (lambda v: v in ("max", "min"), "max or min"),
    "searched": (_strings, "a list of parameter paths"),
    "max_epochs": (_count, "an integer >= 0"),
}
_META_OPTIONAL = {
    "rungs": (lambda v: isinstance(v, list) and all(_count(r) for r in v), "a list of epochs"),
    "objectives": (lambda v: isinstance(v, list) and all(isinstance(o, dict) and isinstance(o.get("metric"), str)
                                                          and o.get("mode") in ("max", "min") for o in v),
                   "a list of {metric, mode}"),
}
# Trials a warm-started search's study was given (`kdsearch run --warm-start`): the old rows.
WARM_FILE = "warm_start.parquet"


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Writes `frame` to `path` atomically (`kdsearch.atomic`). One process (the driver) writes
    a results folder, so the temporary file has a fixed name: a killed write's leftover is
    replaced by the next write instead of piling up."""
    table = pa.Table.from_pandas(_parquet_safe(frame), preserve_index=False)
    atomic_write(path, lambda f: pq.write_table(table, f), per_process=False)


def tune_state_files(tune_dir: Path) -> dict[str, bytes]:
    """The newest run's state files in a Tune experiment folder, name -> content (may be {})."""
    states = sorted(Path(tune_dir).glob(_TUNE_STATE[0].format("*")))
    if not states:
        return {}
    session = states[-1].name[len("experiment_state-"):-len(".json")]
    found = {}
    for name in (pattern.format(session) for pattern in _TUNE_STATE):
        if (Path(tune_dir) / name).is_file():
            found[name] = (Path(tune_dir) / name).read_bytes()
    return found


def tune_state_whole(files: dict[str, bytes]) -> bool:
    """Whether Tune's state files are complete: each is JSON that parses, or a pickle (Tune
    pickles some into files named .json) that ends in its STOP opcode."""
    if not any(name.startswith("experiment_state-") for name in files):
        return False
    return all(_whole_pickle(data) or _whole_json(data) for data in files.values())


def _whole_pickle(data: bytes) -> bool:
    return data[:1] == b"\x80" and data.endswith(b".")


def _whole_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def covered_epochs(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """The epoch rows the trials table accounts for (its trials, up to each one's `epochs`).

    Together with trials.parquet they are one consistent version of the results, whatever
    moment a kill interrupted `ResultsWriter.flush()` at.
    """
    if epochs.empty or "epochs" not in trials.columns:
        return epochs
    last = epochs["trial_id"].map(trials.set_index("trial_id")["epochs"])
    return epochs[last.notna() & (epochs["epoch"] <= last)].reset_index(drop=True)


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Gives every object column one type: parquet refuses e.g. a column mixing 1.5 and "a"
    (a categorical choice of mixed types, or a constant that differs between trials)."""
    frame = frame.copy()
    for column in frame.columns[frame.dtypes == object]:
        kinds = {type(v) for v in frame[column] if v is not None and not _nan(v)}
        if len(kinds) > 1 and not kinds <= {int, float}:
            frame[column] = [None if v is None or _nan(v) else str(v) for v in frame[column]]
    return frame


def _nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def read_results(results_dir: str | os.PathLike) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Reads a search's results directory.

    Args:
        results_dir: `results/<name>` as written by `ResultsWriter`.

    Returns:
        (meta, trials, epochs): meta.json as a dict, and the two parquet tables as DataFrames.

    Raises:
        UserError: the directory or a file is missing or unreadable (the message names it).
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError("no such results directory", file=str(root))
    meta_path = root / META_FILE
    if not meta_path.is_file():
        raise UserError("missing (not a kdsearch results directory?)", file=str(meta_path))
    meta = load_user_json(meta_path, what="meta.json")
    if not isinstance(meta, dict):
        raise UserError("must hold a JSON object", file=str(meta_path))
    for field, (ok, want) in _META_FIELDS.items():
        if field not in meta:
            raise UserError("missing", file=str(meta_path), field=field)
        if not ok(meta[field]):
            raise UserError(f"must be {want}, got {short(meta[field])}", file=str(meta_path), field=field)
    for field, (ok, want) in _META_OPTIONAL.items():
        if meta.get(field) is not None and not ok(meta[field]):
            raise UserError(f"must be {want}, got {short(meta[field])}", file=str(meta_path), field=field)
    return meta, _read_parquet(root / TRIALS_FILE), _read_parquet(root / EPOCHS_FILE)


def read_space_record(results_dir: str | os.PathLike) -> dict:
    """A results folder's space.yaml (the checked space a search ran), read through the one
    bounded YAML loader; it must hold the `config` mapping every verb rebuilds trials from."""
    path = Path(results_dir) / SPACE_FILE
    text = read_user_text(path, what="space.yaml (not a kdsearch search?)")
    try:
        record = safe_yaml.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(f"malformed YAML: {getattr(exc, 'problem', None) or exc}", file=str(path),
                        field=f"line {mark.line + 1}" if mark else None) from None
    if not isinstance(record, dict):
        raise UserError("must hold a YAML mapping", file=str(path))
    if not isinstance(record.get("config"), dict):
        raise UserError(f"must be a mapping, got {short(record.get('config'))}", file=str(path), field="config")
    if record.get("storage") is not None and not isinstance(record["storage"], str):
        raise UserError(f"must be a path or URI, got {short(record['storage'])}", file=str(path), field="storage")
    return record


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError("missing", file=str(path))
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise UserError(f"not a readable parquet file ({exc})", file=str(path)) from exc
