"""Where IllusionCraft keeps what it computes once and reuses: ``$ILLUSIONCRAFT_CACHE`` (default
``~/.cache/illusioncraft``): trained feature extractors, decoded image folders."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("ILLUSIONCRAFT_CACHE", Path.home() / ".cache" / "illusioncraft"))
