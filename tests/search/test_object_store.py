"""The local object store is sized to hold the search's dataset, or the search is refused."""

import pytest

from kdsearch.errors import UserError
from kdsearch.search.object_store import object_store_bytes

GIB = 2**30


def test_small_data_keeps_rays_default():
    assert object_store_bytes(70 * 2**20, total=24 * GIB, available=20 * GIB) is None


def test_mosei_sized_data_gets_a_store_that_holds_it():
    # The mosei preset's train+valid arrays: ~5.2 GiB, more than 30% of 16 GiB.
    store = object_store_bytes(int(5.2 * GIB), total=24 * GIB, available=14 * GIB)
    assert store is not None and store >= 5.2 * GIB


def test_data_larger_than_memory_is_refused_naming_data():
    with pytest.raises(UserError) as err:
        object_store_bytes(30 * GIB, total=24 * GIB, available=20 * GIB)
    assert err.value.field == "data" and "GiB" in str(err.value)


def test_reads_this_machines_memory():
    assert object_store_bytes(1) is None  # one byte always fits Ray's default
