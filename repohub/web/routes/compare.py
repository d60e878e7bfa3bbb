"""`{repo}/compare/{base}...{head}`: two versions side by side, and the form that picks them.

The page renders the dict `repohub.compare.service.build_compare` returns (the JSON API
answers the same dict), so page and API cannot disagree. Every figure is in an HTML table;
`/static/charts.js` draws the curve tables as overlaid charts and `/static/compare.js` sorts
the per-class table, so the page allows same-origin scripts like the job pages do. Both sides
go through the access check inside `build_compare`: a private repo or fork the viewer cannot
read raises `NotFound`, which `HtmlRoute` renders as the ordinary 404 page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from repohub.compare import service as compare_service
from repohub.compare.revisions import split_range
from repohub.errors import NotFound
from repohub.repos.access import Access, access_level
from repohub.repos.service import RepoKey, get_repo
from repohub.web import compare_view
from repohub.web.browse import header_only
from repohub.web.context import Page, current_page
from repohub.web.forms import checked_page
from repohub.web.routes.common import REPO_PREFIXES, page_router, repo_key, require_login
from repohub.web.urls import RepoUrls

router = page_router()
SIDES = ("base", "head")
# The job pages' policy (same-origin scripts and API calls), plus thumbnails that a dataset's
# resolve URL may redirect to storage.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data: https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def split_spec(spec: str, default_branch: str) -> tuple[str, str]:
    """`base...head` (or `base..head`) as its two sides, parsed as the API does; a lone ref
    compares the default branch with it, as GitHub does."""
    if ".." not in spec and spec:
        return default_branch, spec
    return split_range(spec)


def compare_url(urls: RepoUrls, base: str, head: str) -> str:
    return f"{urls.base}/compare/{quote(base, safe=':')}...{quote(head, safe=':')}"


def _raw_spec(request: Request, key: RepoKey) -> str:
    """The part after `/compare/`, read undecoded so `feat%2Fx` and `feat/x` both work."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    segments = raw.split(b"?", 1)[0].decode("utf-8", "replace").split("/")[1:]
    skip = 4 if key.repo_type == "dataset" else 3
    return "/".join(unquote(s) for s in segments[skip:] if s)


def _writable(page: Page, full_name: str, repo_type: str) -> bool:
    """Whether the viewer may start jobs on a side's repo (a fork's side lives elsewhere)."""
    if page.identity.user_id is None or repo_type != "model" or "/" not in full_name:
        return False
    owner, name = full_name.split("/", 1)
    with page.hub.sessions() as session:
        try:
            repo = get_repo(session, page.identity, RepoKey("model", owner, name), Access.READ)
        except NotFound:
            return False
        return (
            page.identity.can_write and access_level(session, page.identity, repo) >= Access.WRITE
        )


def _render(page: Page, template: str, status: int = 200, **context: Any) -> Response:
    response = page.render(template, status=status, **context)
    response.headers["Content-Security-Policy"] = CSP
    return response


def _compare_page(repo_type: str):  # type: ignore[no-untyped-def]
    def compare_page(
        request: Request,
        owner: str,
        name: str,
        spec: str,
        files: str = "1",
        page: Page = Depends(current_page),
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        header = header_only(page.hub, page.identity, key)
        base, head = split_spec(_raw_spec(request, key), header.default_branch)
        data = compare_service.build_compare(page.hub, page.identity, key, base, head)
        number = int(files) if files.isdigit() and len(files) < 6 else 1
        wanted = {m["side"] for m in data.get("missing") or []}
        return _render(
            page,
            "compare.html",
            header=header,
            tab="compare",
            c=data,
            spec_base=base,
            spec_head=head,
            self_url=compare_url(header.urls, base, head),
            api_url=compare_url(RepoUrls(f"/api/{repo_type}s/{owner}/{name}"), base, head),
            can_start={
                s: s in wanted and _writable(page, data[s]["repo"], repo_type) for s in SIDES
            },
            curves=compare_view.curve_tables(data.get("curves") or {}),
            classes=compare_view.class_table(data.get("per_class") or []),
            confusion=compare_view.confusion_view(data.get("confusion")),
            files=compare_view.files_page((data.get("files") or {}).get("changed") or [], number),
            hunk_lines=compare_view.hunk_lines,
            spec_line_class=compare_view.spec_line_class,
        )

    return compare_page


def _evaluate(repo_type: str):  # type: ignore[no-untyped-def]
    def evaluate(
        request: Request,
        owner: str,
        name: str,
        spec: str,
        page: Page = Depends(checked_page),
    ) -> Response:
        """The A/B evaluation: both sides on one dataset revision, started from the page."""
        require_login(page)
        key = repo_key(repo_type, owner, name)
        header = header_only(page.hub, page.identity, key)
        base, head = split_spec(_raw_spec(request, key), header.default_branch)
        started = compare_service.start_ab(page.hub, page.identity, key, base, head)
        return page.redirect(f"/jobs/{started['job_id']}")

    return evaluate


def _compare_form(repo_type: str):  # type: ignore[no-untyped-def]
    def compare_form(
        owner: str,
        name: str,
        base: str = "",
        head: str = "",
        v: list[str] = Query([]),
        page: Page = Depends(current_page),
    ) -> Response:
        """`?base=&head=` or two ticked versions (`?v=newer&v=older`, the versions page's
        order) lead to the compare page; otherwise the form to pick them."""
        key = repo_key(repo_type, owner, name)
        header = header_only(page.hub, page.identity, key)
        picked = [x.strip() for x in v if x.strip()]
        if len(picked) == 2:
            head, base = picked
        elif picked:
            error = "Tick two versions to compare."
            return _form(page, header, picked[0], head, error, 400)
        if base.strip() and head.strip():
            return page.redirect(compare_url(header.urls, base.strip(), head.strip()))
        return _form(page, header, base or header.default_branch, head, None, 200)

    return compare_form


def _form(
    page: Page, header: Any, base: str, head: str, error: str | None, status: int
) -> Response:
    return _render(
        page,
        "compare_form.html",
        status,
        header=header,
        tab="compare",
        base=base,
        head=head,
        error=error,
    )


for _type, _prefix in REPO_PREFIXES:
    _base = f"{_prefix}/{{owner}}/{{name}}/compare"
    router.add_api_route(_base, _compare_form(_type), methods=["GET"])
    router.add_api_route(f"{_base}/{{spec:path}}", _compare_page(_type), methods=["GET"])
    router.add_api_route(f"{_base}/{{spec:path}}", _evaluate(_type), methods=["POST"])
