"""Dataset layouts found from paths: ImageFolder and images/ + masks/."""

from __future__ import annotations

from pathlib import Path

import pytest

from repohub.train.layout import DatasetError, find_layout

PNG = b"\x89PNG not decoded here"


def _files(root: Path, *paths: str) -> Path:
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(PNG)
    return root


def test_image_folder(tmp_path: Path) -> None:
    root = _files(
        tmp_path, "train/cat/1.png", "train/cat/2.jpg", "train/dog/1.png", "test/dog/9.png"
    )
    layout = find_layout(root, "image-classification", "train.dataset")
    assert layout.classes == ("cat", "dog")
    assert [(s.image, s.label) for s in layout.train] == [
        ("train/cat/1.png", 0),
        ("train/cat/2.jpg", 0),
        ("train/dog/1.png", 1),
    ]
    assert [(s.image, s.label) for s in layout.test] == [("test/dog/9.png", 1)]


@pytest.mark.parametrize(
    ("paths", "words"),
    [
        (("images/1.png",), "no train/ directory"),
        (("train/cat/1.png",), "at least two class folders"),
        (("train/cat/1.png", "train/dog/readme.txt"), "train/dog/ holds no images"),
        (("train/cat/1.png", "train/dog/1.png", "test/bird/1.png"), "classes train/ lacks: bird"),
    ],
)
def test_image_folder_errors_name_the_field(
    tmp_path: Path, paths: tuple[str, ...], words: str
) -> None:
    with pytest.raises(DatasetError, match=rf"^eval\.dataset: .*{words}"):
        find_layout(_files(tmp_path, *paths), "image-classification", "eval.dataset")


def test_segmentation_pairs_images_and_masks(tmp_path: Path) -> None:
    root = _files(tmp_path, "images/a.jpg", "images/b.png", "masks/a.png", "masks/b.png")
    layout = find_layout(root, "image-segmentation", "train.dataset")
    assert [(s.image, s.mask) for s in layout.train] == [
        ("images/a.jpg", "masks/a.png"),
        ("images/b.png", "masks/b.png"),
    ]
    assert layout.test_from_train
    split = _files(
        tmp_path / "split",
        "train/images/a.png",
        "train/masks/a.png",
        "test/images/t.png",
        "test/masks/t.png",
    )
    layout = find_layout(split, "image-segmentation", "train.dataset")
    assert len(layout.train) == len(layout.test) == 1 and not layout.test_from_train


def test_an_image_without_a_mask_is_refused(tmp_path: Path) -> None:
    root = _files(tmp_path, "images/a.png", "images/b.png", "masks/a.png")
    with pytest.raises(DatasetError, match=r"images/b\.png has no mask"):
        find_layout(root, "image-segmentation", "train.dataset")
