"""The package's layering, read from docs/architecture.md: every import in src/ is one the table allows, no
module imports itself back through others, and no module grows past the size a reader takes in at once."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "illusioncraft"
MAX_LINES = 400


def documented_layers() -> dict[str, set[str]]:
    """component -> the components it may import, from the table in docs/architecture.md ('any' for all)."""
    rows = re.findall(r"^\| `(\w+)` \| .*? \| (.*?) \|$", (ROOT / "docs" / "architecture.md").read_text(), re.MULTILINE)
    layers = {name: {"*"} if allowed.strip() == "any" else set(re.findall(r"`(\w+)`", allowed)) for name, allowed in rows}
    return {**layers, "": {"registry"}}  # the package root declares the built-in locations to the registry


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (top level, functions, TYPE_CHECKING)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate.startswith("illusioncraft.") and candidate != name:  # the root package is everyone's
                targets.add(candidate)
    return targets


def component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_the_table_names_every_component_of_the_package():
    layers = documented_layers()
    components = {component(name) for name in modules()} - {""}
    assert components <= layers.keys(), f"components missing from docs/architecture.md: {sorted(components - layers.keys())}"
    assert layers["registry"] == {"errors"} and layers["cli"] == {"*"}  # the table was read


def test_every_import_is_one_the_layers_allow(graph):
    layers = documented_layers()
    wrong = []
    for module, targets in graph.items():
        source = component(module)
        for target in targets:
            destination = component(target)
            allowed = layers.get(source, set())
            if destination in ("", source) or "*" in allowed or destination in allowed:
                continue
            wrong.append(f"{module} imports {target} ({source} may import: {', '.join(sorted(allowed)) or 'nothing'})")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_back(graph):
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                loop = path[path.index(target):] + [module, target] if target in path else [module, target]
                cycles.append(" -> ".join(loop))
            elif target not in state:
                visit(target, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not cycles, "\n".join(cycles)


def test_no_source_file_is_longer_than_a_reader_takes_in(graph):
    lengths = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    long = {name: lines for name, lines in lengths.items() if lines > MAX_LINES}
    assert not long, long


def test_the_checker_catches_a_forbidden_import_and_a_cycle(tmp_path):
    (tmp_path / "illusioncraft" / "nn").mkdir(parents=True)
    (tmp_path / "illusioncraft" / "__init__.py").write_text("")
    (tmp_path / "illusioncraft" / "nn" / "__init__.py").write_text("from illusioncraft.models import x\n")
    (tmp_path / "illusioncraft" / "models.py").write_text("def f():\n    from illusioncraft import nn\n")
    known = {"illusioncraft": tmp_path / "illusioncraft" / "__init__.py",
             "illusioncraft.nn": tmp_path / "illusioncraft" / "nn" / "__init__.py",
             "illusioncraft.models": tmp_path / "illusioncraft" / "models.py"}
    found = {name: imports(name, path, known) for name, path in known.items()}
    assert found["illusioncraft.nn"] == {"illusioncraft.models"}  # nn may not import models
    assert found["illusioncraft.models"] == {"illusioncraft.nn"}  # an import inside a function counts: a cycle
    assert "models" not in documented_layers()["nn"]
