"""One registry for every kind of pluggable part, filled by built-ins and by third-party entry points.

Entries register themselves with ``@register("name")`` when their module is imported. The registry imports
nothing above itself: the package root declares where the built-ins live (``add_locations``: one package per
kind, each of which imports its own modules), and the registry imports those packages on the first lookup.
Third-party packages add entries through the entry-point group ``illusioncraft.plugins``: each entry point
names a module to import (whose ``@register`` lines run on import) or a callable that receives this module.
Discovery is lazy and happens once.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any, TypeVar

from illusioncraft.errors import NameClashError, PluginAPIVersionError, RegistryError

KINDS = (
    "model",
    "datamodule",
    "network",
    "augmentation",
    "loss",
    "metric",
    "feature_extractor",
    "text",
    "optimizer",
    "activation",
    "callback",
    "logger",
    "regularizer",
)
ENTRY_POINT_GROUP = "illusioncraft.plugins"
BUILT_IN = "built-in"

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """A registered object with the name and kind it is known by and where it came from."""

    name: str
    kind: str
    obj: Any
    origin: str

    @property
    def import_path(self) -> str:
        return f"{self.obj.__module__}.{self.obj.__qualname__}"

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.obj) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


_entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
_by_object: dict[Any, Entry] = {}  # object -> its entry, so a name is read from an object without a scan
_by_import_path: dict[str, Entry] = {}
_locations: list[str] = []  # packages whose import registers the built-in entries (declared by the package root)
_state: dict[str, Any] = {"built_ins": False, "plugins": False}
_loading_distribution: list[str] = []  # the plugin distribution being loaded, if any
_failed_plugins: dict[str, str] = {}  # distribution -> why it failed; entries it registered before failing stay, marked


def add_locations(packages: Iterable[str]) -> None:
    """Declare packages whose import registers built-in entries; they are imported on the first lookup."""
    for package in packages:
        if package not in _locations:
            _locations.append(package)
    _state["built_ins"] = False


def kind_of(obj: Any) -> str | None:
    """The kind implied by a class's base, for classes whose base says it unambiguously (else None)."""
    if not inspect.isclass(obj):
        return None
    import torch
    from lightning.pytorch import Callback, LightningDataModule, LightningModule
    from lightning.pytorch.loggers import Logger

    for base, kind in (
        (LightningModule, "model"),
        (LightningDataModule, "datamodule"),
        (torch.optim.Optimizer, "optimizer"),
        (Callback, "callback"),
        (Logger, "logger"),
    ):
        if issubclass(obj, base):
            return kind
    return None


@lru_cache(maxsize=1)
def _distributions_by_package() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _origin_of(obj: Any) -> str:
    module = getattr(obj, "__module__", "") or ""
    top = module.split(".")[0]
    if top == "illusioncraft":
        return BUILT_IN
    if _loading_distribution:
        return _loading_distribution[-1]
    dists = _distributions_by_package().get(top)
    return dists[0] if dists else module


def register(name: str, kind: str | None = None) -> Callable[[T], T]:
    """Decorator that registers a class or factory under ``name`` (kind taken from the base class or given)."""
    if not isinstance(name, str) or not name or name != name.lower() or " " in name:
        raise RegistryError(f"registry names are short lower-case strings without spaces; got {name!r}")

    def decorate(obj: T) -> T:
        entry_kind = kind or kind_of(obj)
        if entry_kind is None:
            raise RegistryError(f"cannot tell the kind of {name!r} from its base class; pass kind= (one of {', '.join(KINDS)})")
        if entry_kind not in KINDS:
            raise RegistryError(f"unknown kind {entry_kind!r} for {name!r}; kinds are: {', '.join(KINDS)}")
        entry = Entry(name=name, kind=entry_kind, obj=obj, origin=_origin_of(obj))
        previous = _entries[entry_kind].get(name)
        if previous is not None and previous.import_path != entry.import_path:
            raise NameClashError(
                f"{entry_kind} '{name}' is registered twice: by {previous.origin} ({previous.import_path}) "
                f"and by {entry.origin} ({entry.import_path})"
            )
        _entries[entry_kind][name] = entry
        _by_object[obj] = entry
        _by_import_path[entry.import_path] = entry
        return obj

    return decorate


def load_built_ins() -> None:
    """Import the declared built-in packages (once)."""
    if _state["built_ins"]:
        return
    _state["built_ins"] = True
    for package in _locations:
        importlib.import_module(package)


def _plugin_failed(dist: str, entry_point: Any, error: BaseException) -> None:
    _failed_plugins[dist] = f"{type(error).__name__}: {error}"
    warnings.warn(
        f"illusioncraft plugin '{dist}' ({entry_point.value}) failed to load: {type(error).__name__}: {error}",
        stacklevel=3,
    )


def _unregister_distribution(dist: str) -> None:
    """Remove every entry a distribution registered (a plugin that is not loaded leaves nothing behind)."""
    for kind_entries in _entries.values():
        for name, item in list(kind_entries.items()):
            if item.origin == dist:
                del kind_entries[name]
                _by_import_path.pop(item.import_path, None)
                if _hashable(item.obj):
                    _by_object.pop(item.obj, None)


