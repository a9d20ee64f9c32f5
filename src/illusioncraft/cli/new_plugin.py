"""``illusioncraft new-plugin``: write a plugin package that installs, registers one example entry, passes the
conformance checks and is ready to publish (setup.cfg with the entry point, README, tests, tox.ini)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from illusioncraft import PLUGIN_API_VERSION, __version__, registry
from illusioncraft.cli.plugin_templates import EXAMPLES
from illusioncraft.errors import ConfigError

KINDS = tuple(EXAMPLES)

SETUP_CFG = """[metadata]
name = {name}
version = 0.1.0
description = An IllusionCraft plugin: the {kind} '{entry}'
long_description = file: README.md
long_description_content_type = text/markdown
license = MIT
classifiers =
    Programming Language :: Python :: 3
    Framework :: Pytorch Lightning

[options]
package_dir =
    = src
packages = find:
python_requires = >=3.10
install_requires =
    illusioncraft>={version}

[options.packages.find]
where = src

[options.extras_require]
test =
    pytest>=8

[options.entry_points]
illusioncraft.plugins =
    {package} = {package}
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=64", "wheel"]
build-backend = "setuptools.build_meta"
"""

TOX_INI = """[tox]
envlist = py
requires = tox>=4

[testenv]
description = the conformance tests against the installed IllusionCraft
deps = pytest>=8
# CPU-only machines: set PIP_CONSTRAINT to a file pinning a CPU torch wheel, or pip may fetch a CUDA build.
passenv = PIP_CONSTRAINT
commands = python -m pytest {{posargs:-q}}
"""

INIT = '''"""An IllusionCraft plugin: importing this package registers its entries (the entry point names it)."""

from illusioncraft.plugin_api import require_api

require_api("{api}")  # first: on an IllusionCraft without this plugin API the plugin is skipped with one warning

from {package}.{module} import {cls}  # noqa: E402 - registers '{entry}'

__all__ = ["{cls}"]
'''

TEST = '''"""This plugin's entries against IllusionCraft's conformance checks (the `conformance` fixture comes with it)."""


def test_{entry}_conforms(conformance):
    {call}
'''

README = """# {name}

An IllusionCraft plugin (plugin API {api}). It adds the {kind} `{entry}`
(`src/{package}/{module}.py`) to IllusionCraft's registry through the entry point `illusioncraft.plugins`.

## Use

```bash
pip install -e .                               # beside illusioncraft
illusioncraft list {kind}                        # {entry}  {kind}  {name}  ...
illusioncraft fit --config experiment.yaml --trainer.max_epochs 5
```

## Test

```bash
python -m pytest -q        # IllusionCraft's conformance checks: registration, arguments, a fit, checkpoints, ...
python -m tox              # the same in a fresh environment
```

## Publish

```bash
python -m pip install build twine
python -m build            # dist/{package}-0.1.0.tar.gz and the wheel
python -m twine upload dist/*
```

Users then `pip install {name}` and use `{entry}` by name; if their IllusionCraft lacks plugin API {api}, the plugin
is skipped with one warning naming it.
"""

GITIGNORE = "__pycache__/\n*.egg-info/\nbuild/\ndist/\n.tox/\nruns/\nwandb/\n"


def names_for(name: str, entry: Optional[str]) -> tuple[str, str, str]:
    """(package, entry, class name) for a distribution name such as ``illusioncraft-my-models``."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", name):
        raise ConfigError(f"new-plugin: '{name}' is not a distribution name (letters, digits, '.', '_', '-')")
    package = re.sub(r"[-.]+", "_", name).lower()
    entry = entry or re.sub(r"^illusioncraft_", "", package)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", entry):
        raise ConfigError(f"new-plugin: entry name '{entry}' must be lower-case letters, digits and '_'")
    return package, entry, "".join(part.capitalize() for part in entry.split("_"))


def write_plugin(name: str, kind: str, out: Path, entry: Optional[str] = None) -> Path:
    """Write the package for ``name`` with one example entry of ``kind`` into ``out`` (which must not exist)."""
    if kind not in EXAMPLES:
        raise ConfigError(f"new-plugin: --kind must be one of {', '.join(KINDS)}, got '{kind}'")
    package, entry, cls = names_for(name, entry)
    if entry in registry.names(kind):
        raise ConfigError(f"new-plugin: {kind} '{entry}' is already registered ({registry.entry(kind, entry).origin}); "
                          "choose another with --entry")
    if out.exists():
        raise ConfigError(f"new-plugin: {out} already exists")
    module, source, call, experiment = EXAMPLES[kind]
    values = {"name": name, "kind": kind, "entry": entry, "cls": cls, "package": package, "module": module,
              "api": PLUGIN_API_VERSION, "version": __version__}
    templates = {
        "setup.cfg": SETUP_CFG, "pyproject.toml": PYPROJECT, "tox.ini": TOX_INI, "README.md": README,
        ".gitignore": GITIGNORE, "experiment.yaml": experiment, f"src/{package}/__init__.py": INIT,
        f"src/{package}/{module}.py": source,
    }
    files = {relative: template.format(**values) for relative, template in templates.items()}
    files[f"tests/test_{package}.py"] = TEST.format(**values, call=call.format(**values))
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return out
