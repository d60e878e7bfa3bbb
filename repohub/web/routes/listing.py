"""`/models` and `/datasets`: full-text search with filters, sorts and pages."""

from __future__ import annotations

from fastapi import Depends
from fastapi.responses import Response

from repohub.repos.search import FACETS, SORTS, SearchQuery, facet_values, search
from repohub.web.context import Page, current_page
from repohub.web.routes.common import page_router

router = page_router()


def _page_number(raw: str) -> int:
    return int(raw) if raw.isdigit() and 0 < len(raw) < 4 else 1


def _listing(repo_type: str):  # type: ignore[no-untyped-def]
    def listing(
        q: str = "",
        task: str = "",
        library: str = "",
        license: str = "",
        owner: str = "",
        sort: str = "downloads",
        p: str = "1",
        page: Page = Depends(current_page),
    ) -> Response:
        query = SearchQuery(
            repo_type=repo_type,
            text=q[:200],
            task=task[:100],
            library=library[:100],
            license=license[:100],
            owner=owner[:39],
            sort=sort if sort in SORTS else "downloads",
            page=_page_number(p),
        )
        results = search(page.hub, page.identity, query)
        facets = {name: facet_values(page.hub, repo_type, name) for name in FACETS}

        def render() -> str:
            return page.render_html(
                "listing.html",
                repo_type=repo_type,
                query=query,
                results=results,
                facets=facets,
                sorts=list(SORTS),
            )

        if page.identity.is_anonymous:  # the same hits render the same page: keep it
            shown = tuple((k, tuple(v)) for k, v in facets.items())
            cache_key = ("search", repo_type, query, results, shown)
            return page.respond(page.state.caches.pages.get(cache_key, render))
        return page.respond(render())

    return listing


router.add_api_route("/models", _listing("model"), methods=["GET"])
router.add_api_route("/datasets", _listing("dataset"), methods=["GET"])
