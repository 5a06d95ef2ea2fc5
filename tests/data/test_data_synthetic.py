"""The synthetic generator: deterministic, right shapes, and the structure its design promises."""

from __future__ import annotations

import numpy as np
import pytest

from kdsearch.data.layout import load_dataset
from kdsearch.data.probe import event_hit_rate, linear_probes
from kdsearch.data.synthetic import PRESETS, _directions, generate, preset_shapes, resolve_params
from kdsearch.errors import UserError


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "small.h5"
    fingerprint = generate(path)  # the real default preset: must take seconds at most
    return path, fingerprint, load_dataset(path)


def test_small_shapes_and_attributes(small):
    _, fingerprint, ds = small
    assert {s: a.n for s, a in ds.splits.items()} == {"train": 2000, "valid": 400, "test": 600}
    assert ds.dims == {"text": 300, "audio": 74, "vision": 35}
    assert ds.lengths == {"text": 8, "audio": 32, "vision": 32}
    assert ds.attrs["source"] == "synthetic:small" and ds.attrs["aligned"] is False
    assert ds.attrs["generator"]["params"]["event_count"] == 2 and ds.fingerprint == fingerprint
    assert preset_shapes("small") == (ds.dims, ds.lengths)


def test_same_seed_same_fingerprint_other_seed_differs(small, tmp_path):
    _, fingerprint, _ = small
    assert generate(tmp_path / "again.h5", seed=0) == fingerprint
    assert generate(tmp_path / "other.h5", seed=1, n_train=50, n_valid=10, n_test=10) != \
        generate(tmp_path / "other2.h5", seed=0, n_train=50, n_valid=10, n_test=10)


def test_labels_balanced_over_the_seven_classes(small):
    label = small[2].splits["train"].label
    assert label.min() >= -3 and label.max() <= 3
    counts = np.bincount(np.round(label).astype(int) + 3, minlength=7)
    assert counts.min() > 0.8 * len(label) / 7 and counts.max() < 1.2 * len(label) / 7


def test_events_are_planted_at_the_same_steps_in_audio_and_vision(small):
    train = small[2].splits["train"]
    events = train.extras["vision_events"]
    np.testing.assert_array_equal(events, train.extras["audio_events"])  # T_a == T_v
    assert events.shape == (2000, 2) and (np.diff(events, axis=1) > 0).all()
    dirs = _directions(0, resolve_params("small"))
    # audio spikes reveal the events almost surely; the video cue most of them, not all (chance 2/32):
    # findable by a student told where to look, not a giveaway
    assert event_hit_rate(train.audio, events, dirs["audio_spike"]) > 0.95
    assert 0.6 < event_hit_rate(train.vision, events, dirs["cue"]) < 0.95


def test_text_reveals_the_label_video_only_at_the_events(small):
    acc = linear_probes(small[2])
    chance = 1 / 7
    assert acc["text_mean"] > 0.45  # the teacher's main source
    assert acc["vision_mean"] < chance + 0.08  # averaged frames: decoys dilute y
    assert acc["vision_at_events"] > acc["vision_mean"] + 0.25  # what distilled maps can point at


def test_mosei_shapes_with_tiny_sample_counts(tmp_path):
    generate(tmp_path / "m.h5", preset="mosei", n_train=3, n_valid=2, n_test=2)
    ds = load_dataset(tmp_path / "m.h5")
    assert {m: ds.splits["test"].modality(m).shape for m in ("text", "audio", "vision")} == \
        {"text": (2, 50, 300), "audio": (2, 500, 74), "vision": (2, 500, 35)}
    full = PRESETS["mosei"]
    assert (full.n_train, full.n_valid, full.n_test) == (16326, 1871, 4659)
    assert ds.attrs["source"] == "synthetic:mosei"


@pytest.mark.parametrize("call, message", [
    (dict(preset="huge"), "preset: unknown preset 'huge' (choose small, mosei)"),
    (dict(video_snrr=1.0), "video_snrr: unknown generator parameter"),
    (dict(event_count=40), "event_count: more events than audio/vision time steps"),
    (dict(n_train=-1), "n_train: must be a positive integer, got -1"),
    (dict(seed=-2), "seed: must be a non-negative integer, got -2"),
])
def test_bad_generator_input_is_a_user_error(tmp_path, call, message):
    with pytest.raises(UserError) as err:
        generate(tmp_path / "x.h5", **call)
    assert str(err.value).startswith(message)
    assert not list(tmp_path.iterdir())
