"""Packed students in a search: Tune trials as thin clients of packing actors (docs/packing.md).

With `resources.students_per_worker: K` > 1 every Tune trial stays an ordinary function trial
(its own Optuna trial, ASHA decision, rows and checkpoint), but it trains inside a pack: a Ray
actor that holds the worker's CPUs and GPU share and trains up to K same-shape students as one
batched model (kdsearch.train.pack_session). The driver's `PackHub` actor seats each trial in a
pack of its key (kdsearch.spec.pack_key), starting packs up to the number of workers the plan
holds; a trial that cannot be packed gets a pack of its own. When Tune stops a trial (ASHA, an
error), `PackLeaver`, a driver-side callback, tells the hub, and the pack trains on without it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ray import tune

HUB_PREFIX = "kdsearch-packs-"
WAIT_FOR_SEAT_S = 0.2  # a trial whose key has no free seat, and no room for a new pack, waits


def hub_name(search: str) -> str:
    return HUB_PREFIX + search


@dataclass
class _Pack:
    key: str | None  # None: a solo pack (one trial, the ordinary Trainer)
    actor: object
    seats: set = field(default_factory=set)


class PackHub:
    """Seats trials in packs and starts or retires packs (a Ray actor, one per search)."""

    def __init__(self, *, capacity: int, max_packs: int, cpus: float, gpus: float, shares_batches: bool,
                 data: list, teachers: dict, targets: dict, fingerprint: str):
        self.capacity, self.max_packs, self.cpus, self.gpus = capacity, max_packs, cpus, gpus
        self.shares_batches = shares_batches
        self.data, self.teachers, self.targets, self.fingerprint = data, teachers, targets, fingerprint
        self.packs: list[_Pack] = []
        self.where: dict[str, _Pack] = {}

    def assign(self, trial_id: str, key: str | None, target_key: str | None):
        """The pack actor that trains `trial_id`, or None when none can take it yet."""
        if trial_id in self.where:
            return self.where[trial_id].actor
        if key is not None and not self.shares_batches and target_key not in self.targets:
            key = None  # no cached targets to batch over, and no shared batches: it trains alone
        pack = self._free_seat(key) or self._new_pack(key)
        if pack is None:
            return None
        pack.seats.add(trial_id)
        self.where[trial_id] = pack
        return pack.actor

    def leave(self, trial_id: str) -> None:
        pack = self.where.pop(trial_id, None)
        if pack is not None:
            pack.seats.discard(trial_id)
            pack.actor.leave.remote(trial_id)

    def pack_died(self, trial_id: str) -> None:
        """`trial_id`'s pack actor died (e.g. out of memory): no trial is seated there again."""
        pack = self.where.get(trial_id)
        if pack is not None and pack in self.packs:
            self.packs.remove(pack)
            for other in pack.seats:
                self.where.pop(other, None)

    def _free_seat(self, key: str | None) -> _Pack | None:
        limit = 1 if key is None else self.capacity
        fitting = [p for p in self.packs if p.key == key and len(p.seats) < limit]
        return max(fitting, key=lambda p: len(p.seats)) if fitting else None  # fill packs first

    def _new_pack(self, key: str | None) -> _Pack | None:
        import ray

        if len(self.packs) >= self.max_packs:
            idle = [p for p in self.packs if not p.seats]
            if not idle:
                return None
            self.packs.remove(idle[0])  # another key's empty pack makes room
            ray.kill(idle[0].actor)
        actor = ray.remote(PackActor).options(
            num_cpus=self.cpus, num_gpus=self.gpus, max_concurrency=self.capacity + 4,
        ).remote(self.data[0], teachers=self.teachers, targets=self.targets, fingerprint=self.fingerprint,
                 threads=max(1, int(round(self.cpus))), solo=key is None, shares_batches=self.shares_batches)
        pack = _Pack(key, actor)
        self.packs.append(pack)
        return pack


