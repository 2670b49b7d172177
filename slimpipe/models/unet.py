"""UNet as in PaddleSeg (four 2x downsamplings, bilinear upsampling, skip connections by concatenation),
with the base channel width as an option. Input sides must be multiples of 16.

Defined at module level (paddle imported here): paddle.jit.save re-reads `forward`'s source with the
module's globals, so the layers cannot live in a closure."""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2D(cin, cout, 3, padding=1), nn.BatchNorm2D(cout), nn.ReLU(),
                         nn.Conv2D(cout, cout, 3, padding=1), nn.BatchNorm2D(cout), nn.ReLU())


class UNet(nn.Layer):
    def __init__(self, num_classes: int, width: int = 64):
        super().__init__()
        c = [width, width * 2, width * 4, width * 8, width * 8]
        self.inc = double_conv(3, c[0])
        self.down = nn.LayerList([double_conv(c[i], c[i + 1]) for i in range(4)])
        ups = [(c[4] + c[3], c[2]), (c[2] + c[2], c[1]), (c[1] + c[1], c[0]), (c[0] + c[0], c[0])]
        self.up = nn.LayerList([double_conv(cin, cout) for cin, cout in ups])
        self.head = nn.Conv2D(c[0], num_classes, 3, padding=1)

    def forward(self, x):
        skips = [self.inc(x)]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        x = skips.pop()
        for block in self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = block(paddle.concat([x, skips.pop()], axis=1))
        return self.head(x)
