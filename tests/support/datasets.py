"""Small image datasets written as files, the way a user would push them.

`digits` is scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download) as PNGs
in the ImageFolder layout; `shapes` draws circles and squares with their class masks for
segmentation. Both are deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def digits(root: Path, *, test_fraction: float = 0.25, seed: int = 0) -> dict[str, int]:
    """`train/<digit>/<n>.png` and `test/<digit>/<n>.png`; returns the image count per split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.images))
    cut = int(len(order) * (1 - test_fraction))
    counts = {"train": 0, "test": 0}
    for position, index in enumerate(order):
        split = "train" if position < cut else "test"
        pixels = (data.images[index] * (255 / 16)).clip(0, 255).astype(np.uint8)
        folder = root / split / str(data.target[index])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, mode="L").save(folder / f"{index:04d}.png", optimize=True)
        counts[split] += 1
    return counts


def shapes(root: Path, count: int = 240, *, size: int = 32, seed: int = 0) -> None:
    """`images/<n>.png` (noisy RGB) and `masks/<n>.png` (0 background, 1 circle, 2 square)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for n in range(count):
        background = rng.integers(0, 80, size=3)
        image = Image.new("RGB", (size, size), tuple(int(c) for c in background))
        mask = Image.new("L", (size, size), 0)
        for kind in rng.permutation([1, 2])[: rng.integers(1, 3)]:
            _draw(ImageDraw.Draw(image), ImageDraw.Draw(mask), int(kind), rng, size)
        pixels = np.asarray(image, dtype=np.int16) + rng.integers(-20, 21, size=(size, size, 3))
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(root / "images" / f"{n:04d}.png")
        mask.save(root / "masks" / f"{n:04d}.png")


def _draw(
    image: ImageDraw.ImageDraw,
    mask: ImageDraw.ImageDraw,
    kind: int,
    rng: np.random.Generator,
    size: int,
) -> None:
    side = int(rng.integers(size // 4, size // 2))
    x, y = (int(v) for v in rng.integers(0, size - side, size=2))
    colour = tuple(int(c) for c in rng.integers(120, 256, size=3))
    box = (x, y, x + side, y + side)
    if kind == 1:
        image.ellipse(box, fill=colour)
        mask.ellipse(box, fill=1)
    else:
        image.rectangle(box, fill=colour)
        mask.rectangle(box, fill=2)
