"""A side virtualenv with the older, requests-based `huggingface_hub` 0.36.x that users still run.

The test suite's own venv has the current client; compatibility with 0.36 is checked by running
a scenario script in this second venv as a subprocess. The venv is built once and cached under
`~/.cache/repohub/hf-0.36-venv`; it is rebuilt when missing or when its marker file (written
last, after a successful install) names another version. Building happens in a temporary
directory that is renamed into place, under a file lock, so an interrupted or concurrent build
never leaves a half-installed venv behind.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HF_036 = "0.36.2"  # the newest 0.36.x on PyPI (`pip index versions huggingface_hub`)
CACHE = Path.home() / ".cache" / "repohub"
VENV = CACHE / "hf-0.36-venv"
MARKER = "repohub-hf-version"
BUILD_TIMEOUT = 900


def _pip_env() -> dict[str, str]:
    """pip that never waits for a person: no prompts, no version check, no user config dir."""
    return {
        **os.environ,
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONNOUSERSITE": "1",
    }


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _is_ready(venv: Path) -> bool:
    marker = venv / MARKER
    return _python(venv).exists() and marker.is_file() and marker.read_text().strip() == HF_036


def _build(target: Path) -> None:
    """Create the venv in a scratch directory beside `target`, then rename it into place.

    A venv records its absolute path in its scripts, but `python -m pip` and `python -c`
    go through the interpreter only, so a renamed venv still works for what the tests run.
    """
    scratch = Path(tempfile.mkdtemp(prefix=".hf-venv-", dir=target.parent))
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(scratch)],
            check=True,
            capture_output=True,
            timeout=BUILD_TIMEOUT,
        )
        result = subprocess.run(
            [str(_python(scratch)), "-m", "pip", "install", "-q", f"huggingface_hub=={HF_036}"],
            env=_pip_env(),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip install huggingface_hub=={HF_036} failed:\n{result.stderr}")
        (scratch / MARKER).write_text(HF_036)
        if target.exists():
            shutil.rmtree(target)
        scratch.rename(target)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def hf_036_python() -> Path:
    """The interpreter of the cached 0.36 venv, building the venv first if needed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "hf-0.36-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_ready(VENV):
            _build(VENV)
    return _python(VENV)
