"""The API process never loads torch: `jobs` reaches `train` only inside task bodies."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

JOBS = Path(__file__).resolve().parents[3] / "repohub" / "jobs"


def _module_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_jobs_imports_train_only_inside_functions() -> None:
    offenders = [
        f"{path.name} imports {name}"
        for path in sorted(JOBS.glob("*.py"))
        for name in _module_level_imports(path)
        if name.startswith("repohub.train")
    ]
    assert not offenders, offenders


def test_api_and_worker_processes_do_not_load_torch(tmp_path: Path) -> None:
    script = f"""
import sys
from repohub.app import create_app
from repohub.config import Settings
import repohub.jobs.run, repohub.jobs.tasks, repohub.jobs.service, repohub.jobs.publish
import repohub.worker
create_app(Settings(data_dir={str(tmp_path)!r}))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
assert not loaded, loaded[:5]
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
