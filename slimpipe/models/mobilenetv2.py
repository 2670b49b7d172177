"""MobileNetV2 from paddle.vision, with its width scale as an option."""
from __future__ import annotations


def build_mobilenetv2(num_classes: int, scale: float = 1.0):
    from paddle.vision.models import mobilenet_v2

    return mobilenet_v2(scale=scale, num_classes=num_classes)
