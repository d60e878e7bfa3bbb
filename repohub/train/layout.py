"""What a materialised dataset directory holds: classes and splits, found from paths alone.

Classification uses the ImageFolder layout (`train/<class>/*.png`, optional `test/<class>/`);
segmentation uses `images/` + `masks/` with matching file names (optionally under `train/` and
`test/`). Pure Python, so a malformed dataset is reported before torch loads anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from repohub.errors import Unprocessable

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class DatasetError(Unprocessable):
    """The dataset repo's files do not form the layout the task needs."""


@dataclass(frozen=True)
class Sample:
    """One example: an image path (relative to the dataset root) and its label or mask path."""

    image: str
    label: int = -1
    mask: str | None = None


@dataclass(frozen=True)
class Layout:
    task: str
    classes: tuple[str, ...]  # classification: folder names; segmentation: filled in on load
    train: tuple[Sample, ...]
    test: tuple[Sample, ...]
    test_from_train: bool = False  # segmentation without a test/ split: hold part of train out


def find_layout(root: Path, task: str, where: str) -> Layout:
    """The layout of `root` for `task`; `where` names the spec field in error messages."""
    if task == "image-segmentation":
        return _segmentation(root, where)
    return _classification(root, where)


def _images(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _classification(root: Path, where: str) -> Layout:
    train_dir = root / "train"
    if not train_dir.is_dir():
        raise DatasetError(f"{where}: no train/ directory (expected train/<class>/<image>)")
    classes = tuple(sorted(d.name for d in train_dir.iterdir() if d.is_dir()))
    if len(classes) < 2:
        raise DatasetError(
            f"{where}: train/ needs at least two class folders, found {len(classes)}"
        )
    index = {name: i for i, name in enumerate(classes)}
    train = _labelled(root, train_dir, index)
    test: list[Sample] = []
    test_dir = root / "test"
    if test_dir.is_dir():
        unknown = sorted(d.name for d in test_dir.iterdir() if d.is_dir() and d.name not in index)
        if unknown:
            raise DatasetError(f"{where}: test/ has classes train/ lacks: {', '.join(unknown[:5])}")
        test = _labelled(root, test_dir, index)
    empty = [c for c in classes if not any(s.label == index[c] for s in train)]
    if empty:
        raise DatasetError(f"{where}: train/{empty[0]}/ holds no images")
    return Layout("image-classification", classes, tuple(train), tuple(test))


def _labelled(root: Path, split: Path, index: dict[str, int]) -> list[Sample]:
    samples = []
    for name, label in index.items():
        folder = split / name
        if folder.is_dir():
            samples += [Sample(str(p.relative_to(root)), label) for p in _images(folder)]
    return samples


def _segmentation(root: Path, where: str) -> Layout:
    if (root / "train" / "images").is_dir():
        train = _pairs(root, root / "train", where)
        has_test = (root / "test" / "images").is_dir()
        test = _pairs(root, root / "test", where) if has_test else []
        return Layout("image-segmentation", (), tuple(train), tuple(test), not has_test)
    if not (root / "images").is_dir():
        raise DatasetError(f"{where}: no images/ and masks/ directories (or train/images/...)")
    return Layout("image-segmentation", (), tuple(_pairs(root, root, where)), (), True)


def _pairs(root: Path, base: Path, where: str) -> list[Sample]:
    images, masks = base / "images", base / "masks"
    if not masks.is_dir():
        raise DatasetError(f"{where}: {base.relative_to(root) / 'images'} has no masks/ beside it")
    by_stem = {p.relative_to(masks).with_suffix("").as_posix(): p for p in _images(masks)}
    samples = []
    for image in _images(images):
        stem = image.relative_to(images).with_suffix("").as_posix()
        mask = by_stem.get(stem)
        if mask is None:
            raise DatasetError(f"{where}: {image.relative_to(root)} has no mask in masks/")
        samples.append(Sample(str(image.relative_to(root)), mask=str(mask.relative_to(root))))
    if not samples:
        raise DatasetError(f"{where}: {images.relative_to(root)} holds no images")
    return samples
