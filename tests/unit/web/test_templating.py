"""Filters the pages share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from repohub.web.templating import ago, count, filesize, urlpath, urlsegment


def test_sizes_and_counts_are_short() -> None:
    assert [filesize(n) for n in (0, 999, 1000, 1_234_567, 4 * 10**12)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "1.2 MB",
        "4.0 TB",
    ]
    assert [count(n) for n in (7, 1000, 1500, 2_000_000)] == ["7", "1k", "1.5k", "2M"]


def test_ages() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    assert ago(now - timedelta(seconds=5), now) == "just now"
    assert ago(now - timedelta(minutes=2), now) == "2 minutes ago"
    assert ago((now - timedelta(days=1)).replace(tzinfo=None), now) == "1 day ago"


def test_revisions_are_one_url_segment() -> None:
    assert urlsegment("feat/x") == "feat%2Fx"
    assert urlpath("a b/c.txt") == "a%20b/c.txt"
