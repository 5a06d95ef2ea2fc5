"""Load a feature pickle without letting it run code.

A pickle is a small program: every global it names is imported and may be called, so a crafted
``.pkl`` runs whatever it likes under plain `pickle.load` (``os.system`` is one ``__reduce__``
away). The public MulT and MMSA files only ever need numpy arrays, numpy scalars and dtypes,
and plain containers, so `RestrictedUnpickler` admits exactly the globals those need and refuses
every other one *before* it is imported or called.
"""

from __future__ import annotations

import codecs
import importlib
import os
import pickle

from kdsearch.errors import DataError, UserError
from kdsearch.userfiles import regular_file

# numpy 2 renamed numpy.core to numpy._core; pickles written by numpy 1.x name the old module.
_NUMPY_CORE_MODULES = {"numpy.core.multiarray": "multiarray", "numpy._core.multiarray": "multiarray",
                       "numpy.core.numeric": "numeric", "numpy._core.numeric": "numeric"}
_NUMPY_CORE_NAMES = {
    "multiarray": ("_reconstruct", "scalar"),  # protocol < 5 arrays; numpy scalars (np.float32(1))
    "numeric": ("_frombuffer",),  # protocol-5 arrays
}
_NUMPY_TOP = ("ndarray", "dtype")
# Containers whose opcodes need a global (sets before protocol 4, OrderedDict always).
_BUILTIN_NAMES = ("set", "frozenset", "bytearray", "complex", "list", "dict", "tuple")


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes, limited to the latin-1 codec."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not admitted")
    return codecs.encode(text, encoding, errors)


def _bytearray_of_data(*args):
    """`bytearray` as pickles use it (from the bytes or latin-1 text they carry), never
    `bytearray(N)`: a dozen bytes of pickle would otherwise allocate N bytes of zeros."""
    if args and not isinstance(args[0], (bytes, str)):
        raise pickle.UnpicklingError(f"bytearray({type(args[0]).__name__}) is not admitted (it allocates rather "
                                     "than carries data)")
    return bytearray(*args)


def _numpy_core(submodule: str):
    try:
        return importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:  # numpy 1.x
        return importlib.import_module(f"numpy.core.{submodule}")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits numpy arrays/scalars/dtypes and plain Python containers only.

    Any other global (a function, a class, a module attribute) raises `pickle.UnpicklingError`
    naming it; `load_pickle` turns that into a `DataError`.
    """

    def find_class(self, module: str, name: str):
        if module == "numpy" and name in _NUMPY_TOP:
            import numpy

            return getattr(numpy, name)
        sub = _NUMPY_CORE_MODULES.get(module)
        if sub is not None and name in _NUMPY_CORE_NAMES[sub]:
            return getattr(_numpy_core(sub), name)
        if module in ("builtins", "__builtin__") and name in _BUILTIN_NAMES:
            return {"set": set, "frozenset": frozenset, "bytearray": _bytearray_of_data, "complex": complex,
                    "list": list, "dict": dict, "tuple": tuple}[name]
        if module == "collections" and name == "OrderedDict":
            from collections import OrderedDict

            return OrderedDict
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        raise RefusedGlobal(f"{module}.{name}")


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside the admitted set (its dotted name is the message)."""


def load_pickle(path: str | os.PathLike):
    """Unpickle a feature file with `RestrictedUnpickler`.

    Python 2 pickles are read with ``encoding="latin1"``, which numpy needs to rebuild their
    arrays; Python 3 pickles are unaffected by it.

    Args:
        path: the ``.pkl`` file.

    Returns:
        The unpickled object (for the public files: a dict of splits of dicts of arrays).

    Raises:
        DataError: the file is missing, truncated or corrupt, or names a refused global.
    """
    path = os.fspath(path)
    try:
        regular_file(path, what="pickle file")  # a named pipe would block open() forever
    except UserError as exc:
        raise DataError("file not found" if exc.problem.startswith("no such") else exc.problem, file=path) from None
    try:
        with open(path, "rb") as fh:
            return RestrictedUnpickler(fh, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a pickle file", file=path) from None
    except RefusedGlobal as err:
        raise DataError(f"refused global {err} (only numpy arrays and plain containers are admitted; "
                        "the file may be malicious)", file=path, field="pickle") from None
    except (EOFError, pickle.UnpicklingError) as err:
        if not isinstance(err, EOFError) and "truncated" not in str(err):
            raise DataError(f"corrupt or not a pickle ({err})", file=path, field="pickle") from None
        raise DataError("truncated pickle (ends before its STOP opcode); download it again",
                        file=path, field="pickle") from None
    except MemoryError:  # the content asks for more memory than this machine has
        raise DataError("building its content needs more memory than this machine has", file=path,
                        field="pickle") from None
    except RecursionError:
        raise DataError("nested too deeply to unpickle", file=path, field="pickle") from None
    except Exception as err:  # whatever numpy or the pickle machinery raises on damaged content
        raise DataError(f"corrupt or not a pickle ({type(err).__name__}: {err})", file=path,
                        field="pickle") from None
