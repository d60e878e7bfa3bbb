"""The compare page's table shaping: overlaid curves, per-class order, confusion shades,
file pages, and the compare page rendered from a dict of the contract's shape."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from repohub.repos.service import RepoKey
from repohub.web import compare_view
from repohub.web.browse import Header
from repohub.web.routes.compare import split_spec
from repohub.web.templating import build_environment
from repohub.web.urls import RepoUrls

SHA_A, SHA_B = "a" * 40, "b" * 40


def test_curves_of_both_runs_share_one_table_per_metric_and_scope() -> None:
    curves = {
        "step": {
            "base": [{"step": 1, "epoch": 1, "loss": 2.0, "accuracy": 0.1, "lr": 0.1}],
            "head": [
                {"step": 1, "epoch": 1, "loss": 1.5, "accuracy": 0.3, "lr": 0.1},
                {"step": 4, "epoch": 2, "loss": 0.5, "accuracy": 0.9, "lr": 0.05},
            ],
        },
        "epoch": {"base": [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2}], "head": []},
    }
    tables = {t.id: t for t in compare_view.curve_tables(curves)}
    assert sorted(tables) == ["curve-epoch-loss", "curve-step-accuracy", "curve-step-loss"]
    loss = tables["curve-step-loss"]
    assert loss.columns == ["base loss", "head loss"] and loss.dashed == ["base loss"]
    assert loss.rows == [(1, [2.0, 1.5]), (4, [None, 0.5])]
    epoch = tables["curve-epoch-loss"]
    assert epoch.columns == ["base train_loss", "head train_loss", "base val_loss", "head val_loss"]
    assert epoch.rows == [(1, [1.0, None, 1.2, None])]


def test_per_class_rows_are_ordered_by_the_change_in_f1() -> None:
    rows = [
        {"name": n, "base": {"f1": b, "support": 9}, "head": {"f1": h}, "delta": {"f1": h - b}}
        for n, b, h in (("cat", 0.5, 0.4), ("dog", 0.5, 0.9), ("eel", 0.5, 0.5))
    ]
    table = compare_view.class_table(rows)
    assert table.primary == "f1" and table.fields == ["f1"]
    assert [r["name"] for r in table.rows] == ["dog", "eel", "cat"]


def test_confusion_difference_is_good_on_the_diagonal_and_bad_off_it() -> None:
    view = compare_view.confusion_view(
        {
            "labels": ["0", "1"],
            "base": [[8, 2], [0, 10]],
            "head": [[10, 0], [1, 9]],
            "difference": [[2, -2], [1, -1]],
        }
    )
    assert view is not None
    assert view.base[0] == [(8, 8), (2, 2)]
    assert view.difference == [[(2, "gain-4"), (-2, "gain-4")], [(1, "loss-2"), (-1, "loss-2")]]


def test_files_come_a_page_at_a_time() -> None:
    changed = [{"path": f"f{i}"} for i in range(250)]
    page = compare_view.files_page(changed, 3)
    assert (page.number, page.pages, page.total, page.first) == (3, 3, 250, 201)
    assert [f["path"] for f in page.files][:2] == ["f200", "f201"] and len(page.files) == 50
    assert compare_view.files_page(changed, 99).number == 3


def test_hunks_as_lines_or_groups() -> None:
    lines = compare_view.hunk_lines(
        [
            {"header": "@@ -1 +1 @@", "lines": [{"kind": "-", "old": 1, "new": None, "text": "a"}]},
            "+b",
        ]
    )
    assert [(line["kind"], line["text"]) for line in lines] == [
        ("@", "@@ -1 +1 @@"),
        ("-", "a"),
        ("+", "b"),
    ]


def test_specs_split_on_three_or_two_dots() -> None:
    assert split_spec("main...feat/x", "main") == ("main", "feat/x")
    assert split_spec("v1..bob:exp", "main") == ("v1", "bob:exp")
    assert split_spec("exp", "main") == ("main", "exp")


def sample(**changes: Any) -> dict[str, Any]:
    """A compare of the contract's shape (see repohub/compare/service.py)."""

    def side(spec: str, sha: str) -> dict[str, Any]:
        return {"spec": spec, "repo": "alice/net", "ref": f"refs/heads/{spec}", "sha": sha}

    data: dict[str, Any] = {
        "repo": "alice/net",
        "repo_type": "model",
        "base": side("main", SHA_A),
        "head": side("long", SHA_B),
        "merge_base": SHA_A,
        "ahead_by": 1,
        "behind_by": 0,
        "commits": [
            {"sha": SHA_B, "title": "ten epochs", "author": "alice", "date": "2026-11-23T10:00:00Z"}
        ],
        "reports": {"base": {"train": None, "eval": None}, "head": {"train": None, "eval": None}},
        "missing": [],
        "verdicts": [
            {
                "metric": "accuracy",
                "split": "test",
                "base": 0.5,
                "head": 0.9,
                "delta": 0.4,
                "better": "higher",
                "verdict": "better",
            },
            {
                "metric": "loss",
                "split": "test",
                "base": 0.3,
                "head": 0.6,
                "delta": 0.3,
                "better": "lower",
                "verdict": "worse",
            },
        ],
        "metrics": {
            "test": {
                "accuracy": {
                    "base": 0.5,
                    "head": 0.9,
                    "delta": 0.4,
                    "better": "higher",
                    "verdict": "better",
                }
            }
        },
        "dataset_mismatch": None,
        "curves": {
            "step": {
                "base": [{"step": 1, "epoch": 1, "loss": 2.0}],
                "head": [{"step": 1, "epoch": 1, "loss": 1.0}],
            },
            "epoch": {},
        },
        "per_class": [
            {"name": "0", "base": {"f1": 0.5}, "head": {"f1": 0.75}, "delta": {"f1": 0.25}}
        ],
        "confusion": {
            "labels": ["0", "1"],
            "base": [[1, 1], [0, 2]],
            "head": [[2, 0], [0, 2]],
            "difference": [[1, -1], [0, 0]],
        },
        "samples": {
            "comparable": True,
            "reason": None,
            "broken": [],
            "fixed": [
                {
                    "path": "test/1/0001.png",
                    "url": f"/datasets/bob/digits/resolve/{SHA_A}/test/1/0001.png",
                    "true": "1",
                    "base": {"predicted": "7", "confidence": 0.6},
                    "head": {"predicted": "1", "confidence": 0.8},
                }
            ],
        },
        "config": {
            "spec": {
                "base_text": "a: 1\n",
                "head_text": "a: 2\n",
                "diff": ["--- base", "+++ head", "@@ -1 +1 @@", "-a: 1", "+a: 2"],
                "changes": [{"key": "train.params.epochs", "base": 1, "head": 10}],
            },
            "card": {"changes": []},
        },
        "files": {
            "truncated": False,
            "changed": [
                {
                    "path": "repohub.yaml",
                    "status": "modified",
                    "kind": "text",
                    "old": {"size": 5, "oid": "1" * 40, "sha256": None},
                    "new": {"size": 5, "oid": "2" * 40, "sha256": None},
                    "hunks": [{"kind": "-", "old": 1, "new": None, "text": "a: 1"}],
                    "safetensors": None,
                },
                {
                    "path": "model.safetensors",
                    "status": "modified",
                    "kind": "lfs",
                    "old": {"size": 10, "oid": "c" * 64, "sha256": "c" * 64},
                    "new": {"size": 12, "oid": "d" * 64, "sha256": "d" * 64},
                    "hunks": [],
                    "safetensors": {
                        "added": [{"name": "fc.bias", "dtype": "F32", "shape": [10]}],
                        "removed": [],
                        "reshaped": [
                            {"name": "fc.weight", "old_shape": [10, 4], "new_shape": [10, 8]}
                        ],
                        "retyped": [],
                        "params_before": 40,
                        "params_after": 90,
                    },
                },
            ],
        },
        "ab": None,
    }
    data.update(changes)
    return data


