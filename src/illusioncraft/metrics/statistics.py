"""Reference statistics of real images: pytorch-fid's ``.npz`` files (``mu``, ``sigma``) and a cache of them.

A statistics file holds the mean ``mu`` (d,) and covariance ``sigma`` (d, d) of a real set's features, as
pytorch-fid, TTUR and clean-fid publish them, so a score can be taken against published statistics. Files this
package writes may also hold the real ``features`` (n, d), which KID and precision/recall need. The cache keeps
one file per (dataset and its arguments, split, extractor, weights hash, resize mode, n), named by the hash of
that key, with the key beside it as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from illusioncraft.errors import ConfigError
from illusioncraft.metrics.features import cache_dir


def save_statistics(path: Path, mu: Tensor, sigma: Tensor, features: Optional[Tensor] = None) -> None:
    """Write ``mu`` and ``sigma`` (float64), and ``features`` when given, to ``path`` (.npz), atomically."""
    arrays = {"mu": mu.double().cpu().numpy(), "sigma": sigma.double().cpu().numpy()}
    if features is not None:
        arrays["features"] = features.float().cpu().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(temporary, **arrays)
    temporary.replace(path)


def load_statistics(path: Path) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """(mu, sigma, features or None) from a statistics ``.npz``; one-line errors naming the file."""
    if not path.is_file():
        raise ConfigError(f"statistics file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ("mu", "sigma") if key not in archive.files]
            if missing:
                raise ConfigError(f"statistics file '{path}' has no {' and '.join(missing)} (keys: {archive.files})")
            mu, sigma = np.asarray(archive["mu"], np.float64), np.asarray(archive["sigma"], np.float64)
            features = np.asarray(archive["features"], np.float32) if "features" in archive.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ConfigError(f"cannot read statistics file '{path}': {type(error).__name__}: {error}") from None
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ConfigError(f"statistics file '{path}': mu has shape {mu.shape} and sigma {sigma.shape}; expected (d,), (d, d)")
    return torch.from_numpy(mu), torch.from_numpy(sigma), None if features is None else torch.from_numpy(features)


def cache_key(dataset: str, arguments: dict[str, Any], split: str, extractor: str, weights_sha256: str,
              resize: str, n: int) -> dict[str, Any]:
    """What a cached statistics file depends on."""
    return {"dataset": dataset, "arguments": arguments, "split": split, "extractor": extractor,
            "weights_sha256": weights_sha256, "resize": resize, "n": n}


def cached_statistics_path(key: dict[str, Any]) -> Path:
    """``$ILLUSIONCRAFT_CACHE/reference_statistics/<dataset>-<split>-<hash of key>.npz``."""
    text = json.dumps(key, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return cache_dir() / "reference_statistics" / f"{key['dataset']}-{key['split']}-{digest}.npz"


def write_cache_key(path: Path, key: dict[str, Any]) -> None:
    path.with_suffix(".json").write_text(json.dumps(key, indent=2, sort_keys=True, default=str))
