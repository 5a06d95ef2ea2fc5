"""The restricted unpickler admits numpy arrays and plain containers, and nothing that runs code."""

from __future__ import annotations

import builtins
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from import_fixtures import mult_object, write_pickle
from kdsearch.data.importers.safe_pickle import load_pickle
from kdsearch.errors import DataError


class _RunsShell:
    """Unpickling this under plain `pickle.load` would run a shell command."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _CallsGlobal:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_admits_arrays_scalars_and_plain_containers(tmp_path, protocol):
    obj = {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "strided": np.arange(16.0).reshape(4, 4)[:, ::2],
        "ids": np.array([[b"vid", b"1.5"]]),
        "unicode": np.array(["a", "bé"]),
        "objects": np.array([b"x", "y", 3], dtype=object),
        "scalar": np.float32(2.5),
        "containers": [(1, 2.0), {3}, frozenset({4}), bytearray(b"z"), 1 + 2j, b"raw", OrderedDict(k=1)],
    }
    loaded = load_pickle(write_pickle(tmp_path / "ok.pkl", obj, protocol))
    for key in ("f32", "strided", "ids", "unicode", "objects"):
        assert loaded[key].dtype == obj[key].dtype and np.array_equal(loaded[key], obj[key])
    assert loaded["scalar"] == np.float32(2.5) and isinstance(loaded["scalar"], np.float32)
    assert loaded["containers"] == obj["containers"]


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = write_pickle(tmp_path / "evil.pkl", {"train": {"text": _RunsShell(marker)}})
    with pytest.raises(DataError) as err:
        load_pickle(path)
    assert not marker.exists()
    assert err.value.file == path and err.value.field == "pickle"
    assert f"refused global {os.system.__module__}.system" in err.value.message
    with open(path, "rb") as fh:  # the same file does run code under plain pickle (the threat is real)
        pickle.load(fh)
    assert marker.exists()


@pytest.mark.parametrize("func, args, name", [
    (builtins.eval, ("1+1",), "builtins.eval"),
    (np.load, ("x.npy",), "numpy.load"),
    (getattr, (np.zeros(1), "tofile"), "builtins.getattr"),
])
def test_any_other_global_is_refused_by_name(tmp_path, func, args, name):
    path = write_pickle(tmp_path / "g.pkl", [np.zeros(2), _CallsGlobal(func, *args)])
    with pytest.raises(DataError, match=f"g.pkl: pickle: refused global {name} "):
        load_pickle(path)


def test_truncated_and_non_pickle_files(tmp_path):
    whole = pickle.dumps(mult_object(), protocol=4)
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut.pkl: pickle: truncated pickle"):
        load_pickle(cut)
    text = tmp_path / "notes.pkl"
    text.write_text("hello, not a pickle")
    with pytest.raises(DataError, match=r"notes.pkl: pickle: corrupt or not a pickle"):
        load_pickle(text)
    with pytest.raises(DataError, match=r"missing.pkl: file not found"):
        load_pickle(tmp_path / "missing.pkl")


def test_reads_pickles_written_by_numpy_1(tmp_path):
    """numpy 1.x names numpy.core.multiarray; numpy 2 renamed it numpy._core (both admitted)."""
    data = pickle.dumps({"a": np.arange(3.0), "s": np.float32(1.5)}, protocol=2)
    assert b"numpy._core.multiarray" in data
    path = tmp_path / "old.pkl"
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    loaded = load_pickle(path)
    assert loaded["a"].tolist() == [0.0, 1.0, 2.0] and loaded["s"] == np.float32(1.5)
