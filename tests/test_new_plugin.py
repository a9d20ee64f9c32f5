"""``illusioncraft new-plugin``: packages for each kind that pass ruff, refuse taken names, and, installed in a fresh
virtual environment, register their entry and pass their own conformance tests."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv

import pytest
from conftest import ROOT, cli_error

from illusioncraft.cli import main
from illusioncraft.cli.new_plugin import KINDS

FILES = ["setup.cfg", "pyproject.toml", "tox.ini", "README.md", ".gitignore", "experiment.yaml"]


def write(tmp_path, kind):
    out = tmp_path / f"plugin-{kind}"
    main(["new-plugin", f"illusioncraft-demo-{kind}", "--kind", kind, "--out", str(out)])
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_plugin_has_its_package_test_and_entry_point_and_passes_ruff(tmp_path, kind):
    out = write(tmp_path, kind)
    package = f"illusioncraft_demo_{kind}"
    for name in [*FILES, f"src/{package}/__init__.py", f"tests/test_{package}.py"]:
        assert (out / name).is_file(), name
    assert f"illusioncraft.plugins =\n    {package} = {package}" in (out / "setup.cfg").read_text()
    assert f"conformance.check_{kind}(\"demo_{kind}\"" in (out / "tests" / f"test_{package}.py").read_text()
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(ROOT / "ruff.toml"), str(out)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_a_taken_entry_name_or_an_existing_directory_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "new-plugin", "my-models", "--entry", "cnn", "--out", str(tmp_path / "a"))
    assert "new-plugin: model 'cnn' is already registered (built-in); choose another with --entry" in line
    (tmp_path / "b").mkdir()
    line = cli_error(capsys, "new-plugin", "x-models", "--out", str(tmp_path / "b"))
    assert f"new-plugin: {tmp_path / 'b'} already exists" in line


def fresh_environment(path):
    """A new virtual environment that sees this one's packages (IllusionCraft, torch, pytest) through a .pth file,
    so installing a plugin into it takes seconds instead of a full dependency install."""
    venv.create(path, with_pip=False)
    python = path / "bin" / "python"
    target = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True,
                            text=True, check=True).stdout.strip()
    (path / target / "_parent_environment.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    return python


@pytest.mark.slow
def test_new_plugins_install_in_a_fresh_environment_and_pass_their_tests(tmp_path):
    outs = [write(tmp_path, kind) for kind in KINDS]
    python = fresh_environment(tmp_path / "venv")
    environment = {**os.environ, "PIP_NO_INDEX": "1", "WANDB_MODE": "disabled"}
    for out in outs:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(out)],
                       check=True, env=environment, capture_output=True)
    listed = subprocess.run([str(python), "-m", "illusioncraft.cli", "list"], capture_output=True, text=True, env=environment)
    for kind in KINDS:
        (row,) = [line for line in listed.stdout.splitlines() if f"demo_{kind} " in line]
        assert f"illusioncraft-demo-{kind}" in row
    tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *[str(out / "tests") for out in outs]],
                           capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert f"{len(KINDS)} passed" in tests.stdout
