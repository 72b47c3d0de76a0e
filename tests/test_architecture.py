"""The package's shape (docs/ARCHITECTURE.md): layers import downwards only, no import cycle,
package faces re-export public names only, the library never imports streamlit, the app's
pages reach the library through ``clac_core.inference`` and the base layer, and modules and
functions stay small enough to read in one sitting.

Imports are read from the source (module-level and lazy, inside functions alike), so a lazy
import that climbs a layer or closes a cycle is caught too. The checkers take a package root,
so the tests below also run them on small planted trees with a known fault.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "clac_core"

# lowest first; a unit may import its own layer and the layers below it
LAYERS: list[set[str]] = [
    {"config", "logs", "properties", "record", "symmetry", "vocab", "query"},
    {"io", "fuzz"},
    {"text", "corpus"},
    {"graph"},
    {"models", "loss"},
    {"data", "embed"},
    {"training", "evaluation"},
    {"index"},
    {"inference"},
    {"cli"},  # the command entry
]
# same-layer imports that would still run the wrong way
FORBIDDEN = {("text", "corpus"), ("evaluation", "training"), ("vocab", "query")}
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _unit(module: str) -> str:
    """``clac_core.text.facts`` -> ``text``; ``clac_core`` -> ``clac_core``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _modules(pkg: Path = PKG) -> list[tuple[str, Path, ast.Module]]:
    """(dotted name, path, parsed tree) of every module under the package folder ``pkg``."""
    out = []
    for path in sorted(pkg.rglob("*.py")):
        parts = path.relative_to(pkg.parent).with_suffix("").parts
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


def upward_imports(pkg: Path = PKG) -> list[str]:
    """Imports in ``pkg`` that climb a layer or run a forbidden way (``path:line src -> dst``)."""
    layer = _layer_of()
    bad = []
    for name, path, tree in _modules(pkg):
        src = _unit(name)
        for module, line in _imports(tree):
            if not module.startswith("clac_core.") or src == "clac_core":
                continue
            dst = _unit(module)
            if dst == src:
                continue
            if layer[dst] > layer[src] or (src, dst) in FORBIDDEN:
                bad.append(f"{path.relative_to(pkg.parent)}:{line} {src} -> {dst}")
    return bad


def private_reexports(pkg: Path = PKG) -> list[str]:
    """Names with a leading underscore that a package ``__init__`` imports (re-exports)."""
    bad = []
    for path in sorted(pkg.rglob("__init__.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                bad += [
                    f"{path.relative_to(pkg.parent)}:{node.lineno} {a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
    return bad


def import_graph(pkg: Path = PKG) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (``from P import sub`` names ``P.sub``)."""
    names = {name for name, _, _ in _modules(pkg)}
    root = pkg.name
    graph: dict[str, set[str]] = {}
    for name, _, tree in _modules(pkg):
        targets = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] == root:
                    subs = {f"{node.module}.{a.name}" for a in node.names} & names
                    targets |= subs or ({node.module} & names)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names} & names
        targets.discard(name)
    return graph


def import_cycles(pkg: Path = PKG) -> list[list[str]]:
    """Every strongly connected group of two or more modules in :func:`import_graph` (sorted)."""
    graph = import_graph(pkg)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    """A small ``clac_core`` tree under ``tmp_path`` with the given module sources."""
    pkg = tmp_path / "clac_core"
    for rel, src in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src), encoding="utf-8")
    return pkg


def test_every_unit_has_a_layer() -> None:
    layer = _layer_of()
    units = {_unit(name) for name, _, _ in _modules()} - {"clac_core"}
    assert units - set(layer) == set(), "add new modules to LAYERS (and docs/ARCHITECTURE.md)"


def test_imports_go_down_the_layers_only() -> None:
    assert upward_imports() == []


def test_no_import_cycle() -> None:
    assert import_cycles() == []


def test_package_faces_reexport_no_private_name() -> None:
    assert private_reexports() == []


def test_library_never_imports_streamlit() -> None:
    bad = [
        f"{path.relative_to(PKG.parent)}:{line}"
        for _, path, tree in _modules()
        for module, line in _imports(tree)
        if module.split(".")[0] == "streamlit"
    ]
    assert bad == []


def test_app_reaches_the_library_through_inference() -> None:
    """``app.py`` and ``app_pages/`` import ``clac_core.inference`` and the base layer only."""
    allowed = {"inference"} | LAYERS[0]
    files = [REPO / "app.py", *sorted((REPO / "app_pages").rglob("*.py"))]
    bad = [
        f"{path.relative_to(REPO)}:{line} {module}"
        for path in files
        for module, line in _imports(ast.parse(path.read_text(encoding="utf-8")))
        if module.split(".")[0] == "clac_core" and _unit(module) not in allowed
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
                    long_functions.append(
                        f"{path.relative_to(PKG.parent)}:{node.lineno} {node.name} ({size})"
                    )
    assert long_files == [] and long_functions == []


@pytest.mark.parametrize(
    "path,source,expected",
    [
        ("text/bad.py", "from clac_core.corpus import iter_csv\n", "clac_core/text/bad.py:1 text -> corpus"),
        (
            "io/bad.py",
            "def f():\n    import clac_core.models.clip\n",  # lazy, inside a function
            "clac_core/io/bad.py:2 io -> models",
        ),
        (
            "graph/bad.py",
            "from clac_core.index.store import CorpusIndex\n",
            "clac_core/graph/bad.py:1 graph -> index",
        ),
    ],
)
def test_the_layer_check_catches_an_upward_import(
    tmp_path: Path, path: str, source: str, expected: str
) -> None:
    """The checker itself, run on a planted tree: a good import passes, the bad one is reported."""
    good = {"graph/__init__.py": "from clac_core.config import GraphConfig\n"}
    assert upward_imports(_plant(tmp_path / "good", good)) == []
    assert upward_imports(_plant(tmp_path / "bad", {**good, path: source})) == [expected]


def test_the_cycle_check_catches_a_lazy_loop(tmp_path: Path) -> None:
    files = {
        "models/__init__.py": "",
        "models/clip.py": "from clac_core.models.checkpoint import read\n",
        "models/checkpoint.py": "def load():\n    from clac_core.models import clip\n",
        "models/crystal.py": "from clac_core.models import clip\n",
    }
    assert import_cycles(_plant(tmp_path, files)) == [
        ["clac_core.models.checkpoint", "clac_core.models.clip"]
    ]
    files["models/checkpoint.py"] = "import json\n"
    assert import_cycles(_plant(tmp_path, files)) == []


def test_the_reexport_check_catches_a_private_name(tmp_path: Path) -> None:
    files = {"io/__init__.py": "from clac_core.io.reader import _read, read_structures\n"}
    assert private_reexports(_plant(tmp_path, files)) == ["clac_core/io/__init__.py:1 _read"]
