"""Fast-SCNN (Poudel et al. 2019) in PaddleSeg's layout: learning-to-downsample (stride 8), a global
feature extractor of inverted bottlenecks with pyramid pooling (stride 32), feature fusion by addition,
and a separable-conv classifier. Option `scale` multiplies every channel count; input sides must be
multiples of 32. Defined at module level for paddle.jit.save (see unet.py)."""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2D(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias_attr=False),
              nn.BatchNorm2D(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


def separable(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1, each with BN and ReLU."""
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout))


class Bottleneck(nn.Layer):
    """MobileNetV2 inverted residual: expand (1x1), depthwise (3x3), project (1x1, linear)."""

    def __init__(self, cin: int, cout: int, expansion: int = 6, stride: int = 1):
        super().__init__()
        mid = cin * expansion
        self.block = nn.Sequential(conv_bn(cin, mid), conv_bn(mid, mid, 3, stride, groups=mid),
                                   conv_bn(mid, cout, relu=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class PyramidPooling(nn.Layer):
    """Average-pool to each bin size, 1x1 conv, upsample back, concatenate with the input, fuse."""

    def __init__(self, channels: int, bins: tuple[int, ...] = (1, 2, 3, 6)):
        super().__init__()
        self.bins = bins
        quarter = max(1, channels // 4)
        self.stages = nn.LayerList([conv_bn(channels, quarter) for _ in bins])
        self.fuse = conv_bn(channels + quarter * len(bins), channels)

    def forward(self, x):
        size = x.shape[2:]
        pooled = [F.interpolate(stage(F.adaptive_avg_pool2d(x, b)), size=size, mode="bilinear",
                                align_corners=True) for b, stage in zip(self.bins, self.stages)]
        return self.fuse(paddle.concat([x] + pooled, axis=1))


class FastSCNN(nn.Layer):
    def __init__(self, num_classes: int, scale: float = 1.0):
        super().__init__()
        c = [max(4, int(round(v * scale))) for v in (32, 48, 64, 96, 128)]
        self.downsample = nn.Sequential(conv_bn(3, c[0], 3, 2), separable(c[0], c[1], 2), separable(c[1], c[2], 2))
        stages = [(c[2], c[2], 2), (c[2], c[3], 2), (c[3], c[4], 1)]
        blocks = []
        for cin, cout, stride in stages:
            blocks += [Bottleneck(cin, cout, stride=stride)] + [Bottleneck(cout, cout) for _ in range(2)]
        self.features = nn.Sequential(*blocks)
        self.ppm = PyramidPooling(c[4])
        self.lower_dw = conv_bn(c[4], c[4], 3, groups=c[4])
        self.lower_proj = conv_bn(c[4], c[4], relu=False)
        self.higher_proj = conv_bn(c[2], c[4], relu=False)
        self.classifier = nn.Sequential(separable(c[4], c[4]), separable(c[4], c[4]),
                                        nn.Conv2D(c[4], num_classes, 1))

    def forward(self, x):
        higher = self.downsample(x)
        lower = self.ppm(self.features(higher))
        lower = F.interpolate(lower, scale_factor=4, mode="bilinear", align_corners=False)
        fused = F.relu(self.higher_proj(higher) + self.lower_proj(self.lower_dw(lower)))
        return F.interpolate(self.classifier(fused), scale_factor=8, mode="bilinear", align_corners=False)
