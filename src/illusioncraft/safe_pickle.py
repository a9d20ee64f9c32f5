"""Reading the pickles that datasets ship (CIFAR's python batches, StackGAN's filenames, class ids and sentence
embeddings) without letting a file run code.

A pickle names functions to call while it loads; a crafted file can name ``os.system``. This unpickler resolves
only the names those files need: the plain containers Python builds by itself, and numpy's array and scalar
reconstruction. Any other name is a one-line ``DataError`` naming the file and the refused global, before
anything is called. Python 2 pickles are read with ``encoding`` (``latin1`` for numpy arrays, ``bytes`` for
CIFAR's dictionaries, whose keys are byte strings).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from illusioncraft.errors import DataError

# (module, name) pairs a dataset pickle may call: numpy's array/scalar reconstruction under its old and new
# module names, and the byte-string helper Python 3 uses for protocol-2 bytes.
ALLOWED_GLOBALS = {
    *((module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
      for name in ("_reconstruct", "scalar")),
    *((module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class DatasetUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``ALLOWED_GLOBALS``."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global '{module}.{name}' (only arrays and plain containers load)")
        import numpy as np

        if module == "numpy":
            return getattr(np, name)
        if name in ("_reconstruct", "scalar"):
            from numpy._core import multiarray

            return getattr(multiarray, name)
        if name == "_frombuffer":
            from numpy._core import numeric

            return numeric._frombuffer
        return super().find_class(module, name)


def load_pickle(path: str | Path, what: str, encoding: str = "latin1") -> Any:
    """The object in the pickle file ``path``; ``what`` names the file in the one-line errors ("cannot read
    {what} '{path}': ...")."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} '{path}' does not exist")
    try:
        with path.open("rb") as handle:
            return DatasetUnpickler(handle, encoding=encoding).load()
    except Exception as error:  # a corrupt, truncated or crafted file: say which and why, in one line
        first = str(error).splitlines()[0] if str(error) else ""
        raise DataError(f"cannot read {what} '{path}': {type(error).__name__}: {first}".rstrip(": ")) from None
