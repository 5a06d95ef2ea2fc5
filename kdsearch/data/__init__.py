"""The dataset layer: one HDF5 layout for every source, its validation, a synthetic generator.

Public API (see each module): `load_dataset`, `Dataset`, `SplitArrays`, `DatasetWriter`,
`write_dataset`, `split_arrays_from_flat`, `sanitize`, `generate`, `PRESETS`, `preset_shapes`,
`describe_dataset`, `info_command`, `synth_command`.
"""

from kdsearch.data.info import describe_dataset, info_command, synth_command
from kdsearch.data.layout import (
    MODALITIES,
    SPLITS,
    Dataset,
    DatasetWriter,
    SplitArrays,
    load_dataset,
    read_attrs,
    split_arrays_from_flat,
    write_dataset,
)
from kdsearch.data.synthetic import PRESETS, SynthParams, generate, preset_shapes
from kdsearch.data.validate import add_counts, sanitize

__all__ = [
    "SPLITS", "MODALITIES", "SplitArrays", "Dataset", "DatasetWriter", "write_dataset", "load_dataset",
    "read_attrs", "split_arrays_from_flat", "sanitize", "add_counts", "PRESETS", "SynthParams", "generate",
    "preset_shapes",
    "describe_dataset", "info_command", "synth_command",
]
