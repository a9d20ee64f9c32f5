"""Read an offline W&B run the way the dashboard will see it after ``wandb sync``: the records of its ``.wandb`` file.

The file is a LevelDB-style log (blocks of 32 KiB, records split into chunks with a 7-byte header) of
``wandb_internal_pb2.Record`` messages; the format is W&B's own, so constraints.txt pins wandb.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[bytes]:
    """The raw records of a ``.wandb`` file, chunks joined."""
    data = path.read_bytes()
    ident, magic, _ = struct.unpack("<4sHB", data[:7])
    assert ident == b":W&B" and magic == 0xBEE1, "not a W&B record file"
    found, pending, position = [], b"", 7
    while position + 7 <= len(data):
        left = BLOCK - position % BLOCK
        if left < 7:  # the rest of a block too short for a header is padding
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        if length == 0 and kind == 0:
            position += left
            continue
        chunk = data[position + 7:position + 7 + length]
        position += 7 + length
        if kind == FULL:
            found.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            found.append(pending + chunk)
    return found


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


@dataclass
class OfflineRun:
    """What one offline run holds: its id, whether it resumed, where it is filed, config, history rows, summary,
    files and artifacts."""

    run_id: str = ""
    resumed: bool = False
    project: str = ""
    group: str = ""
    job_type: str = ""
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)


def finished_records(path: Path, timeout: float = 60.0) -> list[Any]:
    """The parsed records of a finished run. W&B's writer process may still be writing the file after
    ``wandb.finish()`` returns: wait for the run's last record (``exit``)."""
    from wandb.proto import wandb_internal_pb2 as pb

    deadline = time.monotonic() + timeout
    while True:
        parsed = []
        for raw in records(path):
            record = pb.Record()
            record.ParseFromString(raw)
            parsed.append(record)
        if any(record.WhichOneof("record_type") == "exit" for record in parsed) or time.monotonic() > deadline:
            return parsed
        time.sleep(0.2)


def read_run(directory: Path) -> OfflineRun:
    """Parse ``<directory>/run-<id>.wandb`` (call ``wandb.finish()`` first)."""
    (path,) = directory.glob("run-*.wandb")
    run = OfflineRun()
    for record in finished_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.resumed, run.project = record.run.run_id, record.run.resume, record.run.project
            run.group, run.job_type, run.notes = record.run.run_group, record.run.job_type, record.run.notes
            run.tags = list(record.run.tags)
            run.config.update({item.key: json.loads(item.value_json) for item in record.run.config.update})
        elif kind == "config":
            run.config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            run.history.append({_key(item): json.loads(item.value_json) for item in record.history.item})
        elif kind == "summary":
            run.summary.update({_key(item): json.loads(item.value_json) for item in record.summary.update})
        elif kind == "files":
            run.files += [item.path for item in record.files.files]
        elif kind == "artifact":
            run.artifacts.append({"name": record.artifact.name, "type": record.artifact.type,
                                  "aliases": list(record.artifact.aliases),
                                  "metadata": json.loads(record.artifact.metadata or "{}"),
                                  "files": [entry.path for entry in record.artifact.manifest.contents]})
    return run


def offline_runs(run_dir: Path) -> list[OfflineRun]:
    """Every offline W&B run of an IllusionCraft run directory, oldest first."""
    return [read_run(directory) for directory in sorted((run_dir / "wandb").glob("offline-run-*"))]
