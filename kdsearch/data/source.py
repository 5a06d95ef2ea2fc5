"""Where a space's data comes from: a dataset file, or the embedded synthetic generator.

``data: {synthetic: small, seed: 0}`` generates the preset once into the cache
(``$KDSEARCH_CACHE/data/synthetic-small-seed0-<hash>.h5``) and reuses it afterwards; the hash
covers the preset's generator settings, so a kdsearch whose generator changed never reuses a
file made by an older one;
``data: {path: mosei.h5}`` reads a file written by ``kdsearch data import``/``synth``.
"""

from __future__ import annotations

import os
from pathlib import Path

from kdsearch.data.schema import MODALITIES, SPLITS
from kdsearch.errors import DataError, SpaceError


def _cache_root() -> Path:
    return Path(os.environ.get("KDSEARCH_CACHE") or Path.home() / ".cache" / "kdsearch")


def dataset_path(data_cfg: dict, *, create: bool = True, console=None) -> Path:
    """The dataset file for a `data` section, generating a synthetic preset when needed."""
    if data_cfg.get("path"):
        path = Path(data_cfg["path"]).expanduser()
        if not path.is_file():
            raise DataError("no such dataset file", file=str(path), field="data.path")
        return path
    preset = data_cfg.get("synthetic")
    from kdsearch.data.synthetic import PRESETS, generate

    if preset not in PRESETS:
        raise SpaceError(f"unknown synthetic preset {preset!r}; presets: {', '.join(PRESETS)}", field="data.synthetic")
    path = _cache_root() / "data" / f"synthetic-{preset}-seed{int(data_cfg.get('seed', 0))}-{_settings_hash(preset)}.h5"
    if create and not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        if console is not None:
            console.print(f"Generating synthetic dataset '{preset}' (seed {data_cfg.get('seed', 0)}) -> {path}")
        generate(str(path), preset=preset, seed=int(data_cfg.get("seed", 0)))
    return path


def _settings_hash(preset: str) -> str:
    import dataclasses
    import hashlib
    import json

    from kdsearch.data.synthetic import PRESETS

    settings = json.dumps(dataclasses.asdict(PRESETS[preset]), sort_keys=True, default=str)
    return hashlib.sha256(settings.encode()).hexdigest()[:10]


def dataset_shapes(data_cfg: dict) -> tuple[dict[str, int], dict[str, int]]:
    """(feature dims, sequence lengths) without loading the arrays or generating anything."""
    shapes = _train_shapes(data_cfg)
    return ({m: shapes[m][2] for m in MODALITIES}, {m: shapes[m][1] for m in MODALITIES})


def train_size(data_cfg: dict) -> int:
    """Samples in the training split, without loading the arrays or generating anything (CRD's
    negatives K must stay below it, and validation says so before a search starts)."""
    return _train_shapes(data_cfg)["text"][0]


def _train_shapes(data_cfg: dict) -> dict[str, tuple[int, int, int]]:
    """modality -> (samples, length, dims) of the training split, from the preset or the header."""
    if not data_cfg.get("path"):
        from kdsearch.data.synthetic import resolve_params

        if data_cfg.get("synthetic") is None:
            raise SpaceError("set either data.path or data.synthetic", field="data")
        p = resolve_params(data_cfg["synthetic"])
        return {"text": (p.n_train, p.text_len, p.text_dim), "audio": (p.n_train, p.audio_len, p.audio_dim),
                "vision": (p.n_train, p.vision_len, p.vision_dim)}
    from kdsearch.data.validate import check_root_attrs, check_structure, open_h5

    path = str(dataset_path(data_cfg, create=False))
    # The layout checks read no data, so a truncated or foreign file fails here, at validation,
    # with the dataset file and field named, instead of after a search has started.
    with open_h5(path) as f:
        check_root_attrs(f, path)
        return check_structure(f, path, SPLITS)["train"]


def load_for_search(data_cfg: dict, console=None, splits: tuple[str, ...] = SPLITS):
    """Resolve, (generate,) load and validate the dataset a search trains on (`splits` of it)."""
    from kdsearch.data.layout import load_dataset

    return load_dataset(str(dataset_path(data_cfg, console=console)), splits=splits)


def search_data_bytes(data_cfg: dict) -> int:
    """Bytes of the float32 train and valid features and labels a search puts in Ray's object
    store, from the preset or the file's header alone (the teacher cache is budgeted beside it)."""
    if not data_cfg.get("path"):
        from kdsearch.data.synthetic import resolve_params

        p = resolve_params(data_cfg["synthetic"])
        per_sample = p.text_len * p.text_dim + p.audio_len * p.audio_dim + p.vision_len * p.vision_dim + 1
        return 4 * per_sample * (p.n_train + p.n_valid)
    from kdsearch.data.validate import check_root_attrs, check_structure, open_h5

    path = str(dataset_path(data_cfg, create=False))
    with open_h5(path) as f:
        check_root_attrs(f, path)
        shapes = check_structure(f, path, SPLITS)
    total = 0
    for split in ("train", "valid"):
        for name in (*MODALITIES, "label"):
            size = 1
            for n in shapes[split][name]:
                size *= int(n)
            total += 4 * size
    return total
