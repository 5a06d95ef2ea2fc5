"""One copy of the dataset on the driver: Ray's object store's.

The driver loads the dataset from its file, then every trial must read it from the object store.
Putting the arrays there copies them, so a driver that kept its own arrays would hold the dataset
twice (about 9.4 GiB of a 24 GiB machine at MOSEI size). `share_dataset` puts them once and
points the driver's `Dataset` at the store's read-only, zero-copy views, so the loaded copy is
freed; teacher training on the driver reads the same memory the trials read.
"""

from __future__ import annotations

import dataclasses

from kdsearch.data.layout import Dataset, split_arrays_from_flat


def share_dataset(dataset: Dataset):
    """Puts `dataset`'s arrays into Ray's object store; returns the ObjectRef trials read.

    Afterwards `dataset` reads from the store. Call `unshare_dataset` before `ray.shutdown()`:
    views into the store must not outlive the connection to it.
    """
    import ray

    ref = ray.put(dataset.to_arrays())
    views = ray.get(ref)
    dataset.splits = {name: dataclasses.replace(split_arrays_from_flat(views, name), id=old.id)
                      for name, old in dataset.splits.items()}
    return ref


def unshare_dataset(dataset: Dataset) -> None:
    """Drops the driver's views into the store (the dataset is empty afterwards)."""
    dataset.splits = {}
