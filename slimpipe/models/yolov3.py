"""YOLOv3 with a MobileNetV1 backbone, in PaddleDetection's layout (YOLOv3FPN neck, three detection levels
at strides 32, 16 and 8, nine anchors).

Training mode returns the raw head maps with what the loss needs (`yolo_loss` per level); eval mode
decodes boxes with `yolo_box` in the original image's coordinates (im_shape / scale_factor, as
PaddleDetection does) and suppresses duplicates with `matrix_nms`, returning (boxes [K, 6] as
label, score, x1, y1, x2, y2; boxes per image [N]). As in PaddleDetection's pruning configs, only the
detection blocks of the neck are prunable unless `prune_backbone` is set. Defined at module level for
paddle.jit.save (see unet.py).
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from slimpipe.models.catalogue import REFERENCE_ANCHORS  # the entry's default, written once

ANCHOR_MASKS = [[6, 7, 8], [3, 4, 5], [0, 1, 2]]  # largest anchors on the coarsest level
STRIDES = [32, 16, 8]


def parse_anchors(text: str) -> list[list[float]]:
    """`10x13/16x30/...` -> nine [w, h] pairs; errors name the text."""
    from slimpipe.errors import fail

    try:
        pairs = [[float(v) for v in item.lower().split("x")] for item in text.split("/")]
    except ValueError:
        pairs = []
    if len(pairs) != 9 or any(len(p) != 2 or not all(0 < v < float("inf") for v in p) for p in pairs):
        raise fail(f"anchors {text!r}: expected nine positive WxH pairs separated by '/', e.g. {REFERENCE_ANCHORS}")
    return pairs


def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: str = "relu") -> nn.Sequential:
    activation = nn.ReLU() if act == "relu" else nn.LeakyReLU(0.1)
    return nn.Sequential(nn.Conv2D(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias_attr=False),
                         nn.BatchNorm2D(cout), activation)


class MobileNetV1(nn.Layer):
    """Depthwise-separable backbone; returns the feature maps at strides 8, 16 and 32."""

    def __init__(self, scale: float = 1.0):
        super().__init__()

        def c(n: int) -> int:
            return max(8, int(n * scale))

        plan = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2),
                *[(512, 512, 1)] * 5, (512, 1024, 2), (1024, 1024, 1)]
        self.stem = conv_bn(3, c(32), 3, stride=2)
        self.blocks = nn.LayerList([nn.Sequential(conv_bn(c(i), c(i), 3, s, groups=c(i)), conv_bn(c(i), c(o), 1))
                                    for i, o, s in plan])
        self.taps = {4: 0, 10: 1, 12: 2}  # block index -> output level (strides 8, 16, 32)
        self.channels = [c(256), c(512), c(1024)]

    def forward(self, x):
        x = self.stem(x)
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                feats.append(x)
        return feats


class DetBlock(nn.Layer):
    """Five alternating 1x1/3x3 convs to the route, then a 3x3 conv to the tip that feeds the output."""

    def __init__(self, cin: int, ch: int):
        super().__init__()
        self.convs = nn.Sequential(conv_bn(cin, ch, 1, act="leaky"), conv_bn(ch, ch * 2, 3, act="leaky"),
                                   conv_bn(ch * 2, ch, 1, act="leaky"), conv_bn(ch, ch * 2, 3, act="leaky"),
                                   conv_bn(ch * 2, ch, 1, act="leaky"))
        self.tip = conv_bn(ch, ch * 2, 3, act="leaky")

    def forward(self, x):
        route = self.convs(x)
        return route, self.tip(route)


class Neck(nn.Layer):
    """YOLOv3FPN: detection blocks from coarse to fine, each route upsampled into the next level."""

    def __init__(self, in_channels: list[int], width: float):
        super().__init__()
        chs = [max(8, int(n * width)) for n in (512, 256, 128)]
        self.blocks, self.transitions = nn.LayerList(), nn.LayerList()
        route = 0
        for level, ch in enumerate(chs):
            self.blocks.append(DetBlock(in_channels[2 - level] + route, ch))
            if level < 2:
                self.transitions.append(conv_bn(ch, ch // 2, 1, act="leaky"))
                route = ch // 2
        self.out_channels = [ch * 2 for ch in chs]

    def forward(self, feats):
        tips, x = [], None
        for level, block in enumerate(self.blocks):
            feat = feats[2 - level]
            if x is not None:
                feat = paddle.concat([x, feat], axis=1)
            route, tip = block(feat)
            tips.append(tip)
            if level < 2:
                x = F.interpolate(self.transitions[level](route), scale_factor=2, mode="nearest")
        return tips


class YOLOv3(nn.Layer):
    def __init__(self, num_classes: int, scale: float = 1.0, neck_width: float = 1.0,
                 anchors: str = REFERENCE_ANCHORS, anchor_size: int = 608, prune_backbone: bool = False,
                 conf_thresh: float = 0.01, nms_top_k: int = 1000, keep_top_k: int = 100):
        super().__init__()
        self.anchors = parse_anchors(anchors)
        self.anchor_size = anchor_size
        self.num_classes = num_classes
        self.nms = {"conf_thresh": conf_thresh, "nms_top_k": nms_top_k, "keep_top_k": keep_top_k}
        self.backbone = MobileNetV1(scale)
        self.neck = Neck(self.backbone.channels, neck_width)
        self.outputs = nn.LayerList([self._head(c, num_classes) for c in self.neck.out_channels])
        self.prunable_prefixes = ("neck.blocks.", "backbone.") if prune_backbone else ("neck.blocks.",)

    @staticmethod
    def _head(channels: int, num_classes: int) -> nn.Conv2D:
        """Output conv with objectness and class logits starting at a prior of 0.01 (RetinaNet's init), so
        the many empty cells do not swamp the first updates of training from scratch."""
        bias = np.zeros((3, 5 + num_classes), np.float32)
        bias[:, 4:] = -np.log((1 - 0.01) / 0.01)
        init = paddle.ParamAttr(initializer=nn.initializer.Assign(bias.ravel()))
        return nn.Conv2D(channels, 3 * (5 + num_classes), 1, bias_attr=init)

    def anchors_for(self, input_height: int) -> list[int]:
        """The anchors in pixels of this input size (they are given for `anchor_size`)."""
        ratio = input_height / self.anchor_size
        return [max(1, int(round(v * ratio))) for pair in self.anchors for v in pair]

    def forward(self, image, im_shape=None, scale_factor=None):
        maps = [head(tip) for head, tip in zip(self.outputs, self.neck(self.backbone(image)))]
        anchors = self.anchors_for(image.shape[2])
        if self.training:
            return {"maps": maps, "anchors": anchors, "anchor_masks": ANCHOR_MASKS, "strides": STRIDES,
                    "num_classes": self.num_classes}
        if im_shape is None:  # PaddleSlim traces with the image alone
            return maps
        origin = paddle.cast(im_shape / scale_factor, "int32")
        boxes, scores = [], []
        for level, x in enumerate(maps):
            mask = [anchors[2 * i + j] for i in ANCHOR_MASKS[level] for j in (0, 1)]
            b, s = paddle.vision.ops.yolo_box(x, origin, mask, self.num_classes, self.nms["conf_thresh"],
                                              STRIDES[level], clip_bbox=True)
            boxes.append(b)
            scores.append(paddle.transpose(s, [0, 2, 1]))
        out, rois_num, _ = paddle.vision.ops.matrix_nms(
            paddle.concat(boxes, axis=1), paddle.concat(scores, axis=2), score_threshold=self.nms["conf_thresh"],
            post_threshold=self.nms["conf_thresh"], nms_top_k=self.nms["nms_top_k"],
            keep_top_k=self.nms["keep_top_k"], background_label=-1, normalized=False, return_rois_num=True)
        return out, rois_num
