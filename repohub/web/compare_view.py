"""The compare page's figures shaped for tables: pure functions over the compare dict.

`repohub.compare.service.build_compare` returns one JSON-able dict (the API answers it as it
is); the page needs the same numbers arranged for HTML tables that `charts.js` can also draw:
two runs' curves merged on one x column, per-class rows ordered by their change, confusion
cells with a heat class, and the changed files one page at a time so that a compare of
thousands of files renders as fast as one of ten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

FILES_PER_PAGE = 100
PRIMARY_CLASS_FIELDS = ("f1", "iou", "dice", "recall", "precision")
SIDES = ("base", "head")


@dataclass(frozen=True)
class CurveTable:
    """One overlaid chart: `rows` are (x, values...) in `columns` order, None where a run has
    no point at that x."""

    id: str
    title: str
    x: str
    columns: list[str]
    dashed: list[str]
    rows: list[tuple[Any, list[float | None]]]


def curve_tables(curves: dict[str, Any]) -> list[CurveTable]:
    """Loss and accuracy of both runs, per step and per epoch, one chart each."""
    tables = []
    for scope in ("step", "epoch"):
        runs = curves.get(scope) or {}
        points = {side: runs.get(side) or [] for side in SIDES}
        if not points["base"] and not points["head"]:
            continue
        names = _value_names(points, scope)
        for metric in ("loss", "accuracy"):
            wanted = [n for n in names if n == metric or n.endswith(f"_{metric}")]
            if wanted:
                tables.append(_merged(scope, metric, points, wanted))
    return tables


def _value_names(points: dict[str, list[dict[str, Any]]], scope: str) -> list[str]:
    names: list[str] = []
    for side in SIDES:
        for point in points[side][:1] + points[side][-1:]:
            names += [k for k, v in point.items() if k not in names and _is_number(v)]
    return [n for n in names if n not in ("step", "epoch", scope, "lr")]


def _merged(
    scope: str, metric: str, points: dict[str, list[dict[str, Any]]], names: list[str]
) -> CurveTable:
    columns = [f"{side} {name}" for name in names for side in SIDES]
    by_x: dict[Any, list[float | None]] = {}
    for side in SIDES:
        for point in points[side]:
            x = point.get(scope)
            if x is None:
                continue
            row = by_x.setdefault(x, [None] * len(columns))
            for name in names:
                value = point.get(name)
                if _is_number(value):
                    row[columns.index(f"{side} {name}")] = float(value)
    rows = sorted(by_x.items(), key=lambda item: item[0])
    title = f"{metric.capitalize()} per {scope}"
    dashed = [c for c in columns if c.startswith("base ")]
    return CurveTable(f"curve-{scope}-{metric}", title, scope, columns, dashed, rows)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ClassTable:
    fields: list[str]
    primary: str | None
    rows: list[dict[str, Any]]


def class_table(per_class: list[dict[str, Any]]) -> ClassTable:
    """Rows ordered by the change of the main per-class figure (F1, or IoU for segmentation),
    biggest gain first: the order a reader without JavaScript gets."""
    fields: list[str] = []
    for row in per_class:
        for side in ("base", "head", "delta"):
            fields += [
                k for k, v in (row.get(side) or {}).items() if k not in fields and _is_number(v)
            ]
    fields = [f for f in fields if f != "support"]
    primary = next((f for f in PRIMARY_CLASS_FIELDS if f in fields), fields[0] if fields else None)

    def change(row: dict[str, Any]) -> float:
        value = (row.get("delta") or {}).get(primary)
        return float(value) if _is_number(value) else -math.inf

    return ClassTable(fields, primary, sorted(per_class, key=change, reverse=True))


@dataclass(frozen=True)
class ConfusionView:
    labels: list[str]
    base: list[list[tuple[int, int]]]  # (count, heat 0..10 as a share of its row)
    head: list[list[tuple[int, int]]]
    difference: list[list[tuple[int, str]]]  # (head - base, CSS class)


def confusion_view(confusion: dict[str, Any] | None) -> ConfusionView | None:
    if not confusion:
        return None
    return ConfusionView(
        list(confusion.get("labels") or []),
        _shaded(confusion.get("base") or []),
        _shaded(confusion.get("head") or []),
        _signed(confusion.get("difference") or []),
    )


def _shaded(matrix: list[list[int]]) -> list[list[tuple[int, int]]]:
    rows = []
    for row in matrix:
        total = sum(row) or 1
        rows.append([(value, round(10 * value / total)) for value in row])
    return rows


def _signed(matrix: list[list[int]]) -> list[list[tuple[int, str]]]:
    """More on the diagonal (right answers) is good, more off it is bad; the shade grows with
    the size of the change against the largest one."""
    largest = max((abs(v) for row in matrix for v in row), default=0) or 1
    rows = []
    for r, row in enumerate(matrix):
        cells = []
        for c, value in enumerate(row):
            if value == 0:
                cells.append((value, "same"))
                continue
            good = (value > 0) == (r == c)
            cells.append(
                (value, f"{'gain' if good else 'loss'}-{math.ceil(4 * abs(value) / largest)}")
            )
        rows.append(cells)
    return rows


@dataclass(frozen=True)
class FilesPage:
    files: list[dict[str, Any]]
    number: int
    pages: int
    total: int
    first: int  # 1-based position of the first file shown


def files_page(changed: list[dict[str, Any]], number: int) -> FilesPage:
    pages = max(1, math.ceil(len(changed) / FILES_PER_PAGE))
    number = min(max(1, number), pages)
    start = (number - 1) * FILES_PER_PAGE
    return FilesPage(
        changed[start : start + FILES_PER_PAGE], number, pages, len(changed), start + 1
    )


def hunk_lines(hunks: list[Any]) -> list[dict[str, Any]]:
    """Diff lines as `repohub.web.history.DiffLine` fields ({kind, old, new, text}); hunks may
    come as such line dicts, or as groups of them under "lines"."""
    lines: list[dict[str, Any]] = []
    for hunk in hunks or []:
        if isinstance(hunk, dict) and isinstance(hunk.get("lines"), list):
            if hunk.get("header"):
                lines.append({"kind": "@", "old": None, "new": None, "text": hunk["header"]})
            lines += [_line(item) for item in hunk["lines"]]
        else:
            lines.append(_line(hunk))
    return lines


def _line(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return {
            "kind": item.get("kind", " "),
            "old": item.get("old"),
            "new": item.get("new"),
            "text": item.get("text", ""),
        }
    text = str(item)
    kind = "@" if text.startswith("@@") else text[:1] if text[:1] in "+- " else " "
    return {"kind": kind, "old": None, "new": None, "text": text[1:] if kind in "+- " else text}


def spec_line_class(line: str) -> str:
    """A unified-diff line of repohub.yaml as a row class of the diff table."""
    if line.startswith(("+++", "---")):
        return "file"
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
