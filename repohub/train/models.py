"""The model zoo: built-ins and torchvision architectures, always without downloaded weights.

Pretrained weights would need the internet, which workers never use; fine-tuning starts from
weights stored in RepoHub instead (`train.init`), loaded by `repohub.train.weights`.
"""

from __future__ import annotations

from torch import nn
from torchvision import models as zoo

from repohub.train.nets import SmallCNN, UNet


def build_model(name: str, num_classes: int) -> nn.Module:
    if name == "smallcnn":
        return SmallCNN(num_classes)
    if name == "unet":
        return UNet(num_classes)
    return zoo.get_model(name, weights=None, num_classes=num_classes)
