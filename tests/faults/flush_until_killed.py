"""Kill a process in the middle of `ResultsWriter.flush()`, many times (run by test_atomic_writes).

`python flush_until_killed.py OUT_DIR KILLS SEED` imports kdsearch once, then forks KILLS children
one after another. Each child first checks what the previous one left (see `check`), then resumes
the results in OUT_DIR like a restarted search and keeps adding trials (up to MAX_TRIALS) and
flushing large tables until it is SIGKILLed at a random moment. Prints one JSON line: what each check found, and how
many kills left a `.tmp` file behind (proof that the kill landed inside a write).

Version k of the tables holds trials t00000..t{k-1} and 5 epoch rows per trial, so a file that
reads back is complete exactly when its trial ids are contiguous from t00000 and every trial has
its 5 epoch rows.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

from kdsearch.results.store import EPOCHS_FILE, TRIALS_FILE
from kdsearch.search.results_writer import ResultsWriter

EPOCHS_PER_TRIAL = 5
TRIALS_PER_FLUSH = 20
MAX_TRIALS = 600  # then the same tables are rewritten: each round's resume stays short
METRICS = [f"val_m{i:02d}" for i in range(20)]


def check(out: Path) -> dict:
    """What the files in `out` hold: {"trials": n, "epoch_trials": m} or {"bad": reason}."""
    import pyarrow.parquet as pq

    if not (out / TRIALS_FILE).exists():
        return {"trials": 0, "epoch_trials": 0}
    try:
        trials = pq.read_table(out / TRIALS_FILE).to_pandas()
        epochs = pq.read_table(out / EPOCHS_FILE).to_pandas()
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the failure we look for
        return {"bad": f"unreadable: {exc}"}
    ids = sorted(trials["trial_id"])
    if ids != [f"t{i:05d}" for i in range(len(ids))]:
        return {"bad": f"trial ids not contiguous: {len(ids)} rows"}
    counts = epochs.groupby("trial_id").size()
    if sorted(counts.index) != [f"t{i:05d}" for i in range(len(counts))]:
        return {"bad": f"epoch rows' trial ids not contiguous: {len(counts)} trials"}
    if not (counts == EPOCHS_PER_TRIAL).all():
        return {"bad": "a trial with missing epoch rows"}
    if len(counts) < len(ids):  # epochs are written first: they are never behind the trials
        return {"bad": f"epoch rows for {len(counts)} trials, trial rows for {len(ids)}"}
    return {"trials": len(ids), "epoch_trials": len(counts)}


def write_forever(out: Path) -> None:
    writer = ResultsWriter(out, searched=["lr"], metric="val_m00", mode="max", max_epochs=EPOCHS_PER_TRIAL,
                           resume=True)
    writer.setup()
    rng = random.Random(os.getpid())
    n = len(writer.records.trials)
    while True:
        for _ in range(TRIALS_PER_FLUSH if n < MAX_TRIALS else 0):
            trial_id = f"t{n:05d}"
            # A random note per trial: parquet cannot compress it away, so each write takes a while.
            writer.records.start(trial_id, {"lr": rng.random(), "note": os.urandom(1024).hex()})
            for epoch in range(1, EPOCHS_PER_TRIAL + 1):
                writer.records.result(trial_id, {"epoch": epoch, **{m: rng.random() for m in METRICS}})
            writer.records.finish(trial_id)
            n += 1
        writer.flush()


def main(out: Path, kills: int, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    checks, left_tmp = [], 0
    for round_ in range(kills + 1):
        started = time.time_ns()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report the check, then write until killed
            os.close(read)
            os.write(write, json.dumps(check(out)).encode())
            os.close(write)
            if round_ < kills:
                write_forever(out)
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            checks.append(json.loads(pipe.read()))
        if round_ < kills:
            time.sleep(rng.uniform(0.05, 0.8))
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        left_tmp += any(tmp.stat().st_mtime_ns >= started for tmp in out.glob("*.tmp"))
    print(json.dumps({"checks": checks, "kills_inside_a_write": left_tmp}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
