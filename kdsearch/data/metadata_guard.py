"""Read a dataset file's HDF5 metadata once in a child process, with a time bound, before this
process opens it.

A byte flip can leave an HDF5 file whose global heap libhdf5 parses without end, inside one C call
(reading a string attribute): no signal or timeout in the same process interrupts that. A child
that reads every attribute and the shape of every object either finishes (the file's metadata is
sound), or is killed at the bound and the file is refused with one line. A file is probed once
per process for each (size, mtime, inode) it has.
"""

from __future__ import annotations

import os
import subprocess
import sys

from kdsearch.errors import DataError

PROBE_TIMEOUT_S = float(os.environ.get("KDSEARCH_HDF5_PROBE_TIMEOUT_S", "30"))

# Everything `open_h5`'s callers read before the arrays: root and group attributes, object shapes.
_PROBE = """
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    def visit(obj):
        for key in list(obj.attrs):
            obj.attrs.get(key)
        getattr(obj, "shape", None)
    visit(f)
    f.visititems(lambda _name, obj: visit(obj))
"""

_SOUND: set[tuple] = set()


def check_metadata_readable(path: str) -> None:
    """Raise DataError when the file's metadata cannot be read within the bound (or crashes the
    reader); return quietly otherwise, including for errors h5py reports (the caller's own open
    turns those into their usual messages)."""
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key in _SOUND:
        return
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, path], capture_output=True, timeout=PROBE_TIMEOUT_S,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        raise DataError(f"corrupt HDF5 file: reading its metadata did not finish in {PROBE_TIMEOUT_S:g} s "
                        "(re-create or re-import it)", file=path) from None
    if done.returncode < 0:  # killed by a signal: libhdf5 crashed on the file
        raise DataError("corrupt HDF5 file: reading its metadata crashed the HDF5 library (re-create or "
                        "re-import it)", file=path)
    if done.returncode == 0:
        _SOUND.add(key)
