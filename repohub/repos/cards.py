"""Model cards: README.md's YAML front matter, and Markdown rendered into safe HTML.

Cards are written by anyone who can push, and shown on RepoHub's own origin, so what comes
out of here must never run: Markdown (raw HTML allowed, as on the Hub) is rendered with
markdown-it, then everything passes nh3's allow-list sanitiser, which drops scripts, event
handlers, `javascript:` URLs and styles. Code is highlighted with Pygments into class-only
spans, so the page's stylesheet colours it and no inline style is needed.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import nh3
import yaml
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.util import ClassNotFound

FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)
HIGHLIGHT_CLASS_RE = re.compile(r"^(?:[a-z][a-z0-9]{0,3}|highlight|language-[\w+#.-]{1,40})$")
SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
MAX_HIGHLIGHT_BYTES = 512 * 1024
TAGS = nh3.ALLOWED_TAGS - {"area", "map"}
ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"alt", "height", "src", "width", "title"},
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "div": {"class"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
}


@dataclass(frozen=True)
class CardFields:
    """The front matter fields a side panel shows and search filters by."""

    license: str = ""
    library: str = ""
    task: str = ""
    tags: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    base_models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Card:
    metadata: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    error: str | None = None  # why the front matter was ignored, shown to the card's author

    @property
    def fields(self) -> CardFields:
        return card_fields(self.metadata)


def parse_card(text: str) -> Card:
    """Split README.md into its YAML front matter (a mapping, or nothing) and the Markdown."""
    match = FRONT_MATTER_RE.match(text)
    if match is None:
        return Card({}, text)
    body = text[match.end() :]
    try:
        meta = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as exc:
        return Card({}, body, f"the YAML front matter could not be read: {exc}")
    if not isinstance(meta, dict):
        return Card({}, body, "the YAML front matter is not a mapping of keys to values")
    return Card({str(k): v for k, v in meta.items()}, body)


def _strings(value: Any, limit: int = 50) -> tuple[str, ...]:
    """A scalar or a list of scalars as short strings; nested structures are skipped."""
    items = value if isinstance(value, list) else [value]
    out = [str(v).strip()[:100] for v in items if isinstance(v, str | int | float) and str(v)]
    return tuple(dict.fromkeys(v for v in out if v))[:limit]


def _first(value: Any) -> str:
    found = _strings(value, 1)
    return found[0] if found else ""


def _metric_names(meta: dict[str, Any]) -> tuple[str, ...]:
    """`metrics:` as the Hub's card spec lists them, plus names used in `model-index`."""
    names = list(_strings(meta.get("metrics")))
    for entry in meta.get("model-index") or [] if isinstance(meta.get("model-index"), list) else []:
        for result in entry.get("results") or [] if isinstance(entry, dict) else []:
            for metric in result.get("metrics") or [] if isinstance(result, dict) else []:
                if isinstance(metric, dict):
                    names.extend(_strings(metric.get("type") or metric.get("name")))
    return tuple(dict.fromkeys(names))[:50]


def card_fields(meta: dict[str, Any]) -> CardFields:
    return CardFields(
        license=_first(meta.get("license")),
        library=_first(meta.get("library_name")),
        task=_first(meta.get("pipeline_tag") or meta.get("task_categories")),
        tags=_strings(meta.get("tags")),
        datasets=_strings(meta.get("datasets")),
        metrics=_metric_names(meta),
        languages=_strings(meta.get("language")),
        base_models=_strings(meta.get("base_model")),
    )


# --- Markdown ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    """Where relative links in a Markdown file point: pages for links, bytes for images.

    `page_base` and `file_base` end with `/` (e.g. `/alice/bert/blob/main/` and
    `/alice/bert/resolve/main/`); `directory` is the Markdown file's folder in the repo.
    """

    page_base: str
    file_base: str
    directory: str = ""


def _rebase(url: str, base: str, directory: str) -> str:
    """A repo-relative URL under `base`; absolute URLs, `/paths` and `#anchors` stay."""
    if not url or url.startswith(("#", "/", "?")) or SCHEME_RE.match(url):
        return url
    path, sep, rest = url.partition("#")
    path, qsep, query = path.partition("?")
    joined = posixpath.normpath(posixpath.join("/", directory, path)).lstrip("/")
    target = base + quote(joined, safe="/")
    return target + (qsep + query if qsep else "") + (sep + rest if sep else "")


def _highlight_fence(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang.strip().split()[0]) if lang.strip() else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return f'<pre class="highlight"><code>{html.escape(code)}</code></pre>'
    spans = highlight(code, lexer, HtmlFormatter(nowrap=True))
    return f'<pre class="highlight"><code>{spans}</code></pre>'


_markdown = (
    MarkdownIt("commonmark", {"html": True, "highlight": _highlight_fence})
    .enable("table")
    .enable("strikethrough")
)


def render_markdown(text: str, links: Links) -> str:
    """Markdown to HTML that cannot run: rendered, then sanitised by an allow-list."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "class":
            kept = [c for c in value.split() if HIGHLIGHT_CLASS_RE.match(c)]
            return " ".join(kept) or None
        if tag == "a" and attribute == "href":
            return _rebase(value, links.page_base, links.directory)
        if tag == "img" and attribute == "src":
            return _rebase(value, links.file_base, links.directory)
        return value

    return nh3.clean(
        _markdown.render(text),
        tags=TAGS,
        clean_content_tags={"script", "style"},
        attributes=ATTRIBUTES,
        attribute_filter=attribute_filter,
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(markdown: str, limit: int = 65536) -> str:
    """The words of a Markdown text, for the search index (markup and HTML tags dropped)."""
    words: list[str] = []
    size = 0
    for token in _markdown.parse(markdown[: limit * 2]):
        for child in token.children or [token]:
            if child.type in ("text", "code_inline", "code_block", "fence"):
                words.append(child.content)
                size += len(child.content) + 1
        if size > limit:
            break
    return " ".join(" ".join(words).split())[:limit]


def summary(markdown: str, limit: int = 300) -> str:
    """The first paragraph of prose (not a heading), for search result snippets."""
    tokens = _markdown.parse(markdown[:20000])
    for i, token in enumerate(tokens):
        if token.type == "paragraph_open" and i + 1 < len(tokens):
            children = tokens[i + 1].children or []
            text = " ".join(
                " ".join(c.content for c in children if c.type in ("text", "code_inline")).split()
            )
            if len(text) > 20:
                return text[:limit]
    return ""


# --- code ----------------------------------------------------------------------------------


def highlight_file(text: str, filename: str) -> str:
    """A text file as a Pygments table with line numbers and `#L<n>` anchors.

    Files above MAX_HIGHLIGHT_BYTES are escaped but not lexed: lexing is slow and a
    megabyte of JSON gains little from colour.
    """
    formatter = HtmlFormatter(
        linenos="table", lineanchors="L", anchorlinenos=True, cssclass="highlight", wrapcode=True
    )
    lexer = None
    if len(text) <= MAX_HIGHLIGHT_BYTES:
        try:
            lexer = get_lexer_for_filename(filename, text, stripnl=False)
        except ClassNotFound:
            lexer = None
    if lexer is None:
        lexer = get_lexer_by_name("text", stripnl=False)
    return highlight(text, lexer, formatter)
