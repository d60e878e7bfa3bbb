"""Model cards: front matter parsing, and Markdown that can never run."""

from __future__ import annotations

import pytest

from repohub.repos.cards import Links, card_fields, parse_card, plain_text, render_markdown, summary

LINKS = Links("/alice/bert/blob/main/", "/alice/bert/resolve/main/", "docs")


def test_front_matter_is_split_from_the_body() -> None:
    card = parse_card("---\nlicense: mit\ntags:\n- a\n- b\n---\n# Title\n")
    assert card.metadata == {"license": "mit", "tags": ["a", "b"]}
    assert card.body == "# Title\n" and card.error is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("# no front matter\n", None),
        ("---\nlicense: [unclosed\n---\nbody", "could not be read"),
        ("---\n- just\n- a list\n---\nbody", "not a mapping"),
        ("---\n---\nbody", None),
    ],
)
def test_odd_front_matter_never_fails_the_page(text: str, error: str | None) -> None:
    card = parse_card(text)
    assert card.metadata == {}
    assert (card.error is None) if error is None else (error in (card.error or ""))


def test_fields_take_the_hub_card_keys() -> None:
    meta = {
        "license": "apache-2.0",
        "library_name": "transformers",
        "pipeline_tag": "fill-mask",
        "tags": "single",
        "datasets": ["wiki", {"nested": "ignored"}],
        "language": ["en", "fr"],
        "model-index": [{"results": [{"metrics": [{"type": "f1"}, {"name": "bleu"}]}]}],
        "metrics": ["accuracy"],
    }
    fields = card_fields(meta)
    assert (fields.license, fields.library, fields.task) == (
        "apache-2.0",
        "transformers",
        "fill-mask",
    )
    assert fields.tags == ("single",) and fields.datasets == ("wiki",)
    assert fields.languages == ("en", "fr") and fields.metrics == ("accuracy", "f1", "bleu")


@pytest.mark.parametrize(
    "evil",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        '<iframe src="https://evil.example"></iframe>',
        '<div style="position:fixed">x</div>',
        "<svg onload=alert(1)>",
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        "<style>body{display:none}</style>",
        '<form action="/settings/tokens"><button>x</button></form>',
    ],
)
def test_markdown_never_yields_live_html(evil: str) -> None:
    html = render_markdown(f"hello {evil}", LINKS).lower()
    for needle in (
        "<script",
        "onerror=",
        "onload=",
        'href="javascript',
        "<iframe",
        "style=",
        "<style",
        "<form",
        'href="data:',
    ):
        assert needle not in html, (evil, html)


def test_relative_links_point_into_the_repo() -> None:
    html = render_markdown(
        "[a](guide.md) [b](../top.md#x) [c](/abs) [d](https://x.org) ![i](img/p.png)", LINKS
    )
    assert 'href="/alice/bert/blob/main/docs/guide.md"' in html
    assert 'href="/alice/bert/blob/main/top.md#x"' in html
    assert 'href="/abs"' in html and 'href="https://x.org"' in html
    assert 'src="/alice/bert/resolve/main/docs/img/p.png"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    escaped = render_markdown("[a](../../../../etc/passwd)", LINKS)
    assert 'href="/alice/bert/blob/main/etc/passwd"' in escaped


def test_code_is_highlighted_with_classes_only() -> None:
    html = render_markdown("```python\nimport os\n```\n", LINKS)
    assert '<span class="kn">import</span>' in html and "style" not in html
    forged = render_markdown('<span class="button primary evil-class">x</span>', LINKS)
    assert "evil-class" not in forged and "primary" not in forged


def test_plain_text_and_summary_for_search() -> None:
    body = "# Title\n\n![badge](b.svg)\n\nA **bold** claim about `code` models.\n\n<b>x</b>"
    assert summary(body) == "A bold claim about code models."
    assert "bold claim" in plain_text(body) and "<b>" not in plain_text(body)