def render(data: dict[str, Any], me: str | None = "alice") -> str:
    key = RepoKey("model", "alice", "net")
    header = Header(
        key,
        RepoUrls.of(key),
        False,
        "",
        "main",
        ["long", "main"],
        [],
        None,
        None,
        0,
        0,
        0,
        False,
        True,
        True,
        [],
        False,
    )
    page = SimpleNamespace(me=me, csrf="tok", state=SimpleNamespace(asset_version="1"))
    template = build_environment().get_template("compare.html")
    return template.render(
        page=page,
        header=header,
        tab="compare",
        c=data,
        spec_base="main",
        spec_head="long",
        self_url="/alice/net/compare/main...long",
        api_url="/api/models/alice/net/compare/main...long",
        can_start={"base": True, "head": False},
        curves=compare_view.curve_tables(data["curves"]),
        classes=compare_view.class_table(data["per_class"]),
        confusion=compare_view.confusion_view(data["confusion"]),
        files=compare_view.files_page(data["files"]["changed"], 1),
        hunk_lines=compare_view.hunk_lines,
        spec_line_class=compare_view.spec_line_class,
    )


def test_the_page_renders_every_section_as_tables() -> None:
    html = render(sample())
    assert re.search(r'data-metric="test_accuracy">.*?\+0\.4000.*?better', html, re.S)
    assert re.search(r'verdict-row worse" data-metric="test_loss"', html)
    assert 'data-series="base loss,head loss"' in html and 'data-dash="base loss"' in html
    assert html.count('class="confusion"') == 3 and ">+1<" in html
    assert "/samples.zip?set=fixed" in html and "test/1/0001.png" in html
    assert "train.params.epochs" in html and "fc.weight" in html and "[10, 4] → [10, 8]" in html
    assert "c" * 64 in html and "d" * 64 in html


