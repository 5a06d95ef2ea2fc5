"""Property-based tests of the two validators users meet first: search spaces and dataset files.

Hypothesis writes random, mostly broken, inputs as real files and reads them back through the
public loaders. The properties are the contract of `kdsearch.errors`: a loader either returns
something usable or raises its one user-facing error naming the file and the field; it never
lets another exception (a traceback for the user) through.
"""

from __future__ import annotations

import math
import os

import numpy as np
import optuna
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_input_files import write_raw_dataset
from kdsearch.data.layout import load_dataset, write_dataset
from kdsearch.data.schema import MODALITIES, SPLITS
from kdsearch.errors import DataError, SpaceError
from kdsearch.spec.params import define_by_run
from kdsearch.spec.space import load_space

optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line per example

# Bounded so the whole folder stays well under a minute on 2 cores; no example database is
# written into the checkout.
BOUNDED = settings(max_examples=40, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- the space validator ------------------------------------------------------------------

# Tiny models keep each load (which builds them) at a few milliseconds.
BASE_SPACE = {
    "name": "prop",
    "teacher": {"d_model": 8, "heads": 2, "layers": 1},
    "student": {"config": 5, "d_model": 8, "heads": 2, "layers": 1},
    "distill": {"method": "edam", "level": "attention_maps", "temperature": 1.0},
    "train": {"epochs": 2},
    "teacher_train": {"epochs": 1},
}
KNOWN_PATHS = ["loss.alpha", "loss.beta", "train.lr", "train.weight_decay", "train.epochs", "train.batch_size",
               "train.labelled_fraction", "distill.temperature", "distill.direction", "distill.method",
               "student.layers", "student.d_model", "teacher.branch", "teacher.d_model", "loss", "data.seed"]
PATHS = st.one_of(st.sampled_from(KNOWN_PATHS), st.text(max_size=12), st.integers(-3, 3), st.none())
NUMBERS = st.one_of(st.integers(-5, 70), st.floats(allow_nan=True, allow_infinity=True),
                    st.floats(-5, 70, allow_nan=False))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=8),
                    st.sampled_from(["edam", "crd", "logit", "paper", "teacher_to_student", "complete", "video"]))
ANY_VALUE = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=4), SCALARS, max_size=2))
# Conditions: usually on a known path with a value or list of values, sometimes anything at all.
WHEN = st.one_of(st.dictionaries(st.sampled_from(KNOWN_PATHS), st.one_of(SCALARS, st.lists(SCALARS, max_size=3)),
                                 min_size=1, max_size=2),
                 st.dictionaries(PATHS, ANY_VALUE, max_size=2))


@st.composite
def numeric_entry(draw):
    """A float/int distribution that is often valid: low < high, sometimes log, step or when."""
    kind = draw(st.sampled_from(["float", "int"]))
    value = st.integers(-2, 64) if kind == "int" else st.floats(-2, 64, allow_nan=False)
    low = draw(value)
    if draw(st.sampled_from([True] * 3 + [False])):  # mostly a proper range
        high = low + draw(st.integers(1, 16) if kind == "int" else st.floats(1e-3, 16))
    else:  # inverted, empty or anything else
        high = draw(st.one_of(value, NUMBERS, SCALARS))
    entry = {"type": kind, "low": low, "high": high}
    log = draw(st.sampled_from(["absent", "absent", True, False, "wild"]))
    if log != "absent":
        entry["log"] = draw(SCALARS) if log == "wild" else log
    if draw(st.integers(0, 3)) == 0:
        entry["step"] = draw(st.one_of(value, NUMBERS))
    if draw(st.integers(0, 5)) == 0:
        entry["when"] = draw(WHEN)
    return entry


@st.composite
def categorical_entry(draw):
    entry = {"type": "categorical", "choices": draw(st.lists(st.one_of(SCALARS, SCALARS, ANY_VALUE), max_size=4))}
    if draw(st.integers(0, 5)) == 0:
        entry["when"] = draw(WHEN)
    return entry


@st.composite
def wild_entry(draw):
    """Anything a user could type: random keys (known and unknown), random value types."""
    keys = st.sampled_from(["type", "low", "high", "log", "step", "choices", "when", "lgo", "hihg", "default"])
    entry = draw(st.dictionaries(keys, ANY_VALUE, max_size=6))
    if draw(st.booleans()):
        entry["type"] = draw(st.one_of(st.sampled_from(["float", "int", "categorical", "floot"]), SCALARS))
    return entry


