"""A pack session trains each trial exactly as its own `Trainer` would, while trials join, leave
(stopped by ASHA), resume from a checkpoint, or fail: the packed side of docs/packing.md, without
Ray. Each trial's client runs in its own thread, as each Tune trial does."""

import copy
import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from kdsearch.distill import build_loss
from kdsearch.models import DISTILLED_PAIRS, MulTTeacher, VideoStudent
from kdsearch.spec.kinds.base import Run
from kdsearch.train.experiment import TensorSplit, labelled_mask
from kdsearch.train.objectives import DistillObjective
from kdsearch.train.pack_session import PackSession
from kdsearch.train.tasks import get_task
from kdsearch.train.teacher_targets import TeacherTargets, compute_targets
from kdsearch.train.trainer import Trainer, TrainingDiverged, TrainSettings

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 4, "audio": 10, "vision": 10}
TINY = {"d_model": 8, "heads": 2, "layers": 1}
NO_DROPOUT = {k: 0.0 for k in ("attn_dropout", "relu_dropout", "res_dropout", "embed_dropout", "out_dropout")}
N, BATCH, EPOCHS = 16, 8, 4
TASK = get_task("classification")
TRIALS = {  # alpha, beta, temperature, lr, seed, labelled fraction
    "a": (1.0, 1.0, 1.0, 1e-3, 0, 1.0),
    "b": (0.3, 2.5, 2.0, 3e-3, 1, 0.5),
    "c": (0.7, 0.5, 0.7, 5e-4, 2, 1.0),
    "d": (0.5, 1.5, 1.5, 2e-3, 3, 1.0),
}


def _split(seed, n):
    gen = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(n, LENGTHS[m], DIMS[m], generator=gen) for m in DIMS}
    return TensorSplit(**feats, label=torch.rand(n, generator=gen) * 6 - 3)


@pytest.fixture(scope="module")
def world():
    torch.manual_seed(100)
    teacher = MulTTeacher(dims=DIMS, lengths=LENGTHS, n_out=7, **TINY).eval()
    train, valid = _split(0, N), _split(1, 12)
    kd = build_loss("edam", pairs=dict(DISTILLED_PAIRS[5]))
    kd.bind(student=VideoStudent(vision_dim=5, lengths=LENGTHS, n_out=7, **TINY), teacher=teacher, n_train=N)
    return teacher, train, valid, TeacherTargets(compute_targets(teacher, train, kd))


def _run(world, name, lr=None, cached=True) -> Run:
    """Trial `name` built as a trial builds it (seeded init, its labelled subset, cached targets
    or, with `cached=False`, the teacher run online)."""
    teacher, train, valid, targets = world
    alpha, beta, temperature, lr_, seed, fraction = TRIALS[name]
    torch.manual_seed(seed)
    student = VideoStudent(vision_dim=5, lengths=LENGTHS, n_out=7, **TINY, **NO_DROPOUT)
    kd = build_loss("edam", pairs=dict(DISTILLED_PAIRS[5]), temperature=temperature)
    kd.bind(student=student, teacher=teacher, n_train=N)
    objective = DistillObjective(student, teacher, TASK, kd, alpha=alpha, beta=beta,
                                 targets=targets if cached else None)
    settings = TrainSettings(epochs=EPOCHS, batch_size=BATCH, lr=lr if lr is not None else lr_, seed=seed)
    split = dataclasses.replace(train, labelled=labelled_mask(N, fraction, seed=seed))
    return Run(Trainer(objective, TASK, settings), split, valid, student)


def _alone(world, name, lr=None) -> list[dict]:
    run = _run(world, name, lr)
    seen = []
    run.trainer.hooks.append(lambda _t, epoch, metrics: seen.append(dict(metrics)))
    run.trainer.fit(run.train, run.valid)
    return seen


def _round(session, names):
    """Every named client asks for its next epoch at once (one thread each), as Tune trials do."""
    with ThreadPoolExecutor(len(names)) as pool:
        futures = {n: pool.submit(session.next_epoch, n) for n in names}
        return {n: f.result(timeout=120) for n, f in futures.items()}


def _same(packed: dict, alone: dict):
    for key in ("train_loss", "train_task", "train_kd", "val_loss", "val_acc7"):
        assert abs(packed[key] - alone[key]) < 1e-5, (key, packed[key], alone[key])


