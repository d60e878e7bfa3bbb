"""Running the real `git` binary the way a user does, isolated from the machine's config."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Git:
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Test Author",
            "GIT_AUTHOR_EMAIL": "author@example.com",
            "GIT_COMMITTER_NAME": "Test Author",
            "GIT_COMMITTER_EMAIL": "author@example.com",
        }

    def __call__(
        self,
        *args: str,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float = 300,
        env_extra: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env={**self.env, **(env_extra or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"git {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
            )
        return result

    def popen(self, *args: str, cwd: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def init_repo(self, path: Path, files: dict[str, str | bytes], message: str = "first") -> Path:
        path.mkdir(parents=True)
        self("init", "-q", "-b", "main", str(path))
        self.commit(path, files, message)
        return path

    def commit(self, path: Path, files: dict[str, str | bytes], message: str) -> str:
        for name, content in files.items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        self("add", "-A", cwd=path)
        self("commit", "-q", "-m", message, cwd=path)
        return self("rev-parse", "HEAD", cwd=path).stdout.strip()

    def fsck(self, path: Path) -> None:
        result = self("fsck", "--full", "--strict", cwd=path)
        assert "missing" not in result.stdout + result.stderr
