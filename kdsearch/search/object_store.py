"""How big Ray's object store must be for a local search: the dataset goes in it whole, once.

Ray sizes a local object store at 30% of the memory available when it starts. The `mosei` preset's train and
valid arrays are about 5 GiB, so on a 16-24 GiB machine the default store is smaller than the one
object every trial reads, and `ray.put` fails deep inside Tune. The driver asks for what the
search needs instead, or refuses up front when the machine cannot hold it.
"""

from __future__ import annotations

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