def test_joins_leaves_and_resumes_train_each_trial_as_alone(world):
    alone = {n: _alone(world, n) for n in "abcd"}
    session = PackSession(solo=False)
    for n in "abc":
        session.join(n, _run(world, n), 0, EPOCHS)
    first = _round(session, "abc")
    assert {r["metrics"]["pack_size"] for r in first.values()} == {3}
    for n in "abc":
        _same(first[n]["metrics"], alone[n][0])
    session.leave("b")  # ASHA stopped b after epoch 1: the pack trains on without it
    # d resumes from its own unpacked checkpoint of epoch 2 and joins at the pack's next epoch.
    solo = _run(world, "d")
    solo.trainer.settings = dataclasses.replace(solo.trainer.settings, epochs=2)
    solo.trainer.fit(solo.train, solo.valid)
    resumed = _run(world, "d")
    resumed.trainer.load_state(solo.trainer.state(), 2)
    session.join("d", resumed, 2, EPOCHS)
    second = _round(session, "acd")
    assert second["d"]["epoch"] == 3 and second["a"]["epoch"] == 2
    _same(second["a"]["metrics"], alone["a"][1])
    _same(second["c"]["metrics"], alone["c"][1])
    _same(second["d"]["metrics"], alone["d"][2])
    # Each report's state is an unpacked Trainer's: a plain Trainer loaded with it trains on alike.
    twin = _run(world, "a")
    twin.trainer.load_state(second["a"]["state"], 2)
    seen = []
    twin.trainer.hooks.append(lambda _t, epoch, metrics: seen.append(metrics))
    twin.trainer.settings = dataclasses.replace(twin.trainer.settings, epochs=3)
    twin.trainer.fit(twin.train, twin.valid)
    third = _round(session, "acd")
    _same(third["a"]["metrics"], seen[0])
    _same(third["a"]["metrics"], alone["a"][2])
    assert third["d"]["last"] and not third["a"]["last"]
    last = _round(session, "ac")
    assert last["a"]["last"] and last["c"]["last"]
    _same(last["c"]["metrics"], alone["c"][3])
    session.close()


def test_a_diverging_trial_fails_alone(world):
    session = PackSession(solo=False)
    session.join("a", _run(world, "a"), 0, EPOCHS)
    session.join("nan", _run(world, "b", lr=1e30), 0, EPOCHS)
    with ThreadPoolExecutor(2) as pool:
        good, bad = pool.submit(session.next_epoch, "a"), pool.submit(session.next_epoch, "nan")
        with pytest.raises(TrainingDiverged, match="loss became NaN/inf at epoch 1"):
            bad.result(timeout=120)
        assert math.isfinite(good.result(timeout=120)["metrics"]["train_loss"])
    _same(session.next_epoch("a")["metrics"], _alone(world, "a")[1])
    session.close()


def test_a_solo_pack_runs_the_trials_own_trainer_with_its_recipes(world):
    """A trial that cannot be packed trains alone in its pack: its own Trainer, recipes included."""
    run = _run(world, "c")
    run.trainer.settings = dataclasses.replace(run.trainer.settings, accumulate=2)
    twin = copy.deepcopy(run)
    seen = []
    twin.trainer.hooks.append(lambda _t, epoch, metrics: seen.append(dict(metrics)))
    twin.trainer.fit(twin.train, twin.valid)
    session = PackSession(solo=True)
    session.join("c", run, 0, EPOCHS)
    got = [session.next_epoch("c") for _ in range(EPOCHS)]
    assert [g["epoch"] for g in got] == [1, 2, 3, 4] and got[-1]["last"]
    for g, s in zip(got, seen):
        _same(g["metrics"], s)
    session.close()


def test_shared_batches_serve_a_pack_with_one_teacher_forward(world):
    """`resources.pack_shares_batches` without the teacher cache: the pack's students see the
    first member's batch order and one online teacher forward per step; each still trains as its
    own Trainer would with that order."""
    teacher = world[0]
    calls = []
    hook = teacher.register_forward_hook(lambda *_: calls.append(1))
    session = PackSession(solo=False, shares_batches=True)
    for n in "ab":
        session.join(n, _run(world, n, cached=False), 0, EPOCHS)
    packed = _round(session, "ab")
    hook.remove()
    assert len(calls) == N // BATCH  # one forward a step for the whole pack
    for n in "ab":
        alone = _run(world, n, cached=False)
        alone.trainer.generator = torch.Generator().manual_seed(TRIALS["a"][4])  # the shared order
        seen = []
        alone.trainer.hooks.append(lambda _t, epoch, metrics: seen.append(dict(metrics)))
        alone.trainer.settings = dataclasses.replace(alone.trainer.settings, epochs=1)
        alone.trainer.fit(alone.train, alone.valid)
        _same(packed[n]["metrics"], seen[0])
    session.close()
