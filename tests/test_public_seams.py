"""Tests use the library's public seams only: no test reads or writes a private name of it.

A private name is one the library spells with a leading underscore (not a dunder): an attribute it
sets on ``self``, a method, a module-level function, class or constant. This check parses every
test file and lists each ``obj._name`` whose ``_name`` is such a library name (``self._x`` inside a
test's own class is the test's business), and each ``from vlrerank... import _name``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "src" / "vlrerank"
TESTS = ROOT / "tests"

# Known leftovers outside the engine's tests, (file, name) each: remove an entry with its use. An
# entry that no longer occurs fails the check too, so this list can only shrink.
KNOWN: set[tuple[str, str]] = set()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def library_private_names() -> set[str]:
    names: set[str] = set()
    for path in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return {name for name in names if _private(name)}


def private_uses(path: Path, library: set[str]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr in library:
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vlrerank"):
            found += [(node.lineno, alias.name) for alias in node.names if _private(alias.name)]
    return found


def test_no_test_touches_a_private_name_of_the_library():
    library = library_private_names()
    assert "_engine" in library  # the scan sees the library (Reranker keeps its engine private)
    seen: set[tuple[str, str]] = set()
    offences = []
    for path in sorted(TESTS.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for line, name in private_uses(path, library):
            if (relative, name) in KNOWN:
                seen.add((relative, name))
            else:
                offences.append(f"{relative}:{line}: {name}")
    assert not offences, "tests reach into private library state:\n" + "\n".join(offences)
    assert seen == KNOWN, f"no longer used, remove from KNOWN: {sorted(KNOWN - seen)}"


def test_the_check_finds_private_access(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from vlrerank.engine.pairing import _worst_image\n"
        "def test(reranker):\n"
        "    reranker._hidden.encoder\n"
        "    reranker._not_the_librarys\n"
        "    class Own:\n"
        "        def go(self):\n"
        "            self._hidden = 1\n",
        encoding="utf-8",
    )
    found = sorted(private_uses(sample, {"_hidden", "_worst_image"}))
    assert found == [(1, "_worst_image"), (3, "_hidden")]
