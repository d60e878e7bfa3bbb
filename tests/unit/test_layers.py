"""DESIGN.md's layer table, checked: each package imports only what the table allows."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "repohub"
ALLOWED = {
    "config": set(),
    "errors": set(),
    "db": {"config", "errors"},  # driver failures become the taxonomy's errors where they occur
    "objects": {"config", "errors"},
    "refs": {"db", "errors"},
    "auth": {"db", "errors"},
    "repos": {"objects", "refs", "auth", "db", "errors", "config"},
    "git": {"repos", "objects", "refs", "auth", "errors", "config", "db"},
    "api": {"repos", "git", "jobs", "compare", "auth", "errors", "config", "db", "objects"},
    "web": {"repos", "jobs", "eval", "compare", "auth", "errors", "config"},
    "compare": {"repos", "jobs", "eval", "auth", "errors", "config", "db", "objects"},
    "jobs": {"repos", "db", "train", "eval", "errors", "config", "objects", "refs", "auth"},
    "train": {"errors"},
    "eval": {"errors"},
}
FORBIDDEN_THIRD_PARTY = {
    "objects": {"fastapi", "celery"},
    "refs": {"fastapi", "celery"},
    "db": {"fastapi", "celery"},
    "api": {"boto3", "torch"},
    "web": {"boto3", "torch"},
    "jobs": {"torch", "torchvision", "fastapi"},
    "eval": {"torch", "celery", "fastapi"},
    "compare": {"torch", "torchvision", "fastapi", "boto3"},
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_layers() -> None:
    problems = []
    for package, allowed in ALLOWED.items():
        target = ROOT / package
        files = list(target.rglob("*.py")) if target.is_dir() else [ROOT / f"{package}.py"]
        for file in files:
            for name in _imports(file):
                top = name.split(".")[0]
                if top == "repohub":
                    layer = name.split(".")[1] if "." in name else ""
                    if layer not in {package, ""} and layer not in allowed:
                        problems.append(f"{file.relative_to(ROOT)} imports {name}")
                elif top in FORBIDDEN_THIRD_PARTY.get(package, set()):
                    problems.append(f"{file.relative_to(ROOT)} imports {name}")
    assert not problems, "\n".join(problems)


def test_boto3_only_in_the_s3_backend() -> None:
    users = [
        p.relative_to(ROOT)
        for p in ROOT.rglob("*.py")
        if "boto3" in {n.split(".")[0] for n in _imports(p)}
    ]
    assert [str(p) for p in users] == ["objects/blobstore/s3.py"]