@st.composite
def entry(draw):
    """Mostly plausible distributions (so many examples reach the cross-field checks), some wild."""
    shape = draw(st.sampled_from(["numeric"] * 6 + ["categorical"] * 3 + ["wild", "value"]))
    strategy = {"numeric": numeric_entry(), "categorical": categorical_entry(), "wild": wild_entry(),
                "value": ANY_VALUE}[shape]
    return draw(strategy)


@st.composite
def params_section(draw):
    """Entries on known config paths, now and then one on a path that does not exist."""
    params = {path: draw(entry()) for path in draw(st.lists(st.sampled_from(KNOWN_PATHS), max_size=3, unique=True))}
    if draw(st.sampled_from([False] * 4 + [True])):
        params[draw(PATHS)] = draw(entry())
    return params


PARAMS = params_section()


@pytest.fixture(scope="module")
def space_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("spaces")


@BOUNDED
@given(params=PARAMS)
def test_space_loader_returns_a_sound_space_or_raises_space_error(space_dir, params):
    path = space_dir / "random.yaml"
    path.write_text(yaml.safe_dump({**BASE_SPACE, "params": params}, sort_keys=False))
    try:
        space = load_space(str(path))
    except SpaceError as err:
        assert err.file == str(path) and err.field, err.message
        return
    for spec in space.params.values():
        if spec.type in ("float", "int"):
            assert math.isfinite(spec.low) and math.isfinite(spec.high) and spec.low < spec.high
            assert not spec.log or spec.low > 0
            assert spec.step is None or 0 < spec.step <= spec.high - spec.low
    # What the search will do with it: Optuna samples every parameter whose condition holds.
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    sample = define_by_run(space.params)
    for _ in range(3):
        trial = study.ask()
        sample(trial)
        study.tell(trial, 0.0)


# Settings where every value of a range is legal: (type, smallest legal low, largest legal high).
OPEN_SETTINGS = {
    "loss.alpha": ("float", 0.0, 10.0), "loss.beta": ("float", 0.0, 10.0), "train.lr": ("float", 1e-6, 1.0),
    "train.weight_decay": ("float", 0.0, 1.0), "train.labelled_fraction": ("float", 0.01, 1.0),
    "distill.temperature": ("float", 0.05, 8.0), "train.epochs": ("int", 2, 12),
    "train.batch_size": ("int", 1, 256), "student.layers": ("int", 1, 3),
}


@st.composite
def valid_range(draw, path):
    kind, smallest, largest = OPEN_SETTINGS[path]
    value = st.integers(smallest, largest) if kind == "int" else st.floats(smallest, largest)
    low, high = sorted(draw(st.lists(value, min_size=2, max_size=2, unique=True)))
    entry = {"type": kind, "low": low, "high": high}
    if low > 0 and draw(st.booleans()):
        entry["log"] = True
    elif high - low >= 1e-3 and draw(st.booleans()):
        entry["step"] = draw(st.integers(1, high - low) if kind == "int" else st.floats(1e-3, high - low))
    return entry


@BOUNDED
@given(data=st.data(), paths=st.lists(st.sampled_from(sorted(OPEN_SETTINGS)), min_size=1, max_size=3, unique=True))
def test_space_loader_accepts_every_legal_range(space_dir, data, paths):
    params = {path: data.draw(valid_range(path), label=path) for path in paths}
    path = space_dir / "legal.yaml"
    path.write_text(yaml.safe_dump({**BASE_SPACE, "params": params}, sort_keys=False))
    space = load_space(str(path))  # a refusal here is a false alarm: the test fails with its message
    for name, entry in params.items():
        spec = space.params[name]
        assert (spec.type, spec.low, spec.high) == (entry["type"], entry["low"], entry["high"])
        assert spec.log == entry.get("log", False) and spec.step == entry.get("step")


# --- the dataset validator ----------------------------------------------------------------

FIELDS = (*MODALITIES, "label", "id")


