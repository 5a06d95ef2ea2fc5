"""One pack's life: trials join, train in lockstep one epoch at a time, report, and leave.

Ray-free and thread-based. kdsearch.search.packs runs one `PackSession` in a Ray actor per pack;
each Tune trial is a thin client that calls `join`, then `next_epoch` once per epoch (blocking
until its epoch is trained), and Tune's own ASHA stops it by simply not asking for more: a
driver-side callback then calls `leave`. The pack trains an epoch only when every member has
asked for it, so no student trains past a rung before Tune has decided about it, and nothing
about a trial's numbers depends on who shares its pack (docs/packing.md).

Two engines: a packed pack (`PackedTrainer`, same-shape students batched with vmap) and a solo
pack (capacity 1, the ordinary `Trainer` with every recipe), for trials that cannot be packed
(CRD's memory banks, recipes such as plateau schedules or early stopping, the no-KD baseline).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import torch

from kdsearch.train.packing import Member, PackedTrainer
from kdsearch.train.trainer import TrainingDiverged


class _Left(Exception):
    """Raised inside a solo pack's epoch hook when its trial left (stopped by ASHA)."""


@dataclass
class Seat:
    """One trial's place in the pack."""

    trial_id: str
    run: object  # kdsearch.spec.kinds.base.Run: trainer, train, valid, model
    epoch: int  # the last epoch it trained (a resumed trial starts past 0)
    max_epochs: int
    member: Member | None = None
    wants: bool = True  # its client waits for its next epoch
    result: dict | None = None  # posted by the pack, taken by the client
    error: BaseException | None = None
    done: bool = False
    left: bool = False


def member_of(run) -> Member:
    """The packed form of a built (and possibly resumed) distillation run."""
    trainer, objective = run.trainer, run.trainer.objective
    s = trainer.settings
    moments, steps = {}, 0
    for name, p in objective.named_parameters():
        state = trainer.optimizer.state.get(p)
        if p.requires_grad and state:
            moments[name] = (state["exp_avg"].detach().clone(), state["exp_avg_sq"].detach().clone())
            steps = int(state["step"])
    return Member(student=objective.student, kd=objective.kd, alpha=objective.alpha, beta=objective.beta, lr=s.lr,
                  seed=s.seed, weight_decay=s.weight_decay, grad_clip=s.grad_clip, labelled=run.train.labelled,
                  moments=moments or None, steps=steps,
                  generator_state=trainer.generator.get_state())


def trainer_state(seat: Seat) -> dict:
    """The member's state as its own `Trainer.state()` (weights, Adam, data order): its checkpoint
    reads like an unpacked trial's, so replay, export and a resume without packing all work."""
    member, trainer = seat.member, seat.run.trainer
    objective = trainer.objective
    for name, p in objective.named_parameters():
        if p.requires_grad and member.moments and name in member.moments:
            m, v = member.moments[name]
            trainer.optimizer.state[p] = {"step": torch.tensor(float(member.steps), dtype=torch.float32,
                                                               device=p.device),
                                          "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
    trainer.generator.set_state(member.generator.get_state())
    return _detached(trainer.state())


def _detached(value):
    if isinstance(value, torch.Tensor):  # on the CPU: a client without the pack's GPU reads it
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(v) for v in value)
    return value