def test_missing_reports_offer_to_start_the_job_where_the_viewer_may() -> None:
    missing = [
        {
            "side": "base",
            "kind": "eval",
            "job_state": None,
            "message": "base (main @ aaaaaaa) has no evaluation report yet",
        },
        {
            "side": "head",
            "kind": "eval",
            "job_state": None,
            "message": "head (long @ bbbbbbb) has no evaluation report yet",
        },
    ]
    html = render(sample(missing=missing, verdicts=[], metrics={}))
    assert "has no evaluation report yet" in html
    assert html.count('action="/alice/net/jobs"') == 1
    assert f'name="revision" value="{SHA_A}"' in html and 'name="csrf" value="tok"' in html
    assert "Log in</a> to start" in render(sample(missing=missing), me=None)


def test_a_dataset_mismatch_offers_an_ab_evaluation() -> None:
    mismatch = {
        "base": "bob/digits@" + SHA_A,
        "head": "bob/digits@" + SHA_B,
        "message": "different data",
    }
    html = render(sample(dataset_mismatch=mismatch))
    assert "different data" in html
    assert re.search(r'<form method="post" action="/alice/net/compare/main...long"', html)


def test_an_ab_evaluation_shows_its_statistics_or_its_job() -> None:
    result = {
        "n": 450,
        "base_accuracy": 0.9,
        "head_accuracy": 0.95,
        "difference": 0.05,
        "ci95": [0.02, 0.08],
        "both_right": 400,
        "base_only": 5,
        "head_only": 27,
        "both_wrong": 18,
        "mcnemar_p": 0.000123,
        "mcnemar_method": "exact",
    }
    done = {"job_id": 7, "state": "succeeded", "dataset": "bob/digits@" + SHA_A, "result": result}
    html = render(sample(ab=done))
    assert "+0.0500 [0.0200, 0.0800]" in html and "0.000123" in html and "McNemar p (exact)" in html
    running = render(sample(ab={**done, "state": "running", "result": None}))
    assert '<a href="/jobs/7">#7</a> is running' in running
