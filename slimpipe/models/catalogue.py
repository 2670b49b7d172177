"""The built-in architectures: each entry's metadata and the `module:function` path of its builder.

Standard library only (with the registry): the report pod reads titles and the CLI checks options without
importing paddle or any model module; `build_model` imports the builder's module on first build. An
architecture added here needs its module under slimpipe/models/ defining the builder named in its entry.
"""
from __future__ import annotations

from slimpipe.models.registry import ArchSpec, register

REFERENCE_ANCHORS = "10x13/16x30/33x23/30x61/62x45/59x119/116x90/156x198/373x326"  # w x h, pixels at 608x608

register(ArchSpec(
    name="fast_scnn",
    title="Fast-SCNN",
    task="segmentation",
    builder="slimpipe.models.fast_scnn:FastSCNN",
    input_size=(128, 128),
    options={"scale": 1.0},
    help="Fast-SCNN (PaddleSeg layout); option scale multiplies every channel count",
))

register(ArchSpec(
    name="mobilenetv2",
    title="MobileNetV2",
    task="classification",
    builder="slimpipe.models.mobilenetv2:build_mobilenetv2",
    input_size=(224, 224),
    options={"scale": 1.0},
    help="MobileNetV2 (paddle.vision); option scale = width multiplier",
))

register(ArchSpec(
    name="unet",
    title="UNet",
    task="segmentation",
    builder="slimpipe.models.unet:UNet",
    input_size=(96, 96),
    options={"width": 64},
    help="UNet (PaddleSeg layout); option width = channels of the first stage (64 in the reference)",
))

register(ArchSpec(
    name="yolov3_mobilenet_v1",
    title="YOLOv3-MobileNetV1",
    task="detection",
    builder="slimpipe.models.yolov3:YOLOv3",
    input_size=(608, 608),
    options={"scale": 1.0, "neck_width": 1.0, "anchors": REFERENCE_ANCHORS, "anchor_size": 608,
             "prune_backbone": False},
    help="YOLOv3 on MobileNetV1 (PaddleDetection layout); options: scale (backbone width), neck_width, "
         "anchors (9 WxH pairs joined by / in pixels at anchor_size, rescaled to the input size), prune_backbone",
))
