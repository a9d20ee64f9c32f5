"""The files given with ``--config``, checked before jsonargparse reads them: one line naming the file when it is
not UTF-8 text, not YAML, or not a mapping of sections (jsonargparse says only ``Unexpected config:`` or fails
with a UnicodeDecodeError traceback)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from illusioncraft.errors import ConfigError

MAPPING = "a config is a mapping of sections (model:, data:, trainer:, ...)"


def config_arguments(args: Sequence[str]) -> list[str]:
    """The value of every ``--config``/``-c`` in a command line (``--config X`` or ``--config=X``)."""
    values = []
    for index, arg in enumerate(args):
        if arg in ("--config", "-c") and index + 1 < len(args):
            values.append(args[index + 1])
        elif arg.startswith("--config="):
            values.append(arg.partition("=")[2])
    return values


def check_config_file(path: Path) -> None:
    """Raise one ConfigError line naming ``path`` unless it is a YAML mapping."""
    what = f"--config '{path}'"
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} is not UTF-8 text (byte {error.start}); give a YAML file") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{what} is not valid YAML ({where}{getattr(error, 'problem', None) or error})") from None
    if document is None:
        raise ConfigError(f"{what} is empty; {MAPPING}")
    if not isinstance(document, dict):
        raise ConfigError(f"{what} holds a {type(document).__name__}; {MAPPING}")


def check_config_files(args: Sequence[str]) -> None:
    """Check every ``--config`` value that names a file (jsonargparse also takes YAML text there, and reports a
    missing file itself)."""
    for value in config_arguments(args):
        path = Path(value)
        try:
            is_file = path.is_file()
        except (OSError, ValueError):  # YAML text too long, or with characters no file name has
            continue
        if is_file:
            check_config_file(path)
