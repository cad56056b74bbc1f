"""The import graph of ``src/vlrerank``: layers point downward, production code never imports
``vlrerank.testing``, and no two modules import each other (directly or round a loop).

Read from the source (every import statement, those inside functions included); imports under
``if TYPE_CHECKING:`` are left out, as they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import vlrerank

ROOT = Path(vlrerank.__file__).parent
# Leaf modules every layer may use.
FOUNDATION = {"vlrerank.errors", "vlrerank.config", "vlrerank.random_weights"}
# The low layers and what each may import besides the foundation: inputs -> preprocess -> engine.
LOWER = {
    "inputs": {"inputs"},
    "preprocess": {"inputs", "preprocess"},
    "engine": {"inputs", "preprocess", "engine"},
}
# Lazy imports that still close a loop; each is a known debt, to be broken rather than added to.
KNOWN_CYCLES: list[set[str]] = []


def module_name(path: Path) -> str:
    parts = ["vlrerank", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in ROOT.rglob("*.py")}


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        test = node.test if isinstance(node, ast.If) else None
        if test is not None and "TYPE_CHECKING" in ast.unparse(test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports(module: str) -> set[str]:
    """The vlrerank modules ``module`` imports (a name imported from a package that is itself a
    module counts as that module)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports(module) for module in MODULES}


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_production_code_never_imports_testing():
    offenders = {
        module: sorted(t for t in targets if layer(t) == "testing")
        for module, targets in GRAPH.items()
        if layer(module) != "testing"
    }
    assert not {m: t for m, t in offenders.items() if t}


def test_low_layers_import_only_downward():
    upward = {}
    for module, targets in GRAPH.items():
        allowed = LOWER.get(layer(module))
        if allowed is None:
            continue
        wrong = sorted(t for t in targets if t not in FOUNDATION and layer(t) not in allowed)
        if wrong:
            upward[module] = wrong
    assert not upward


def test_the_foundation_imports_only_itself():
    assert not {m: GRAPH[m] - FOUNDATION for m in FOUNDATION if GRAPH[m] - FOUNDATION}


def test_no_import_cycles():
    # Tarjan's strongly connected components: any component of more than one module is a loop.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in GRAPH[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(component)

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert [sorted(c) for c in cycles if c not in KNOWN_CYCLES] == []


def test_the_graph_is_read():  # a reader that found no imports would pass every test above
    assert "vlrerank.engine.template" in GRAPH["vlrerank.checkpoints.layouts"]
    assert "vlrerank.cli.exit_codes" in GRAPH["vlrerank.cli.doctor"]
    assert "vlrerank.inputs.urls" in GRAPH["vlrerank.inputs.images"]  # `from . import urls`
    assert "vlrerank.inputs.images" not in GRAPH["vlrerank.inputs.urls"]  # only under TYPE_CHECKING
