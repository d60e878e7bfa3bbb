"""The Jinja2 environment and the filters pages share.

Autoescaping is on for every template: anything a user wrote reaches HTML escaped unless it
went through `repos.cards` (sanitised) or Pygments (escaped), which mark it `Markup` here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")
UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def filesize(size: int | None) -> str:
    """Decimal units, as the Hub shows sizes: 1.2 kB, 4.3 GB."""
    if size is None:
        return ""
    value = float(size)
    for unit in UNITS:
        if value < 1000 or unit == UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def count(value: int) -> str:
    """12, 1.2k, 3.4M: counters in lists stay short."""
    if value < 1000:
        return str(value)
    if value < 1_000_000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value / 1_000_000:.1f}M".replace(".0M", "M")


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """'3 days ago' for a naive-UTC or aware datetime."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    for unit, size in (("year", 31536000), ("month", 2592000), ("day", 86400), ("hour", 3600)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    if seconds >= 60:
        n = seconds // 60
        return f"{n} minute{'s' if n > 1 else ''} ago"
    return "just now"


def isodate(when: datetime | None) -> str:
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def urlpath(value: str) -> str:
    """A repo path or revision as URL segments: `/` kept between path parts."""
    return quote(value, safe="/")


def urlsegment(value: str) -> str:
    """One URL segment: a revision with `/` in it becomes `feat%2Fx`, as on the Hub."""
    return quote(value, safe="")


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    filters: dict[str, Any] = {
        "filesize": filesize,
        "count": count,
        "ago": ago,
        "isodate": isodate,
        "urlpath": urlpath,
        "urlsegment": urlsegment,
    }
    env.filters.update(filters)
    return env
