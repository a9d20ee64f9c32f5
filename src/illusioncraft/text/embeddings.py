"""Pre-computed sentence embeddings, such as StackGAN's ``char-CNN-RNN-embeddings.pickle``.

StackGAN conditions on fixed char-CNN-RNN embeddings of ten captions per image, stored as a Python 2 pickle of
an (N images, 10 captions, 1024) array or a list of N (10, 1024) arrays. This loader reads those and ``.npy`` /
``.pt`` files into one float32 tensor (N, captions_per_image, D).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from illusioncraft.errors import DataError
from illusioncraft.safe_pickle import load_pickle

PICKLE_SUFFIXES = (".pickle", ".pkl")
SUFFIXES = (*PICKLE_SUFFIXES, ".npy", ".pt", ".pth")


def _read(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:  # latin1: StackGAN's pickles were written by Python 2
        return load_pickle(path, "sentence embeddings", encoding="latin1")
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    return torch.load(path, map_location="cpu", weights_only=True)


def _as_array(loaded: Any, where: str) -> Tensor:
    if isinstance(loaded, dict):
        if "embeddings" in loaded:
            loaded = loaded["embeddings"]
        elif len(loaded) == 1:
            loaded = next(iter(loaded.values()))
        else:
            raise DataError(f"{where} holds a mapping with keys {sorted(map(str, loaded))}; expected an 'embeddings' key")
    if isinstance(loaded, Tensor):
        return loaded.detach().to("cpu", torch.float32)
    if isinstance(loaded, (list, tuple)):
        loaded = [item.numpy() if isinstance(item, Tensor) else item for item in loaded]
    try:
        array = np.asarray(loaded, dtype=np.float32)
    except (ValueError, TypeError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{where} is not an array of numbers (or its rows differ in shape): {first}") from None
    return torch.from_numpy(array)


def load_sentence_embeddings(path: str | Path) -> Tensor:
    """Float32 tensor (N, captions_per_image, D) from a .pickle/.pkl, .npy or .pt file; (N, D) becomes (N, 1, D).

    Pickles are read only because the user named this file, and through ``illusioncraft.safe_pickle``: arrays and
    plain containers load, any other object is refused. ``.npy`` is read without pickles and ``.pt`` with
    ``weights_only=True``.
    """
    path = Path(path)
    where = f"sentence embeddings '{path}'"
    if not path.is_file():
        raise DataError(f"{where} does not exist" if not path.exists() else f"{where} is not a file")
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(f"{where} has an unknown suffix '{path.suffix}'; expected one of {', '.join(SUFFIXES)}")
    try:
        loaded = _read(path)
    except DataError:
        raise
    except Exception as error:  # a corrupt or foreign file: say which and why, in one line
        first = str(error).splitlines()[0] if str(error) else ""
        raise DataError(f"cannot read {where}: {type(error).__name__}: {first}".rstrip(": ")) from None
    embeddings = _as_array(loaded, where)
    if embeddings.dim() == 2:
        embeddings = embeddings.unsqueeze(1)  # (N, D) -> (N, 1, D)
    if embeddings.dim() != 3:
        raise DataError(
            f"{where} has shape {tuple(embeddings.shape)}; expected (N, captions_per_image, D) or (N, D)"
        )
    if embeddings.numel() == 0:
        raise DataError(f"{where} is empty (shape {tuple(embeddings.shape)})")
    return embeddings.contiguous()
