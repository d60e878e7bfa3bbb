"""Images and labels as tensors: decoding, splits, normalisation, augmentation, batches.

Images are decoded once at the spec's size and kept as uint8 tensors when they fit the
memory budget, so epochs cost the model's time and not PIL's; larger sets are decoded per
batch. Augmentations run per sample (each image draws its own flip or crop) and move a
segmentation mask with its image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from repohub.train.layout import Sample

PRELOAD_BUDGET = 2 * 1024**3


def decode_image(path: Path, size: int) -> torch.Tensor:
    with Image.open(path) as img:
        rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        return (
            torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
            .view(size, size, 3)
            .permute(2, 0, 1)
            .contiguous()
        )


def decode_mask(path: Path, size: int) -> torch.Tensor:
    """Class indices per pixel: a grayscale (or palette) PNG whose values are the classes."""
    with Image.open(path) as img:
        plane = img if img.mode in ("L", "P") else img.convert("L")
        plane = plane.resize((size, size), Image.Resampling.NEAREST)
        return torch.frombuffer(bytearray(plane.tobytes()), dtype=torch.uint8).view(size, size)


@dataclass
class ImageSet:
    """Samples of one dataset at one image size; `targets` are labels or masks."""

    root: Path
    samples: tuple[Sample, ...]
    size: int
    segmentation: bool
    _images: torch.Tensor | None = None
    _targets: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def preload(self) -> None:
        if len(self) * 3 * self.size * self.size <= PRELOAD_BUDGET:
            self._images, self._targets = self._decode(range(len(self)))

    def get(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if self._images is not None and self._targets is not None:
            index = torch.tensor(indices, dtype=torch.long)
            return self._images[index], self._targets[index]
        return self._decode(indices)

    def _decode(self, indices: range | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        chosen = [self.samples[i] for i in indices]
        images = torch.stack([decode_image(self.root / s.image, self.size) for s in chosen])
        if self.segmentation:
            masks = [decode_mask(self.root / str(s.mask), self.size) for s in chosen]
            return images, torch.stack(masks).long()
        return images, torch.tensor([s.label for s in chosen], dtype=torch.long)

    def num_mask_classes(self) -> int:
        """Segmentation classes: the largest value found in any mask, plus one (at least 2)."""
        top = 0
        for start in range(0, len(self), 256):
            _, masks = self.get(list(range(start, min(start + 256, len(self)))))
            top = max(top, int(masks.max()))
        return max(top + 1, 2)


def split_indices(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(kept, held out): a seeded shuffle, so a spec and a dataset always split the same way."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    held = round(n * fraction)
    if fraction > 0:
        held = min(max(held, 1), n - 1)
    return sorted(order[held:]), sorted(order[:held])


@dataclass(frozen=True)
class Normalizer:
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def identity(cls) -> Normalizer:
        return cls((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

    @classmethod
    def fit(cls, images: ImageSet, indices: list[int]) -> Normalizer:
        """Per-channel mean and std of the training images (never of val or test)."""
        total = torch.zeros(3, dtype=torch.float64)
        squares = torch.zeros(3, dtype=torch.float64)
        count = 0
        for start in range(0, len(indices), 512):
            x, _ = images.get(indices[start : start + 512])
            x = x.to(torch.float64) / 255
            total += x.sum(dim=(0, 2, 3))
            squares += (x * x).sum(dim=(0, 2, 3))
            count += x.shape[0] * x.shape[2] * x.shape[3]
        mean = total / count
        std = (squares / count - mean * mean).clamp_min(1e-12).sqrt().clamp_min(1e-3)
        return cls(_triple(mean), _triple(std))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, 3, 1, 1)
        return (images.float() / 255 - mean) / std


def _triple(values: torch.Tensor) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return a, b, c


def augmenter(names: tuple[str, ...], size: int) -> v2.Transform | None:
    """`flip`: horizontal flips; `color`: brightness/contrast/saturation jitter; `scale`:
    random resized crops (70-100% of the area); `random`: random crops from a padded image."""
    steps: list[v2.Transform] = []
    if "scale" in names:
        steps.append(v2.RandomResizedCrop(size, scale=(0.7, 1.0), antialias=True))
    if "random" in names:
        steps.append(v2.RandomCrop(size, padding=max(1, size // 8)))
    if "flip" in names:
        steps.append(v2.RandomHorizontalFlip())
    if "color" in names:
        steps.append(v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3))
    return v2.Compose(steps) if steps else None


def augment(
    transform: v2.Transform, images: torch.Tensor, targets: torch.Tensor, segmentation: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    out_images, out_targets = [], []
    for image, target in zip(images, targets, strict=True):
        if segmentation:
            img, mask = transform(tv_tensors.Image(image), tv_tensors.Mask(target))
            out_images.append(img.as_subclass(torch.Tensor))
            out_targets.append(mask.as_subclass(torch.Tensor))
        else:
            out_images.append(transform(tv_tensors.Image(image)).as_subclass(torch.Tensor))
            out_targets.append(target)
    return torch.stack(out_images), torch.stack(out_targets)


def batches(
    images: ImageSet,
    indices: list[int],
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    transform: v2.Transform | None = None,
) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """(indices, uint8 images, targets) per batch; shuffled when a generator is given."""
    order = indices
    if generator is not None:
        perm = torch.randperm(len(indices), generator=generator).tolist()
        order = [indices[i] for i in perm]
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        x, y = images.get(chosen)
        if transform is not None:
            x, y = augment(transform, x, y, images.segmentation)
        yield chosen, x, y