class PackSession:
    """The students of one pack. `solo`: capacity 1, trained by the trial's own `Trainer`."""

    def __init__(self, *, solo: bool, shares_batches: bool = False):
        self.solo, self.shares_batches = solo, shares_batches
        self.cond = threading.Condition()
        self.seats: dict[str, Seat] = {}
        self.pending: list[Seat] = []
        self.packed: PackedTrainer | None = None
        self.order: list[Seat] = []  # the packed trainer's members, in its order
        self.closed = False
        self.thread: threading.Thread | None = None
        # Held while the pack trains and while a joining trial's run is built: building seeds
        # torch's one global generator (a student's initialisation), and a pack's dropout draws
        # from it, so the two must never interleave or a student would start from other weights.
        self.rng_lock = threading.Lock()

    # ------------------------------------------------------------------ the client's side
    def join(self, trial_id: str, run, epoch: int, max_epochs: int) -> None:
        seat = Seat(trial_id, run, int(epoch), int(max_epochs))
        self.leave(trial_id)  # a retried trial's earlier seat, if its leave has not come yet
        with self.cond:
            if self.solo and any(not s.done for s in self.seats.values()):
                raise RuntimeError("a solo pack holds one trial")
            if not self.solo:
                seat.member = member_of(run)
            self.seats[trial_id] = seat
            if seat.epoch >= seat.max_epochs:
                seat.done = True
            else:
                self.pending.append(seat)
            self.cond.notify_all()

    def next_epoch(self, trial_id: str) -> dict:
        """Blocks until this trial's next epoch is trained: {"epoch", "metrics", "state", "last"};
        {"done": True} when it has none left. Raises its own error (e.g. `TrainingDiverged`)."""
        with self.cond:
            seat = self.seats[trial_id]
            seat.wants = True
            self._start()  # on the first request: trials that joined together start together
            self.cond.notify_all()
            self.cond.wait_for(lambda: seat.result is not None or seat.error is not None or seat.done
                               or self.closed)
            if seat.result is not None:
                result, seat.result = seat.result, None
                return result
            if seat.error is not None:
                self.seats.pop(trial_id, None)
                raise seat.error
            self.seats.pop(trial_id, None)
            return {"done": True}

    def leave(self, trial_id: str) -> None:
        """The trial stopped (ASHA, an error, the end): the pack drops it and trains on."""
        with self.cond:
            seat = self.seats.pop(trial_id, None)
            if seat is not None:
                seat.left = True
                if seat in self.pending:
                    self.pending.remove(seat)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    # ------------------------------------------------------------------ the pack's side
    def _start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="kdsearch-pack", daemon=True)
            self.thread.start()

    def _loop(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.closed or self._ready())
                if self.closed:
                    return
                if self.solo:
                    seat = self.pending.pop(0)
                else:
                    self._admit()
                    seats = list(self.order)
            if self.solo:
                self._run_solo(seat)
            else:
                self._epoch(seats)

    def _ready(self) -> bool:
        """An epoch can start: someone to train, and every member asked for its next epoch."""
        if self.solo:
            return bool(self.pending)
        self._drop_left()
        members = [*self.order, *self.pending]
        return bool(members) and all(s.wants and s.result is None for s in members)

    def _drop_left(self) -> None:
        for i in reversed(range(len(self.order))):
            if self.order[i].left or self.order[i].done:
                self.packed.remove(i)
                self.order.pop(i)

    def _admit(self) -> None:
        for seat in self.pending:
            if self.packed is None:
                objective = seat.run.trainer.objective
                shared = seat.run.trainer.settings.seed if self.shares_batches else None
                self.packed = PackedTrainer([seat.member], seat.run.trainer.task,
                                            batch_size=seat.run.trainer.settings.batch_size,
                                            targets=objective.targets,
                                            teacher=objective.teacher, shared_seed=shared)
            else:
                self.packed.add(seat.member)
            self.order.append(seat)
        self.pending.clear()

    def _epoch(self, seats: list[Seat]) -> None:
        started = time.perf_counter()
        first = seats[0].run
        try:
            with self.rng_lock:
                trained = self.packed.train_epoch(first.train, [s.epoch + 1 for s in seats])
                failed = [s for s in seats if s.member.failed]
                kept = [s for s in seats if not s.member.failed]
                valid = self.packed.evaluate(first.valid) if kept else []
                self.packed.sync_out()
        except Exception as exc:  # a fault of the pack: every member fails with it
            with self.cond:
                for seat in seats:
                    seat.error = exc
                self.order.clear()
                self.packed = None
                self.cond.notify_all()
            return
        elapsed = time.perf_counter() - started
        with self.cond:
            self.order = kept
            for seat in failed:
                seat.error = TrainingDiverged(seat.member.failed)
            by_seat = dict(zip([id(s) for s in seats], trained))
            for seat, val in zip(kept, valid):
                seat.epoch += 1
                metrics = {"epoch": seat.epoch, **by_seat[id(seat)], **val, "lr": seat.member.lr,
                           "epoch_time_s": elapsed, "pack_size": len(seats)}
                seat.result = {"epoch": seat.epoch, "metrics": metrics, "state": trainer_state(seat),
                               "last": seat.epoch >= seat.max_epochs}
                seat.wants = False
                seat.done = seat.epoch >= seat.max_epochs
            self.cond.notify_all()

    def _run_solo(self, seat: Seat) -> None:
        trainer = seat.run.trainer

        def hand_over(trainer_, epoch, metrics):
            with self.cond:
                seat.epoch = epoch
                last = epoch >= seat.max_epochs or bool(metrics.get("early_stopped"))
                seat.result = {"epoch": epoch, "metrics": {**metrics, "pack_size": 1},
                               "state": _detached(trainer_.state()), "last": last}
                seat.wants = False
                self.cond.notify_all()
                if last:
                    return
                self.cond.wait_for(lambda: (seat.wants and seat.result is None) or seat.left or self.closed)
                if seat.left or self.closed:
                    raise _Left()

        trainer.hooks.append(hand_over)
        trainer.start_epoch = seat.epoch
        try:
            trainer.fit(seat.run.train, seat.run.valid)
        except _Left:
            pass
        except Exception as exc:
            with self.cond:
                seat.error = exc
        finally:
            trainer.hooks.remove(hand_over)
            with self.cond:
                seat.done = True
                self.cond.notify_all()
