"""MobileNetV2 from paddle.vision, with its width scale as an option."""
from __future__ import annotations

from slimpipe.models.registry import ArchSpec, register


def build_mobilenetv2(num_classes: int, scale: float = 1.0):
    from paddle.vision.models import mobilenet_v2

    return mobilenet_v2(scale=scale, num_classes=num_classes)


register(ArchSpec(
    name="mobilenetv2",
    title="MobileNetV2",
    task="classification",
    builder=build_mobilenetv2,
    input_size=(224, 224),
    options={"scale": 1.0},
    help="MobileNetV2 (paddle.vision); option scale = width multiplier",
))
