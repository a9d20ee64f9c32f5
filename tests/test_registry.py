"""The registry: registration, lookup, errors with close matches, clashes and entry-point plugins."""

from __future__ import annotations

import pytest
from conftest import fake_plugin_distribution
from torch import nn

from illusioncraft import registry
from illusioncraft.errors import RegistryError


def test_every_kind_has_a_built_in_or_is_documented_empty():
    for kind in ("model", "datamodule", "loss", "optimizer", "activation", "callback", "logger"):
        assert registry.names(kind), kind


def test_get_build_and_names_of_an_activation():
    assert "relu" in registry.names("activation")
    module = registry.build("activation", "leaky_relu", negative_slope=0.2)
    assert isinstance(module, nn.Module) and module.negative_slope == 0.2


def test_unknown_name_names_the_kind_and_the_closest_names():
    with pytest.raises(RegistryError, match=r"unknown activation 'rellu'; did you mean 'relu'"):
        registry.get("activation", "rellu")


def test_unknown_name_without_close_match_lists_known_names():
    with pytest.raises(RegistryError, match=r"unknown optimizer 'zzz'; known optimizer names: adam, adamw"):
        registry.get("optimizer", "zzz")


def test_unknown_kind_suggests_a_kind():
    with pytest.raises(RegistryError, match="did you mean 'model'"):
        registry.names("modle")


def test_build_rejects_an_argument_the_entry_does_not_take():
    with pytest.raises(RegistryError, match="activation 'leaky_relu' has no argument 'slope'"):
        registry.build("activation", "leaky_relu", slope=0.2)


def test_kind_is_taken_from_the_base_class(isolated_registry):
    from lightning.pytorch import Callback

    @isolated_registry.register("my_callback")
    class MyCallback(Callback):
        """A callback."""

    assert isolated_registry.entry("callback", "my_callback").obj is MyCallback


def test_kind_must_be_given_when_the_base_class_does_not_say(isolated_registry):
    with pytest.raises(RegistryError, match="pass kind="):
        isolated_registry.register("thing")(object)


def test_names_must_be_lower_case():
    with pytest.raises(RegistryError, match="lower-case"):
        registry.register("MyModel", kind="model")


def test_a_name_registered_twice_names_both_origins(isolated_registry):
    isolated_registry.load_plugins()

    class OtherReLU(nn.Module):
        """Clashes with the built-in."""

    with pytest.raises(RegistryError, match=r"activation 'relu' is registered twice: by built-in .* and by "):
        isolated_registry.register("relu", kind="activation")(OtherReLU)


def test_example_plugin_is_discovered_through_its_entry_point(isolated_registry):
    item = isolated_registry.entry("model", "residual_cnn")
    assert item.origin == "illusioncraft-example-plugin"
    assert isolated_registry.entry("activation", "swish").origin == "illusioncraft-example-plugin"
    assert isolated_registry.entry("loss", "focal").origin == "illusioncraft-example-plugin"
    assert isolated_registry.entry("model", "cnn").origin == registry.BUILT_IN


def test_a_broken_plugin_is_a_warning_naming_its_distribution(isolated_registry, tmp_path, monkeypatch):
    fake_plugin_distribution(tmp_path, "broken-plugin", "broken_plugin_module", "raise ImportError('no such thing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match=r"plugin 'broken-plugin' .* failed to load: ImportError: no such thing"):
        names = isolated_registry.names("model")
    assert "cnn" in names and "residual_cnn" in names  # the rest keeps working


def test_a_plugin_callable_receives_the_registry(isolated_registry, tmp_path, monkeypatch):
    source = """
        from torch import nn

        class Mish(nn.Module):
            '''Mish activation.'''
            def forward(self, x):
                return x * nn.functional.softplus(x).tanh()

        def setup(registry):
            registry.register("mish", kind="activation")(Mish)
    """
    fake_plugin_distribution(tmp_path, "mish-plugin", "mish_plugin_module", source)
    (tmp_path / "mish_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[illusioncraft.plugins]\nentry = mish_plugin_module:setup\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    item = isolated_registry.entry("activation", "mish")
    assert item.origin == "mish-plugin"
    assert item.summary == "Mish activation."


def test_a_plugin_clashing_with_a_built_in_is_an_error(isolated_registry, tmp_path, monkeypatch):
    source = """
        from torch import nn
        from illusioncraft.registry import register

        @register("relu", kind="activation")
        class FakeReLU(nn.Module):
            '''Not the real one.'''
    """
    fake_plugin_distribution(tmp_path, "clash-plugin", "clash_plugin_module", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RegistryError, match=r"registered twice: by built-in .* and by clash-plugin"):
        isolated_registry.names("activation")
