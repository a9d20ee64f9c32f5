"""The stated plugin API: what ``illusioncraft.plugin_api`` exports (as documented), the version a plugin can
require, plugins that fail or need a newer API, and how ``illusioncraft list`` and ``--help`` show them."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from illusioncraft import plugin_api, registry
from illusioncraft.cli import main
from illusioncraft.errors import PluginAPIVersionError

ROOT = Path(__file__).resolve().parents[1]


def documented_exports() -> set[str]:
    """The names in the section of docs/plugins.md that states what plugin_api exports."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    section = text.split("## What `illusioncraft.plugin_api` exports", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`(\w+)`", section))


def test_the_plugin_api_exports_exactly_what_its_documentation_lists():
    assert set(plugin_api.__all__) == documented_exports()
    assert all(hasattr(plugin_api, name) for name in plugin_api.__all__)


@pytest.mark.parametrize("needed", ["1.0", f"{plugin_api.API_VERSION}"])
def test_a_plugin_requiring_the_installed_api_loads(needed):
    assert plugin_api.require_api(needed) is None


@pytest.mark.parametrize(("needed", "hint"), [("1.9", "upgrade illusioncraft"), ("2.0", "upgrade illusioncraft"),
                                              ("0.9", "the plugin was written for an older IllusionCraft")])
def test_a_plugin_requiring_another_api_is_refused_naming_both_versions(needed, hint):
    with pytest.raises(PluginAPIVersionError, match=rf"requires IllusionCraft plugin API {needed}, .* provides "
                                                    rf"{plugin_api.API_VERSION} \({hint}\)"):
        plugin_api.require_api(needed)


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """A directory on sys.path where a test installs fake plugin distributions, and a registry that forgets them."""
    registry.load_plugins()  # the installed plugins stay registered; only what a test installs is loaded again
    monkeypatch.setattr(registry, "_entries", {kind: dict(names) for kind, names in registry._entries.items()})
    monkeypatch.setattr(registry, "_by_object", dict(registry._by_object))
    monkeypatch.setattr(registry, "_by_import_path", dict(registry._by_import_path))
    monkeypatch.setattr(registry, "_failed_plugins", {})
    monkeypatch.setattr(registry, "_state", {"built_ins": True, "plugins": False})
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)

    def install(dist: str, module: str, source: str) -> None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[illusioncraft.plugins]\nentry = {module}\n")

    yield install
    for name in set(sys.modules) - before:
        if name.startswith(("future_plugin", "halfway_plugin")):
            del sys.modules[name]


def test_a_plugin_needing_a_newer_api_is_one_warning_and_is_not_loaded(plugin_site):
    plugin_site("future-plugin", "future_plugin", """
        from torch import nn
        from illusioncraft.plugin_api import register, require_api

        @register("early_bird", kind="activation")  # registered before the check: removed again
        class EarlyBird(nn.Module):
            '''Registered before require_api.'''

        require_api("1.99")
    """)
    with pytest.warns(UserWarning, match=r"plugin 'future-plugin' is not loaded: it requires IllusionCraft plugin API "
                                         r"1.99") as caught:
        names = registry.names("activation")
    assert len([w for w in caught if "future-plugin" in str(w.message)]) == 1
    assert "early_bird" not in names and "relu" in names


def test_list_marks_the_entries_of_a_plugin_that_failed_halfway(plugin_site, capsys):
    plugin_site("halfway-plugin", "halfway_plugin", """
        from torch import nn
        from illusioncraft.plugin_api import register

        @register("half_done", kind="activation")
        class HalfDone(nn.Module):
            '''Registered before the import error.'''

        import no_such_module_anywhere
    """)
    with pytest.warns(UserWarning, match="plugin 'halfway-plugin'"):
        main(["list", "activation"])
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if "half_done" in line]
    assert "halfway-plugin (failed to load)" in row
    assert "plugin 'halfway-plugin' failed to load (ModuleNotFoundError" in out.replace("\n", " ")


def test_list_shows_descriptions_as_written(capsys):
    main(["list", "loss"])
    assert "E[f(x)] - E[f(G(z))]" in capsys.readouterr().out  # rich markup would swallow the brackets


def test_help_lists_every_subcommand(capsys):
    from illusioncraft.cli.commands import COMMANDS

    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for name in ["fit", "validate", "test", "predict", *COMMANDS]:
        assert re.search(rf"^\s+{re.escape(name)}\s", out, re.MULTILINE), name
