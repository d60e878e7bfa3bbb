"""Rendered pieces of pages that depend only on immutable inputs, cached as HTML.

A file table's rows depend on the tree id, the repo's URL, the revision named in links and
the directory: rendering 1,000 rows costs ~12 ms of Jinja per view, a cache hit nothing.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from repohub.web.cache import Caches


def install(env: Environment, caches: Caches) -> None:
    rows = env.get_template("filerows.html")

    def file_rows(view: Any) -> Markup:
        key = ("rows", view.tree_id, view.header.urls.base, view.rev, view.path)
        return caches.fragments.get(key, lambda: Markup(rows.render(view=view)))  # noqa: S704

    env.globals["file_rows"] = file_rows


def precompile(env: Environment) -> None:
    """Compile every template at start-up, so no visitor pays for it."""
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
