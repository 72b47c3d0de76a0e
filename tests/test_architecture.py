"""The package's shape (docs/ARCHITECTURE.md): layers import downwards only, the library never
imports streamlit, and modules and functions stay small enough to read in one sitting.

Imports are read from the source (module-level and lazy, inside functions alike), so a lazy
import that climbs a layer is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "clac_core"

# lowest first; a unit may import its own layer and the layers below it
LAYERS: list[set[str]] = [
    {"config", "logs", "properties", "record", "symmetry", "quantities"},
    {"io", "fuzz"},
    {"text", "corpus"},
    {"graph"},
    {"models", "loss"},
    {"data", "embed", "query_words", "property_search"},
    {"training", "evaluation"},
    {"index"},
    {"inference"},
    {"cli"},  # the command entry
]
# same-layer imports that would still run the wrong way
FORBIDDEN = {("text", "corpus"), ("evaluation", "training")}
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _unit(module: str) -> str:
    """``clac_core.text.facts`` -> ``text``; ``clac_core`` -> ``clac_core``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _modules() -> list[tuple[str, Path, ast.Module]]:
    out = []
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path, ast.parse(path.read_text(encoding="utf-8"))))
    return out


def _imports(tree: ast.Module) -> list[tuple[str, int]]:
    """(imported module, line) of every import in the tree, lazy ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
    return found


def _layer_of() -> dict[str, int]:
    return {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def test_every_unit_has_a_layer() -> None:
    layer = _layer_of()
    units = {_unit(name) for name, _, _ in _modules()} - {"clac_core"}
    assert units - set(layer) == set(), "add new modules to LAYERS (and docs/ARCHITECTURE.md)"


def test_imports_go_down_the_layers_only() -> None:
    layer = _layer_of()
    bad = []
    for name, path, tree in _modules():
        src = _unit(name)
        for module, line in _imports(tree):
            if not module.startswith("clac_core.") or src == "clac_core":
                continue
            dst = _unit(module)
            if dst == src:
                continue
            if layer[dst] > layer[src] or (src, dst) in FORBIDDEN:
                bad.append(f"{path.relative_to(PKG.parent)}:{line} {src} -> {dst}")
    assert bad == []


def test_library_never_imports_streamlit() -> None:
    bad = [
        f"{path.relative_to(PKG.parent)}:{line}"
        for _, path, tree in _modules()
        for module, line in _imports(tree)
        if module.split(".")[0] == "streamlit"
    ]
    assert bad == []


def test_modules_and_functions_stay_small() -> None:
    long_files, long_functions = [], []
    for _, path, tree in _modules():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(PKG.parent)} ({n} lines)")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(PKG.parent)}:{node.lineno} {node.name} ({size})")
    assert long_files == [] and long_functions == []


@pytest.mark.parametrize("src,dst", [("text", "corpus"), ("io", "models"), ("graph", "index")])
def test_the_layer_check_catches_an_upward_import(src: str, dst: str) -> None:
    """The rule itself: these imports would be reported."""
    layer = _layer_of()
    assert layer[dst] > layer[src] or (src, dst) in FORBIDDEN
