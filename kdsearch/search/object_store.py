"""Ray's object store: how big it must be for a local search, and the dataset put in it once.

Ray sizes a local object store at 30% of the memory available when it starts. The `mosei` preset's train and
valid arrays are about 5 GiB, so on a 16-24 GiB machine the default store is smaller than the one
object every trial reads, and `ray.put` fails deep inside Tune. The driver asks for what the
search needs instead, or refuses up front when the machine cannot hold it.

One copy of the dataset on the driver: it loads the dataset from its file, then every trial must
read it from the object store. Putting the arrays there copies them, so a driver that kept its own arrays would hold the dataset
twice (about 9.4 GiB of a 24 GiB machine at MOSEI size). `share_dataset` puts them once and
points the driver's `Dataset` at the store's read-only, zero-copy views, so the loaded copy is
freed; teacher training on the driver reads the same memory the trials read.
"""

from __future__ import annotations

import dataclasses

from kdsearch.data.layout import Dataset, split_arrays_from_flat
from kdsearch.errors import UserError
# One rule for the store's size, shared with the teacher cache's budget (validation has no Ray):
# never more than MOST_OF_AVAILABLE of the memory available now, HEADROOM for teachers, Tune's
# checkpoints in flight and fragmentation, plus SLACK_BYTES.
from kdsearch.spec.teacher_cache_plan import HEADROOM, MOST_OF_AVAILABLE, SLACK_BYTES

RAY_DEFAULT_FRACTION = 0.3   # what Ray takes of the available memory when not told


def memory_bytes() -> tuple[int, int]:
    """(total, available) memory of this machine as Ray counts it when it sizes its store:
    a container's memory limit where there is one (cgroups), on Linux and macOS alike."""
    from ray._private.utils import estimate_available_memory, get_system_memory

    return int(get_system_memory()), int(estimate_available_memory())


def object_store_bytes(payload_bytes: int, *, total: int | None = None, available: int | None = None) -> int | None:
    """The object store size to ask Ray for, or None where Ray's default already fits.

    Args:
        payload_bytes: what the search puts in the store (dataset arrays and teachers).
        total, available: the machine's memory (read from /proc when not given; tests pass them).

    Raises:
        UserError: the payload cannot fit in the memory available (names `data`).
    """
    if total is None or available is None:
        total, available = memory_bytes()
    need = int(payload_bytes * HEADROOM) + SLACK_BYTES
    if need <= RAY_DEFAULT_FRACTION * available:
        return None
    if need > MOST_OF_AVAILABLE * available:
        raise UserError(f"the search's data needs a {need / 2**30:.1f} GiB object store but this machine has "
                        f"{available / 2**30:.1f} GiB of memory available: use a machine with more memory, or "
                        "a smaller dataset", field="data")
    return need


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
