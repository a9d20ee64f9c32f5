"""The results of ``illusioncraft evaluate``: one record (scores and their provenance), a table and a JSON file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Optional

from illusioncraft import __version__

LABELS = {
    "fid": "FID", "kid": "KID (mean, std)", "is": "Inception Score (mean, std)",
    "precision_recall": "precision, recall (k=3)", "density_coverage": "density, coverage (k=5)",
    "attribute_accuracy": "attribute accuracy", "attribute_all": "all attributes right",
}


def record(values: dict[str, Any], provenance: dict[str, Any], world_size: int) -> dict[str, Any]:
    """Scores by name (pairs spelt out: kid_mean, kid_std, precision, recall, ...) with where they came from."""
    scores: dict[str, Any] = {}
    for name, value in values.items():
        if name == "n_real":
            continue
        if name == "kid":
            scores["kid_mean"], scores["kid_std"] = value
        elif name == "is":
            scores["is_mean"], scores["is_std"] = value
        elif name == "precision_recall":
            scores["precision"], scores["recall"] = value
        elif name == "density_coverage":
            scores["density"], scores["coverage"] = value
        else:
            scores[name] = value
    return {"metrics": scores, "provenance": {**provenance, "processes": world_size, "illusioncraft": __version__}}


def table(result: dict[str, Any]) -> str:
    """The scores and their provenance as a plain-text table."""
    from rich.console import Console
    from rich.table import Table

    scores = Table(title="illusioncraft evaluate")
    scores.add_column("metric")
    scores.add_column("value", justify="right")
    for name, value in result["metrics"].items():
        scores.add_row(name, f"{value:.6g}" if isinstance(value, float) else str(value))
    provenance = Table(title="provenance")
    provenance.add_column("what")
    provenance.add_column("value")
    for name, value in result["provenance"].items():
        provenance.add_row(name, str(value))
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(scores)
    console.print(provenance)
    return console.export_text()


def write_json(result: dict[str, Any], path: Optional[Path]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
