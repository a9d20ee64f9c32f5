"""pytest plugin (entry point ``pytest11``): the ``conformance`` fixture, so a plugin's test file is a few lines::

    def test_my_model_conforms(conformance):
        conformance.check_model("my_model", arguments={"width": 8}, bad_arguments=[{"width": 0}])

Each check runs in the test's temporary directory, W&B disabled and feature extractors cached per session. Nothing
heavy is imported until a test asks for the fixture.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest


class Conformance:
    """The conformance checks (``illusioncraft.testing``) bound to one working directory."""

    def __init__(self, work_dir: Path) -> None:
        from illusioncraft.testing import CHECKS

        self.work_dir = work_dir
        for kind, check in CHECKS.items():
            setattr(self, f"check_{kind}", functools.partial(check, work_dir=work_dir / kind))

    def check(self, kind: str, name: str, **options: Any) -> Any:
        """The check of ``kind`` for the entry ``name``."""
        return getattr(self, f"check_{kind}")(name, **options)


@pytest.fixture(scope="session")
def illusioncraft_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache directory per session for what checks train once (the digits feature extractor)."""
    return tmp_path_factory.mktemp("illusioncraft-cache")


@pytest.fixture
def conformance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, illusioncraft_cache: Path) -> Conformance:
    """The conformance checks, running in this test's temporary directory without W&B."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("ILLUSIONCRAFT_CACHE", str(illusioncraft_cache))
    monkeypatch.chdir(tmp_path)
    return Conformance(tmp_path)
