"""The static assets' version: one value for every process, new when any file changes."""

from __future__ import annotations

from pathlib import Path

from repohub.web.context import STATIC, static_digest


def test_static_digest_is_stable_and_follows_content(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_text("body { color: black }")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "charts.js").write_text("let x = 1;")
    first = static_digest(tmp_path)
    assert static_digest(tmp_path) == first
    (tmp_path / "js" / "charts.js").write_text("let x = 2;")
    assert static_digest(tmp_path) != first


def test_the_shipped_assets_have_a_version() -> None:
    version = static_digest(STATIC)
    assert len(version) == 10 and int(version, 16) >= 0
    assert version == static_digest()