def failed_plugins() -> dict[str, str]:
    """Plugin distributions that failed while loading, with the error; their earlier entries are still listed."""
    load_plugins()
    return dict(_failed_plugins)


def load_plugins() -> None:
    """Load every entry point of the group ``illusioncraft.plugins`` (once).

    A plugin that fails to import (any exception, ``sys.exit`` included) is reported as a warning naming its
    distribution, and the entries it registered before failing are marked (``failed_plugins``); the others still
    load. A plugin that requires a newer plugin API (``plugin_api.require_api``) is one warning and is not loaded.
    A name clash is not swallowed: it is an error naming both origins.
    """
    if _state["plugins"]:
        return
    _state["plugins"] = True
    load_built_ins()
    import illusioncraft.registry as this_module

    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist.name if entry_point.dist is not None else entry_point.value
        _loading_distribution.append(dist)
        try:
            loaded = entry_point.load()
            if callable(loaded) and not inspect.ismodule(loaded):
                loaded(this_module)
        except (NameClashError, KeyboardInterrupt):
            raise
        except PluginAPIVersionError as error:
            _unregister_distribution(dist)
            warnings.warn(f"illusioncraft plugin '{dist}' is not loaded: {error}", stacklevel=2)
        except BaseException as error:  # a broken third-party package (even one calling sys.exit) must not take the rest down
            _plugin_failed(dist, entry_point, error)
        finally:
            _loading_distribution.pop()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; kinds are: {', '.join(KINDS)}"
        raise RegistryError(f"unknown kind '{kind}'{hint}")


def unknown_name_message(kind: str, name: str) -> str:
    """One line for an unknown name: the kind, the name, and the closest known names."""
    known = sorted(_entries[kind])
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if close:
        return f"unknown {kind} '{name}'; did you mean {' or '.join(repr(c) for c in close)}?"
    return f"unknown {kind} '{name}'; known {kind} names: {', '.join(known) or '(none)'}"


def entry(kind: str, name: str) -> Entry:
    """The full entry (object, origin) registered as ``name`` of ``kind``."""
    _check_kind(kind)
    load_plugins()
    try:
        return _entries[kind][name]
    except KeyError:
        raise RegistryError(unknown_name_message(kind, name)) from None


def get(kind: str, name: str) -> Any:
    """The object registered as ``name`` of ``kind``."""
    return entry(kind, name).obj


def names(kind: str) -> list[str]:
    """Sorted names registered for ``kind``."""
    _check_kind(kind)
    load_plugins()
    return sorted(_entries[kind])


def entries(kind: str | None = None) -> list[Entry]:
    """Every entry, or those of one kind, sorted by kind then name."""
    if kind is not None:
        _check_kind(kind)
    load_plugins()
    kinds = [kind] if kind else list(KINDS)
    return [_entries[k][n] for k in kinds for n in sorted(_entries[k])]


def find_by_object(obj: Any) -> Entry | None:
    """The entry whose object is ``obj`` (or whose import path equals obj's), if any."""
    load_plugins()
    found = _by_object.get(obj) if _hashable(obj) else None
    if found is None:
        found = _by_import_path.get(f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}")
    return found


def name_of(obj: Any, default: str | None = None) -> str:
    """The registry name of a registered class or factory (or of an instance's class); ``default`` otherwise
    (the class name when no default is given)."""
    target = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    found = find_by_object(target)
    if found is not None:
        return found.name
    return default if default is not None else getattr(target, "__name__", str(target))


def _hashable(obj: Any) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True


def resolve_class_path(kind: str, class_path: str) -> Any:
    """The object a config's ``class_path`` names: a registry name of ``kind`` or a full import path."""
    if "." not in class_path:
        return get(kind, class_path)
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise RegistryError(f"{kind} class path '{class_path}' cannot be imported; is its package installed?") from None


def check_arguments(kind: str, name: str, arguments: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """Raise one line if ``arguments`` are not accepted by the entry (names only; values are the entry's job)."""
    obj = get(kind, name)
    parameters = _parameters_of(obj)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [p for p in parameters if p not in skip]
    for key in arguments:
        if key not in parameters or key in skip:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"accepted: {', '.join(accepted) or '(none)'}"
            raise RegistryError(f"{kind} '{name}' has no argument '{key}'; {hint}")


def _parameters_of(obj: Any) -> Any:
    """The parameters an entry is called with; none for a module class that keeps torch's ``(*args, **kwargs)``."""
    if inspect.isclass(obj):
        import torch

        if obj.__init__ is torch.nn.Module.__init__:
            return {}
    return inspect.signature(obj).parameters


def build(kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Instantiate (or call) the entry ``name`` of ``kind`` with the given arguments, checked by name first."""
    check_arguments(kind, name, kwargs)
    return get(kind, name)(*args, **kwargs)