@st.composite
def clean_dataset(draw):
    """Small random splits that pass every check: finite features, labels in [-3, 3], unique ids."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shapes = {m: (draw(st.integers(1, 3)), draw(st.integers(1, 3))) for m in MODALITIES}
    splits = {}
    for split in SPLITS:
        n = draw(st.integers(1, 4))
        fields = {m: rng.standard_normal((n, *shapes[m])).astype(np.float32) for m in MODALITIES}
        fields["label"] = rng.uniform(-3, 3, n).astype(np.float32)
        fields["id"] = np.array([f"{split}:{i}" for i in range(n)], dtype=object)
        splits[split] = fields
    return splits


def _inject(splits: dict, defect: tuple) -> set[str]:
    """Damage `splits` in place; return the split/field names a correct error may name."""
    kind, split, name = defect
    fields = splits[split]
    if kind in ("nan", "inf"):
        flat = fields[name].reshape(-1)
        flat[0] = np.nan if kind == "nan" else -np.inf
        return {f"{split}/{name}"}
    if kind == "label_range":
        fields["label"][-1] = 3.5
        return {f"{split}/label"}
    if kind == "duplicate_id":
        if len(fields["id"]) < 2:
            fields["id"] = np.array(["twice", "twice"], dtype=object)  # also a count mismatch
            return {f"{split}/{f}" for f in FIELDS}
        fields["id"][1] = fields["id"][0]
        return {f"{split}/id"}
    if kind == "count":
        arr = fields[name]
        fields[name] = np.concatenate([arr, arr[:1]])
        # N is counted from text: a longer text puts the blame on every other field of the split.
        return {f"{split}/{f}" for f in FIELDS} if name == "text" else {f"{split}/{name}"}
    if kind in ("dim", "length"):
        arr = fields[name]
        axis = 2 if kind == "dim" else 1
        fields[name] = np.concatenate([arr, np.take(arr, [0], axis=axis)], axis=axis)
        return {f"{s}/{name}" for s in SPLITS}  # the split that differs from the first is named
    if kind == "missing_field":
        del fields[name]
        return {f"{split}/{name}"}
    if kind == "missing_split":
        del splits[split]
        return {split}
    raise AssertionError(kind)


DEFECTS = st.one_of(
    st.tuples(st.sampled_from(["nan", "inf"]), st.sampled_from(SPLITS), st.sampled_from([*MODALITIES, "label"])),
    st.tuples(st.sampled_from(["label_range", "duplicate_id"]), st.sampled_from(SPLITS), st.none()),
    st.tuples(st.just("count"), st.sampled_from(SPLITS), st.sampled_from(FIELDS)),
    st.tuples(st.sampled_from(["dim", "length"]), st.sampled_from(SPLITS), st.sampled_from(MODALITIES)),
    st.tuples(st.just("missing_field"), st.sampled_from(SPLITS), st.sampled_from(FIELDS)),
    st.tuples(st.just("missing_split"), st.sampled_from(SPLITS), st.none()),
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("datasets")


@BOUNDED
@given(splits=clean_dataset(), defects=st.lists(DEFECTS, max_size=2))
def test_dataset_loader_names_a_damaged_field_or_loads_the_clean_data(data_dir, splits, defects):
    clean = {s: {k: v.copy() for k, v in fields.items()} for s, fields in splits.items()}
    blamable: set[str] = set()
    for defect in defects:
        if defect[1] in splits and (defect[2] is None or defect[2] in splits[defect[1]]):
            blamable |= _inject(splits, defect)
    path = data_dir / "random.h5"
    write_raw_dataset(path, splits)
    try:
        dataset = load_dataset(path)
    except DataError as err:
        assert blamable, f"a clean file was refused: {err.message}"
        assert err.file == str(path) and err.field in blamable, (err.message, sorted(blamable))
        return
    assert not blamable, f"damage {defects} was not detected"
    for split in SPLITS:
        for name in (*MODALITIES, "label"):
            np.testing.assert_array_equal(getattr(dataset.splits[split], name), clean[split][name])
        assert list(dataset.splits[split].id) == list(clean[split]["id"])


VALUE_DEFECTS = st.one_of(
    st.tuples(st.sampled_from(["nan", "inf"]), st.sampled_from(SPLITS), st.sampled_from([*MODALITIES, "label"])),
    st.tuples(st.just("label_range"), st.sampled_from(SPLITS), st.none()),
)


@BOUNDED
@given(splits=clean_dataset(), defect=VALUE_DEFECTS)
def test_writer_refuses_bad_values_and_leaves_no_file(data_dir, splits, defect):
    blamable = _inject(splits, defect)
    path = data_dir / "refused.h5"
    with pytest.raises(DataError) as info:
        write_dataset(path, splits, {"source": "test:property", "aligned": False})
    assert info.value.file == str(path) and info.value.field in blamable
    assert not [name for name in os.listdir(data_dir) if name.startswith("refused.h5")]
