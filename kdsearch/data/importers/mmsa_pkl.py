"""MMSA feature pickles: ``MOSEI|MOSI/Processed/aligned_50.pkl`` and ``unaligned_50.pkl``.

Layout (docs/methods.md §1.1): ``{split: {"text", "audio", "vision", "regression_labels", "id",
"raw_text", "audio_lengths", "vision_lengths", ...}}``. ``text`` holds pre-extracted BERT
features (768-d), which is what is imported as the text modality.

Kept: the three modalities, ``regression_labels`` (as ``label``), ``id`` ("videoID$_$clipID",
bytes decoded as UTF-8, repeats suffixed ``#2``...), any ``<modality>_lengths`` (clipped into
[0, T] and counted), and ``raw_text``. The layout has no string field besides ``id``, so
``raw_text`` is stored as an extra UTF-8 string dataset ``<split>/raw_text``, which the loader
ignores and the fingerprint does not cover. Dropped: ``text_bert`` (token ids for a fine-tuned
BERT, which kdsearch does not run), ``annotations`` and the deprecated ``classification_labels``.
The features are copied as MMSA padded them.
"""

from __future__ import annotations

import os

from kdsearch.data.importers.common import text_list
from kdsearch.data.importers.pickled import PickleLayout, import_pickled
from kdsearch.data.importers.safe_pickle import load_pickle

FORMAT = "mmsa-pkl"


def mmsa_ids(raw, n: int, path: str, key: str) -> list[str]:
    """MMSA ids are already one string per sample; a file without ids gets "<split>-<index>"."""
    if raw is None:
        return [f"{key.split('/')[0]}-{i}" for i in range(n)]
    return [s.strip() for s in text_list(raw, n, path=path, key=key)]


LAYOUT = PickleLayout(fmt=FORMAT, label_key="regression_labels", make_ids=mmsa_ids, text_extras=("raw_text",))


def import_mmsa_pkl(src: str | os.PathLike, out: str | os.PathLike, obj=None) -> str:
    """Convert an MMSA pickle into the dataset layout at `out`; return the fingerprint.

    Args:
        src: the ``.pkl`` file.
        out: the dataset file to write (atomically).
        obj: the already-unpickled content of `src` (it is consumed), to avoid a second load.

    Raises:
        DataError: an unreadable, refused or mismatched file (names file, split/field, problem).
    """
    if obj is None:
        obj = load_pickle(src)
    return import_pickled(obj, src, out, LAYOUT)
