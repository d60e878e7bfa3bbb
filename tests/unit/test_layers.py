"""ARCHITECTURE.md's layer tables, checked: each package imports only what its row allows
and none of the third-party packages its layer bans. The map is read from the document, so
the two cannot drift apart."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "repohub"
MAP = ROOT.parent / "ARCHITECTURE.md"
NAME = re.compile(r"`([a-z0-9_]+)`")


def _rows(text: str, header: str) -> dict[str, set[str]]:
    """The table whose header row starts with `header`: first cell -> the names in the last."""
    rows: dict[str, set[str]] = {}
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(header))
    for line in lines[at + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        first = NAME.fullmatch(cells[0])
        if first is None:
            raise ValueError(f"ARCHITECTURE.md: a table row without a `name` first: {line}")
        rows[first[1]] = set(NAME.findall(cells[-1]))
    if not rows:
        raise ValueError(f"ARCHITECTURE.md: the table {header!r} is empty")
    return rows


def load_map(text: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(layer -> the layers it may import, layer -> third-party packages it never imports)."""
    return _rows(text, "| layer | owns | may import |"), _rows(text, "| layer | never imports |")


ALLOWED, FORBIDDEN_THIRD_PARTY = load_map(MAP.read_text())


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def violations(
    root: Path, allowed_map: dict[str, set[str]], banned: dict[str, set[str]]
) -> list[str]:
    problems = []
    for package, allowed in allowed_map.items():
        target = root / package
        files = list(target.rglob("*.py")) if target.is_dir() else [root / f"{package}.py"]
        for file in files:
            for name in _imports(file):
                top = name.split(".")[0]
                if top == "repohub":
                    layer = name.split(".")[1] if "." in name else ""
                    if layer not in {package, ""} and layer not in allowed:
                        problems.append(f"{file.relative_to(root)} imports {name}")
                elif top in banned.get(package, set()):
                    problems.append(f"{file.relative_to(root)} imports {name}")
    return sorted(problems)


def test_layers() -> None:
    problems = violations(ROOT, ALLOWED, FORBIDDEN_THIRD_PARTY)
    assert not problems, "\n".join(problems)


def test_every_package_is_on_the_map() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in ROOT.glob("*.py")} - {"__init__", "cli", "app", "worker"}
    assert packages | modules == set(ALLOWED)


def test_an_edge_the_map_does_not_list_fails(tmp_path: Path) -> None:
    """The test of the test: a map without one edge the code uses, and a package importing
    a banned library, are both caught."""
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "__init__.py").write_text("")
    (tmp_path / "eval" / "m.py").write_text("from repohub.errors import X\nimport torch\n")
    (tmp_path / "errors.py").write_text("")
    text = """| layer | owns | may import |
| --- | --- | --- |
| `errors` | taxonomy | - |
| `eval` | metrics | - |

| layer | never imports |
| --- | --- |
| `eval` | `torch` |
"""
    allowed, banned = load_map(text)
    assert allowed == {"errors": set(), "eval": set()} and banned == {"eval": {"torch"}}
    assert violations(tmp_path, allowed, banned) == [
        "eval/m.py imports repohub.errors",
        "eval/m.py imports torch",
    ]
    fixed = text.replace("| `eval` | metrics | - |", "| `eval` | metrics | `errors` |")
    assert violations(tmp_path, *load_map(fixed)) == ["eval/m.py imports torch"]


def test_boto3_only_in_the_s3_backend() -> None:
    users = [
        p.relative_to(ROOT)
        for p in ROOT.rglob("*.py")
        if "boto3" in {n.split(".")[0] for n in _imports(p)}
    ]
    assert [str(p) for p in users] == ["objects/blobstore/s3.py"]
