"""Registry names as ``class_path`` values: ``model: {class_path: cnn}`` or ``--model cnn`` on the command line.

jsonargparse resolves a short ``class_path`` by looking for a subclass of that name among the imported classes;
this hooks its resolver so that a lower-case registry name of the base class's kind (model, datamodule,
callback, logger) resolves to the registered class, and an unknown one is one line with the closest names.
The resolver is jsonargparse's private ``_typehints.resolve_class_path_by_name`` (hence jsonargparse < 5 in
setup.cfg); ``tests/test_cli.py`` covers it.
"""

from __future__ import annotations

from typing import Any

from illusioncraft import registry
from illusioncraft.errors import RegistryError


def install_registry_class_names() -> None:
    """Let jsonargparse resolve ``class_path: <registry name>`` for models, datamodules, callbacks and loggers."""
    from jsonargparse import _typehints

    original = _typehints.resolve_class_path_by_name
    if getattr(original, "_illusioncraft", False):
        return

    def resolve(cls: Any, name: str) -> str:
        if "." not in name and name == name.lower():
            for base in cls if isinstance(cls, tuple) else (cls,):
                kind = registry.kind_of(base)
                if kind is None:
                    continue
                if name in registry.names(kind):
                    return registry.entry(kind, name).import_path
                if "." not in original(base, name):
                    raise RegistryError(registry.unknown_name_message(kind, name))
        return original(cls, name)

    resolve._illusioncraft = True  # type: ignore[attr-defined]
    _typehints.resolve_class_path_by_name = resolve
