"""Docstrings, comments and docs name the code they explain; a name that no longer exists
sends a newcomer looking for nothing. Checked here, over every tracked file:

- a repository path (`service/qa/answerer.py`, `models/reader/`) exists;
- a dotted `citeqa.` name imports, attribute by attribute;
- `Class.attribute`, for a class defined in the repository, names one of its methods or
  fields (or its bases');
- `module.Name`, for a module of the repository, names something defined in it.

Names are read between backticks, and paths also in plain text. A name the check cannot
place (a library's, a variable's) is left alone.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import keyword
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The top-level folders of the repository: a path is checked when it starts with one.
ROOMS = ("ingest", "index", "service", "eval", "models", "cli", "bench", "tests", "docs", "data")
PATH = re.compile(
    rf"(?<![\w./-])((?:{'|'.join(ROOMS)})/[\w./-]*[\w/])(?![\w/-]*[<*{{])"
)  # fmt: skip
BACKTICKED = re.compile(r"`([^`\n]{1,120})`")
DOTTED = re.compile(r"^([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))+(?:\(\))?$")
# Names of imported libraries as this code spells them (`import numpy as np`).
ALIASES = {"np", "ort", "pd", "st", "nn", "F"}
# `name.ext` in backticks is a file's name, not an attribute.
EXTENSIONS = {"py", "md", "js", "json", "jsonl", "png", "sqlite", "safetensors", "txt", "log",
              "html", "pt", "onnx", "db", "toml", "gz", "csv", "pdf"}  # fmt: skip


@dataclass
class Code:
    """What the repository defines: classes with their attributes and bases, and modules
    by their short name with their top-level names."""

    attributes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    bases: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    modules: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def has(self, cls: str, name: str, seen: frozenset[str] = frozenset()) -> bool | None:
        """Whether `cls` (or a base) defines `name`; None when a base is not ours."""
        if name in self.attributes[cls]:
            return True
        found: bool | None = False
        for base in self.bases[cls] - seen:
            if base not in self.attributes:
                return None
            found = found or self.has(base, name, seen | {cls})
        return found


def tracked(*suffixes: str) -> list[Path]:
    """The repository's files with these endings (this one too: its examples are stale on
    purpose, and the check leaves it out)."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    return [ROOT / f for f in listed.stdout.split() if f.endswith(suffixes)]


@cache
def code() -> Code:
    found = Code()
    for path in tracked(".py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        short = path.stem if path.stem != "__init__" else path.parent.name
        for node in tree.body:
            found.modules[short] |= _defined(node)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found.attributes[node.name] |= {n for child in node.body for n in _defined(child)}
                found.bases[node.name] |= {_name(b) for b in node.bases} - {
                    "object", "Protocol", "Generic"
                }  # fmt: skip
        for sub in path.parent.glob("*.py"):
            found.modules[path.parent.name].add(sub.stem)
        if path.name == "__init__.py":
            found.modules[path.parent.parent.name].add(path.parent.name)
    return found


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.ImportFrom | ast.Import):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else ast.unparse(node).split("[")[0]


def stale_path(text: str, where: Path) -> bool:
    """A path that is neither a file or folder nor `module.py`'s `module` (or
    `module.Name`, a name it defines)."""
    target = text.rstrip("/")
    if "/." in target or any(Path(part).stem.isupper() for part in target.split("/")):
        return False  # generated (`bench/peers/.venv`) or a placeholder (`docs/NAME.png`)
    if (ROOT / target).exists() or (where.parent / target).exists():
        return False
    module, _, name = target.rpartition(".")
    if module and (ROOT / f"{module}.py").exists():
        return name not in code().modules[Path(module).name]
    return not (ROOT / f"{target}.py").exists()


def stale_dotted(text: str) -> bool:
    parts = text.removesuffix("()").split(".")
    if parts[0] == "citeqa":
        return not _imports(parts)
    head, name = parts[0], parts[1]
    if name in EXTENSIONS or keyword.iskeyword(name):
        return False
    ours = code()
    if head in ours.attributes:
        return ours.has(head, name) is False
    if head in ours.modules and head not in ("data", "tests", "docs"):
        # `settings.index` may be a value's attribute, `settings` a variable.
        fields = set().union(*ours.attributes.values())
        return name not in ours.modules[head] and name not in fields
    if head[0].isupper() or head in ALIASES or len(parts) > 2:
        return False
    return importlib.util.find_spec(head) is None and head not in _variables()


def _imports(parts: list[str]) -> bool:
    for cut in range(len(parts), 1, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


@cache
def _variables() -> frozenset[str]:
    """Every name bound anywhere in the code (parameters and locals included): `x.y` on
    one of them is an attribute of a value, not a module's."""
    names: set[str] = set()
    for path in tracked(".py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
    return frozenset(names)


def stale_names(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = [f"{path.relative_to(ROOT)}: {p}" for p in PATH.findall(text) if stale_path(p, path)]
    for quoted in BACKTICKED.findall(text):
        if DOTTED.match(quoted) and not PATH.fullmatch(quoted) and stale_dotted(quoted):
            found.append(f"{path.relative_to(ROOT)}: `{quoted}`")
    return found


def test_every_name_in_the_docs_and_docstrings_exists() -> None:
    # This file is left out: its own check (below) names code that is gone, on purpose.
    paths = [p for p in tracked(".py", ".md", "Makefile") if p != Path(__file__).resolve()]
    stale = [s for path in paths for s in stale_names(path)]
    assert not stale, "names of code that no longer exists:\n" + "\n".join(stale)


def test_the_check_finds_a_stale_name(tmp_path: Path) -> None:
    """What the issue found: a method, a module's class and a file that are gone."""
    note = ROOT / "docs" / f"{tmp_path.name}.md"
    note.write_text(
        "See `Answerer.ask_traced`, `sentences.Passage`, `citeqa.service.qa.reading` and "
        "service/qa/reader.py; `Answerer.ask`, `sentences.windows` and models/reader/ exist."
    )
    try:
        found = stale_names(note)
    finally:
        note.unlink()
    assert [s.split(": ", 1)[1] for s in found] == [
        "service/qa/reader.py", "`Answerer.ask_traced`", "`sentences.Passage`",
        "`citeqa.service.qa.reading`",
    ]  # fmt: skip
