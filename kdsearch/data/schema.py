"""What a kdsearch dataset file holds: split and field names, their kinds and ranks.

One table of facts shared by the writer, the validator and the loader, so the three can never
disagree about the layout. See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "valid", "test")
MODALITIES = ("text", "audio", "vision")

FORMAT = "kdsearch-dataset"
FORMAT_VERSION = 1

LABEL_MIN, LABEL_MAX = -3.0, 3.0

# Root attributes importers fill with what `sanitize` had to fix; zeros when nothing was fixed.
COUNTER_ATTRS = ("nonfinite_replaced", "labels_clipped")
# Root attributes stored as JSON strings (HDF5 attributes cannot hold nested dicts).
JSON_ATTRS = ("feature_names", *COUNTER_ATTRS)


@dataclass(frozen=True)
class FieldSpec:
    """How one per-split field is stored.

    Attributes:
        kind: "float" (stored float32), "int" (stored int32) or "str" (variable-length UTF-8).
        rank: number of axes, the first always being the sample axis N.
        axes: human-readable axis names, used in error messages.
    """

    kind: str
    rank: int
    axes: str

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype the field is converted to before it is written and hashed."""
        return {"float": np.dtype(np.float32), "int": np.dtype(np.int32)}.get(self.kind, np.dtype(object))


REQUIRED_FIELDS = (*MODALITIES, "label", "id")
# True (unpadded) sequence lengths, as MMSA's unaligned pickles carry them, and the planted event
# time steps of synthetic data (so a diagnostic can measure where a teacher's attention lands).
OPTIONAL_FIELDS = (*(f"{m}_lengths" for m in MODALITIES), "audio_events", "vision_events")

FIELD_SPECS: dict[str, FieldSpec] = {
    **{m: FieldSpec("float", 3, "(N, T, D)") for m in MODALITIES},
    "label": FieldSpec("float", 1, "(N,)"),
    "id": FieldSpec("str", 1, "(N,)"),
    **{f"{m}_lengths": FieldSpec("int", 1, "(N,)") for m in MODALITIES},
    "audio_events": FieldSpec("int", 2, "(N, E)"),
    "vision_events": FieldSpec("int", 2, "(N, E)"),
}


def field_key(split: str, field: str) -> str:
    """The name a field goes by in messages and in flat array dicts, e.g. ``"train/audio"``."""
    return f"{split}/{field}"
