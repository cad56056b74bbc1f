"""``docs/architecture.md`` names only modules, files and symbols that exist.

Checked: every span in backticks that looks like a file or folder (``server/service.py``,
``src/vlrerank/engine/``), a dotted module path (``vlrerank.testing.reference``), a
``Class.member`` or an identifier, and in the diagrams (fenced blocks) every file name and every
``Class.member``. Free text in backticks (values, commands, URLs) is left alone. Names are read from
the source, without importing it.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "vlrerank"
DOC = REPO / "docs" / "architecture.md"
# Where a file named without its folder may live: the doc says engine modules go unprefixed.
BASES = (REPO, SRC, SRC / "engine", REPO / "docs")
PATH = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.(?:py|md|jinja))(?![\w])")
MEMBER = re.compile(r"(?<![\w.])([A-Z]\w*)\.([a-z_]\w*)")
NAME = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)(?:\(.*\))?$")


def symbols() -> tuple[dict[str, set[str]], set[str], dict[str, set[str]]]:
    """Classes with their members, every other name defined (functions, module-level and class
    attributes, parameters, modules), and each module's top-level names."""
    classes: dict[str, set[str]] = defaultdict(set)
    names: set[str] = set()
    top: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        parts = ["vlrerank", *path.relative_to(SRC).with_suffix("").parts]
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names.add(parts[-1])
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top[module] = _defined(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes[node.name] |= _defined(node.body) | _self_attributes(node)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
                args = node.args
                names.update(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])
    for members in classes.values():
        names |= members
    for defined in top.values():
        names |= defined
    return classes, names | set(classes), top


def _defined(body: list[ast.stmt]) -> set[str]:
    found: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.add(node.target.id)
        elif isinstance(node, ast.Assign):
            found |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            found |= {alias.asname or alias.name for alias in node.names}
    return found


def _self_attributes(cls: ast.ClassDef) -> set[str]:
    return {
        target.attr
        for node in ast.walk(cls)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute) and ast.unparse(target.value) == "self"
    }


def spans_and_diagrams() -> tuple[list[str], list[str]]:
    text = DOC.read_text(encoding="utf-8")
    diagrams = re.findall(r"```\n(.*?)```", text, flags=re.S)
    prose = re.sub(r"```\n.*?```", "", text, flags=re.S)
    return re.findall(r"`([^`\n]+)`", prose), diagrams


def path_exists(name: str) -> bool:
    return any((base / name).exists() for base in BASES)


def missing_references() -> list[str]:
    classes, names, top = symbols()
    spans, diagrams = spans_and_diagrams()
    missing: list[str] = []

    def check_member(cls: str, member: str, where: str) -> None:
        if cls not in classes or member not in classes[cls]:
            missing.append(f"{where}: {cls}.{member}")

    for span in spans:
        if span.endswith("/") and re.fullmatch(r"[\w/-]+", span):
            if not path_exists(span):
                missing.append(f"folder {span}")
        elif PATH.fullmatch(span):
            if not path_exists(span):
                missing.append(f"file {span}")
        elif span.startswith("vlrerank.") and re.fullmatch(r"[\w.]+", span):
            parts = span.split(".")
            modules = [".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in top]
            rest = parts[len(modules[0].split(".")) :] if modules else parts
            if not modules or (rest and rest[0] not in top[modules[0]]):
                missing.append(f"dotted {span}")
        elif match := NAME.match(span):
            head = match.group(1)
            if "." in head:
                cls, member = head.split(".")
                if cls[0].isupper():
                    check_member(cls, member, "span")
            elif head not in names:
                missing.append(f"name {span}")
    for diagram in diagrams:
        missing += [f"diagram file {p}" for p in PATH.findall(diagram) if not path_exists(p)]
        for cls, member in MEMBER.findall(diagram):
            check_member(cls, member, "diagram")
    return missing


def test_every_module_and_symbol_named_exists():
    assert missing_references() == []


def test_the_check_sees_the_names():
    # A reader that found nothing would pass the test above: the doc's core names must be seen.
    spans, diagrams = spans_and_diagrams()
    seen = " ".join(spans + diagrams)
    for name in ("RerankService.rank", "server/routes/dependencies.py", "forward.py", "ScoringEngine.score"):
        assert name in seen
    classes, names, _ = symbols()
    assert "run" in classes["ForwardPlan"] and "engine_config" not in classes["Settings"]
    assert "split_on_oom" in names and "no_such_symbol" not in names