class PackActor:
    """One pack: builds each joining trial's run exactly as an unpacked trial would, and trains
    them together (threaded: its trials' blocking calls wait side by side)."""

    def __init__(self, data: dict, *, teachers: dict, targets: dict, fingerprint: str, threads: int, solo: bool,
                 shares_batches: bool):
        import torch

        from kdsearch.search.trial import pick_device
        from kdsearch.train.pack_session import PackSession

        torch.set_num_threads(threads)
        self.data, self.teachers, self.targets, self.fingerprint = data, teachers, targets, fingerprint
        self.device = pick_device()
        self.session = PackSession(solo=solo, shares_batches=shares_batches)

    def join(self, trial_id: str, exp: dict, state: dict | None, epoch: int, capacity: int) -> dict:
        from kdsearch.search.trial import build_trial_run

        with self.session.rng_lock:  # trials joining at once, or while the pack trains, seed alike
            run, extra = build_trial_run(exp, self.data, self.teachers, self.targets, self.fingerprint, self.device)
            if state is not None:
                run.trainer.load_state(state, epoch)
        self.session.join(trial_id, run, epoch, int(exp["train"]["epochs"]))
        # 1: trained in a batched pack; 0: alone (its own pack). The GPU share is the pack's,
        # split over its seats, so GPU-seconds still add up.
        solo = self.session.solo
        extra.update(packed=int(not solo), pack_shares_batches=int(self.session.shares_batches and not solo),
                     gpus=extra["gpus"] / (1 if solo else capacity))
        return extra

    def next_epoch(self, trial_id: str) -> dict:
        return self.session.next_epoch(trial_id)

    def leave(self, trial_id: str) -> None:
        self.session.leave(trial_id)


def start_hub(search: str, *, capacity: int, max_packs: int, cpus: float, gpus: float, shares_batches: bool,
              data_ref, teachers: dict, targets: dict, fingerprint: str):
    import ray

    try:  # a hub of this name left by an earlier run of the search in this Ray session
        ray.kill(ray.get_actor(hub_name(search)))
    except ValueError:
        pass
    return ray.remote(PackHub).options(name=hub_name(search), num_cpus=0).remote(
        capacity=capacity, max_packs=max_packs, cpus=cpus, gpus=gpus, shares_batches=shares_batches,
        data=[data_ref], teachers=teachers, targets=targets, fingerprint=fingerprint)


def packed_trial(exp: dict, packs: dict, *, fingerprint: str, objective: dict | None) -> None:
    """A Tune trial as a pack's thin client: seat, join, then report each epoch the pack trains."""
    import ray

    from kdsearch.search.trial import Reporter
    from kdsearch.spec.pack_key import pack_key
    from kdsearch.train.teacher_targets import key_for_config

    hub, capacity = packs["hub"], int(packs["capacity"])
    trial_id = tune.get_context().get_trial_id()
    key = pack_key(exp, fingerprint, bool(packs["shares_batches"]))
    target_key = key_for_config(exp, fingerprint) if key is not None else None
    reporter = Reporter({}, objective)
    state, epoch = reporter.resume("cpu") or (None, 0)
    pack = ray.get(hub.assign.remote(trial_id, key, target_key))
    while pack is None:
        time.sleep(WAIT_FOR_SEAT_S)
        pack = ray.get(hub.assign.remote(trial_id, key, target_key))
    try:
        reporter.extra.update(ray.get(pack.join.remote(trial_id, exp, state, epoch, capacity)))
        while True:
            result = ray.get(pack.next_epoch.remote(trial_id))
            if result.get("done"):
                break
            reporter.report(result["state"], result["epoch"], result["metrics"])
            if result["last"]:
                break
    except ray.exceptions.RayTaskError as exc:
        raise exc.as_instanceof_cause() from None  # e.g. TrainingDiverged, as an unpacked trial raises it
    except ray.exceptions.RayActorError:  # the pack died: Tune retries this trial (max_failures) elsewhere
        ray.get(hub.pack_died.remote(trial_id))
        raise
    finally:
        hub.leave.remote(trial_id)


class PackLeaver(tune.Callback):
    """Driver-side: a trial Tune stopped (ASHA, an error) leaves its pack at once."""

    def __init__(self, search: str):
        self.search = search

    def _leave(self, trial) -> None:
        import ray

        try:
            ray.get_actor(hub_name(self.search)).leave.remote(trial.trial_id)
        except ValueError:  # no hub (the search is over)
            pass

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._leave(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._leave(trial)
