"""Checkpoint files: written atomically, read safely, and checked against the model before Lightning loads them.

Writes go to a temporary file in the checkpoint's own directory, flushed to disk, then ``os.replace``d over the
target: a crash or a kill mid-write leaves the previous ``last.ckpt`` whole, never half a file. (Lightning's own
``_atomic_save`` writes through an fsspec transaction whose temporary file lies in the system temp directory: the
final ``shutil.move`` is a copy, not a rename, when that is another file system, and nothing is fsynced.)

Reads use ``torch.load(weights_only=True)``: tensors, containers and plain values only; no code in the file runs.
Lightning 2.6 does the same when resuming (``Trainer.fit(ckpt_path=..., weights_only=None)`` reaches
``torch.load(weights_only=None)``, which torch >= 2.6 treats as ``True``); the CLI passes ``weights_only=True``
explicitly unless ``--weights_only false`` is given for a trusted file that holds other objects.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from illusioncraft import __version__
from illusioncraft.errors import ConfigError, DataError

VERSION_KEY = "illusioncraft_version"
# Where models written by IllusionCraft 0.1 live now: their checkpoints load under the new class paths.
LEGACY_CLASS_PATHS = {
    **{f"illusioncraft.models.adversarial.{name}": f"illusioncraft.models.gan.{module}.{name}" for name, module in (
        ("GAN", "gan"), ("DCGAN", "dcgan"), ("WGAN", "wgan"), ("WGANGP", "wgan"), ("UnrolledGAN", "unrolled"),
        ("ConditionalGAN", "conditional"))},
    **{f"illusioncraft.models.stackgan.{name}": f"illusioncraft.models.gan.stackgan.{name}"
       for name in ("StackGANStage1", "StackGANStage2")},
}


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves are atomic (temporary file in the same directory, then rename).

    A save the file system refuses (full disk, no permission) is one line that says the checkpoints already saved
    are unchanged; ``after_save`` runs after each save that succeeded (the CLI moves ``latest`` there).
    """

    def __init__(self, after_save: Optional[Callable[[], None]] = None) -> None:
        super().__init__()
        self.after_save = after_save

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Optional[Any] = None) -> None:
        if "://" in str(path):  # remote file systems: fsspec's own semantics
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        target = Path(path)
        temporary: Optional[str] = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # the writer's pid in the name tells a later start which temporaries no running save owns
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
            with os.fdopen(handle, "wb") as file:
                torch.save({**checkpoint, VERSION_KEY: __version__}, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException as error:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise DataError(f"cannot write checkpoint '{target}': {error.strerror or error}; the checkpoints "
                                "already saved are unchanged") from error
            raise
        if self.after_save is not None:
            self.after_save()


# ``.<target>.<pid>.<random>.tmp`` as AtomicCheckpointIO names them (no pid in files of IllusionCraft 0.2.0)
TEMPORARY = re.compile(r"^\..+\.ckpt\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]+\.tmp$")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a live process of another user
        pass
    return True


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete the temporary files of saves that never finished in ``directory`` (a process killed mid-save leaves a
    full-size ``.last.ckpt.<pid>.<random>.tmp``), keeping those of writers still running; returns what went."""
    removed = []
    for path in sorted(directory.glob(".*.tmp")):
        found = TEMPORARY.match(path.name)
        if found is None:
            continue
        pid = int(found.group("pid")) if found.group("pid") else None
        if pid is not None and pid != os.getpid() and _running(pid):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def read_checkpoint(path: Path, what: str = "--ckpt_path", weights_only: bool = True) -> dict[str, Any]:
    """A Lightning checkpoint's contents (``weights_only=False`` only for files the user trusts); one-line errors."""
    if not path.is_file():
        raise ConfigError(f"{what}: checkpoint '{path}' does not exist")
    try:
        # mmap: tensors stay on disk until used, so checking a large checkpoint costs little memory
        checkpoint = torch.load(path, map_location="cpu", weights_only=weights_only, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise ConfigError(
            f"{what}: cannot read checkpoint '{path}': corrupt, not a PyTorch checkpoint, or holding objects other "
            f"than tensors and plain values ({type(error).__name__})"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"{what}: '{path}' is not a Lightning checkpoint (it has no state_dict)")
    hparams = checkpoint.get("hyper_parameters")
    if isinstance(hparams, dict) and hparams.get("_class_path") in LEGACY_CLASS_PATHS:
        checkpoint["hyper_parameters"] = {**hparams, "_class_path": LEGACY_CLASS_PATHS[hparams["_class_path"]]}
    return checkpoint


def written_by(checkpoint: dict[str, Any]) -> str:
    """Which IllusionCraft wrote a checkpoint (versions before 0.2.0 did not record it)."""
    version = checkpoint.get(VERSION_KEY)
    return f"IllusionCraft {version}" if version else "IllusionCraft 0.1 (before 0.2.0)"


def version_note(checkpoint: Optional[dict[str, Any]]) -> str:
    """'' for a checkpoint of this version, else a note naming the version that wrote it."""
    if checkpoint is None or checkpoint.get(VERSION_KEY) == __version__:
        return ""
    return f" (written by {written_by(checkpoint)}; this is {__version__})"


def class_name(class_path: str) -> str:
    return class_path.rpartition(".")[2]


def check_checkpoint_model(checkpoint: dict[str, Any], path: Path, model_class_path: Optional[str]) -> None:
    """Refuse a checkpoint written by another model class than the configured one (one line, both names)."""
    saved = (checkpoint.get("hyper_parameters") or {}).get("_class_path")
    if not saved or not model_class_path or saved == model_class_path:
        return
    raise ConfigError(
        f"--ckpt_path: '{path}' holds a {class_name(saved)} checkpoint, but the model is {class_name(model_class_path)}; "
        "give a checkpoint of this model, or the config the checkpoint was trained with"
    )


def _plain(value: Any) -> Any:
    """A config or hyper-parameter value as plain lists and dicts, so YAML and checkpoint values compare."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def check_checkpoint_arguments(hparams: dict[str, Any], configured: Any, path: str) -> None:
    """Refuse a checkpoint trained with other model arguments than the config sets (one line naming them): the
    checkpoint's arguments would otherwise replace the config's without a word. Arguments the config leaves unset
    (None), or that training filled in (the data's shape, the vocabulary), are the checkpoint's to give."""
    if configured is None:
        return
    differing = []
    for key, saved in hparams.items():
        wanted = configured.get(key) if hasattr(configured, "get") else None
        if saved is not None and wanted is not None and _plain(saved) != _plain(wanted):
            differing.append(f"{key}={_plain(saved)!r} (config: {_plain(wanted)!r})")
    if differing:
        raise ConfigError(
            f"--ckpt_path: '{path}' was trained with other model arguments than the config sets: "
            f"{', '.join(differing[:3])}{' ...' if len(differing) > 3 else ''}; use the config it was trained with "
            "(its run's config.yaml) or leave those arguments unset"
        )


def state_dict_mismatch(error: BaseException | str) -> Optional[str]:
    """The first problem named by torch's 'Error(s) in loading state_dict' message, or None for other errors."""
    text = str(error)
    if "Error(s) in loading state_dict" not in text:
        return None
    details = [line.strip() for line in text.splitlines()[1:] if line.strip()]
    first = details[0] if details else "keys or shapes differ"
    return first if len(first) <= 200 else first[:197] + "..."


SPECIAL_PATHS = ("best", "hpc")  # Lightning's own ckpt_path values, resolved by the Trainer


def prepare_checkpoint_path(config: Any, config_files: list[Any], subcommand: str) -> Optional[dict[str, Any]]:
    """Resolve ``ckpt_path: last`` and check the file, in a subcommand's parsed config (changed in place).

    ``last`` is ``checkpoints/last.ckpt`` of ``--run.dir``, else of the newest run of this name; ``fit`` then
    continues in that run directory. Any checkpoint must be readable with ``weights_only=True`` and hold the
    configured model's class: otherwise one line, before Lightning tries to load it. Returns the checkpoint read.
    """
    from illusioncraft import registry
    from illusioncraft.run_dir import find_last_checkpoint, run_name

    value = config.get("ckpt_path")
    if not value or value in SPECIAL_PATHS or str(value).startswith("registry"):
        return None
    model = config.get("model")
    class_path = model.get("class_path") if model is not None and hasattr(model, "get") else None
    if value == "last":
        model_class = registry.resolve_class_path("model", class_path) if class_path else None
        path = find_last_checkpoint(config.run, run_name(config.run, config_files, model_class))
        if subcommand == "fit" and not config.run.dir:
            config.run.dir = str(path.parent.parent)  # resume in place: one run directory, one metrics.csv
        config.ckpt_path = value = str(path)
    checkpoint = read_checkpoint(Path(value), weights_only=config.get("weights_only") is not False)
    check_checkpoint_model(checkpoint, Path(value), class_path)
    return checkpoint


def logged_steps(checkpoint: dict[str, Any]) -> int:
    """The logger step a checkpoint was saved at (Lightning's ``_batches_that_stepped``; 0 when unknown)."""
    loop = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_loop.state_dict", {})
    return int(loop.get("_batches_that_stepped", 0))


def trusted_only(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Trainer method arguments with ``weights_only=True`` unless the user chose (``--weights_only false``)."""
    if kwargs.get("weights_only") is None:
        kwargs = {**kwargs, "weights_only": True}
    return kwargs


@contextmanager
def checkpoint_errors_as_config_errors(ckpt_path: Optional[str], checkpoint: Optional[dict[str, Any]] = None) -> Iterator[None]:
    """Turn Lightning's multi-line errors for a checkpoint that does not fit the model into one ConfigError line
    (naming the IllusionCraft version that wrote ``checkpoint`` when it is another)."""
    try:
        yield
    except (RuntimeError, ValueError, KeyError) as error:
        if not ckpt_path:
            raise
        detail = state_dict_mismatch(error)
        if detail is None and "parameter group" in str(error):
            detail = "its optimizer state has other parameter groups than the model's optimizers"
        if detail is None and "save_weights_only" in str(error):
            detail = "it holds only weights (ModelCheckpoint save_weights_only), not the training state to resume"
        if detail is None:
            raise
        raise ConfigError(f"--ckpt_path: '{ckpt_path}'{version_note(checkpoint)} does not fit the model: {detail}") from None
