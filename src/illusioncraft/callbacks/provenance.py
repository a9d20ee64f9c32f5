"""``<run dir>/metric_provenance.json``: where each logged score came from (extractor, weights hash, sample counts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_provenance(run_dir: str | Path, records: list[dict[str, Any]]) -> None:
    """Append ``records`` to the run directory's provenance file (created with its directory when missing)."""
    path = Path(run_dir) / "metric_provenance.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps(existing + records, indent=2))
