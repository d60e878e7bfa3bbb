"""Side virtualenvs with the `huggingface_hub` releases that users run, and a scenario runner.

The test suite's own venv has one client; compatibility with the others is checked by running a
scenario script (a plain file in `hf_scenarios/`, run by path) in a second venv per release, as
a subprocess that prints one JSON object. Each venv is built once and cached under
`~/.cache/repohub/hf-<version>-venv`; it is rebuilt when missing or when its marker file
(written last, after a successful install) names another version or interpreter. Building
happens in a scratch directory that is renamed into place, under a per-venv file lock, so an
interrupted or concurrent build never leaves a half-installed venv behind, and a fresh machine
builds what it lacks inside the test run.

Tests that run the suite's own client in-process get it from `in_process_client`, one setup for
every such fixture.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

# The releases the version matrix drives, oldest first: the last pre-1.0 series that still sees
# wide use, the requests-based 0.3x line, the first httpx-based 1.x, a later 1.x and the current
# 2.x. All install on Python 3.11 from PyPI without extras.
HF_VERSIONS: tuple[str, ...] = ("0.20.3", "0.30.2", "0.36.2", "1.0.1", "1.6.0", "2.4.0")
HF_036 = "0.36.2"  # the newest 0.36.x on PyPI (`pip index versions huggingface_hub`)

CACHE = Path.home() / ".cache" / "repohub"
SCENARIOS = Path(__file__).parent / "hf_scenarios"
MARKER = "repohub-hf-version"
BUILD_TIMEOUT = 900
SCENARIO_TIMEOUT = 600


def _pip_env() -> dict[str, str]:
    """pip that never waits for a person: no prompts, no version check, no user config dir."""
    return {
        **os.environ,
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONNOUSERSITE": "1",
    }


def venv_path(version: str) -> Path:
    """One directory per exact release, so two releases of one series never evict each other."""
    return CACHE / f"hf-{version}-venv"


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _marker_text(version: str) -> str:
    """The release and the interpreter series: a venv built for another Python is stale too."""
    return f"{version} py{sys.version_info.major}.{sys.version_info.minor}"


def _is_ready(venv: Path, version: str) -> bool:
    """`exists()` follows the interpreter symlink, so a venv whose base Python is gone is stale."""
    marker = venv / MARKER
    return (
        _python(venv).exists()
        and marker.is_file()
        and marker.read_text().strip() == _marker_text(version)
    )


def _remove_scratch(target: Path) -> None:
    """Scratch dirs left by a build that was killed (no `finally` ran); called under the lock."""
    for stale in target.parent.glob(f".{target.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _build(target: Path, version: str) -> None:
    """Create the venv in a scratch directory beside `target`, then rename it into place.

    A venv records its absolute path in its scripts, but `python -m pip` and `python <script>`
    go through the interpreter only, so a renamed venv still works for what the tests run.
    Only `huggingface_hub==X` is installed, no extras: each build stays a few seconds.
    """
    _remove_scratch(target)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(scratch)],
            check=True,
            capture_output=True,
            timeout=BUILD_TIMEOUT,
        )
        result = subprocess.run(
            [str(_python(scratch)), "-m", "pip", "install", "-q", f"huggingface_hub=={version}"],
            env=_pip_env(),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip install huggingface_hub=={version} failed:\n{result.stderr}")
        (scratch / MARKER).write_text(_marker_text(version))
        scratch.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other accounts
        if target.exists():
            shutil.rmtree(target)
        scratch.rename(target)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def hf_python(version: str) -> Path:
    """The interpreter of the cached venv for `version`, building the venv first if needed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    venv = venv_path(version)
    with (CACHE / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_ready(venv, version):
            _build(venv, version)
    return _python(venv)


def hf_036_python() -> Path:
    """The 0.36 interpreter, for callers written before the matrix existed."""
    return hf_python(HF_036)


def client_env(home: Path, endpoint: str, token: str | None) -> dict[str, str]:
    """The environment a user's script would see: the hub's endpoint and token in the standard
    variables, its own HF_HOME, no telemetry, no Xet and nothing inherited that names a token."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "PYTHONPATH"}
    }
    env.update(
        {
            "HF_HOME": str(home),
            "HF_ENDPOINT": endpoint,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def in_process_client(
    monkeypatch: pytest.MonkeyPatch, home: Path, endpoint: str
) -> Callable[..., Any]:
    """Point the suite's own client, in this process, at `endpoint` with its cache under `home`,
    no telemetry and no Xet; `client(token)` is then an `HfApi` there (`token=False`: anonymous).

    The client reads these variables once, at import, and another test may have imported it
    already, so its constants are patched as well as the environment: `ENDPOINT` and the
    `/resolve` URL template (module-level calls such as `hf_hub_download` without `endpoint=`)
    and the module-level `HfApi` behind `upload_file` and `ModelCard.push_to_hub`.
    """
    from huggingface_hub import HfApi, constants, hf_api

    for key, value in {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    template = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(hf_api.api, "endpoint", endpoint)

    def client(token: str | bool = False) -> Any:
        return HfApi(endpoint=endpoint, token=token)

    return client


def run_scenario(
    version: str,
    scenario: str,
    args: dict[str, Any],
    *,
    workdir: Path,
    endpoint: str,
    token: str | None = None,
) -> dict[str, Any]:
    """Run `hf_scenarios/<scenario>.py` with `version`'s client; return the JSON it printed last.

    The scenario is a file run by path (its folder comes first on `sys.path`, so it can import
    its siblings), so a write scenario is one more file beside the read one.
    """
    script = SCENARIOS / f"{scenario}.py"
    assert script.is_file(), script
    python = hf_python(version)
    workdir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(python), str(script), json.dumps(args)],
        env=client_env(workdir / "hf-home", endpoint, token),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{scenario} on {version} failed:\n{result.stderr}"
    lines = result.stdout.strip().splitlines()
    assert lines, f"{scenario} on {version} printed nothing:\n{result.stderr}"
    return json.loads(lines[-1])
