"""Object detection in the PaddleX format (Pascal VOC): lines `JPEGImages/x.jpg Annotations/x.xml`, boxes
and class names in the XML. Models take image, im_shape and scale_factor (PaddleDetection's inputs) and
return (boxes [K, 6], boxes per image [N]) in the original image's pixels; the metric is VOC mAP@0.5."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slimpipe.data import images, listfile
from slimpipe.data.voc import Annotation, read_voc
from slimpipe.tasks.base import Split, Task
from slimpipe.tasks.voc_map import voc_map

IGNORE_THRESH = 0.7  # PaddleDetection's YOLOv3 setting: no objectness loss where a prediction overlaps a truth


class DetectionTask(Task):
    name = "detection"
    metric_name = "map"
    default_arch = "yolov3_mobilenet_v1"
    files_per_line = 2

    def load_split(self, root: Path, split: str, input_size: tuple[int, int], classes: list[str]) -> Split:
        pairs = listfile.read_pairs(root, split)
        targets = [read_voc(p.label, classes, f"{p.entry.where()}: {p.entry.fields[1]}",
                            images.image_size(p.image, p.entry.where())) for p in pairs]
        batch = images.load_batch([p.image for p in pairs], input_size, [p.entry.where() for p in pairs], split)
        return Split(batch, targets, [p.entry.fields[0] for p in pairs])

    def strata(self, split: Split) -> np.ndarray:
        """The most frequent class among each image's objects (-1 for an image without objects)."""
        return np.array([np.bincount(t.labels).argmax() if len(t.labels) else -1 for t in split.targets])

    def write_sample(self, out: Path, seed: int = 0) -> None:
        from slimpipe.data.shapes import write_shapes_sample

        write_shapes_sample(out, seed=seed)

    def input_shapes(self, input_size: tuple[int, int] | list[int]) -> dict[str, list[int]]:
        return {"image": [3, *input_size], "im_shape": [2], "scale_factor": [2]}

    def feeds(self, split: Split, index: np.ndarray) -> list[np.ndarray]:
        h, w = split.images.shape[1:3]
        shape = np.tile(np.array([[h, w]], np.float32), (len(index), 1))
        scale = np.array([[h / split.targets[i].height, w / split.targets[i].width] for i in index], np.float32)
        return [images.to_chw_float(split.images[index]), shape, scale.reshape(-1, 2)]

    def loss(self, outputs: dict[str, Any], batch: Split) -> Any:
        """YOLOv3 loss summed over the three levels, averaged over the batch."""
        import paddle
        from paddle.vision.ops import yolo_loss

        gt_box, gt_label = self._padded_truth(batch.targets)
        gt_box, gt_label = paddle.to_tensor(gt_box), paddle.to_tensor(gt_label)
        total = 0
        for x, mask, stride in zip(outputs["maps"], outputs["anchor_masks"], outputs["strides"]):
            total = total + yolo_loss(x, gt_box, gt_label, outputs["anchors"], mask, outputs["num_classes"],
                                      IGNORE_THRESH, stride, use_label_smooth=False).mean()
        return total

    @staticmethod
    def _padded_truth(targets: list[Annotation]) -> tuple[np.ndarray, np.ndarray]:
        """Boxes as normalized cx, cy, w, h padded with zeros (ignored by yolo_loss), and their labels."""
        n = max(1, max(len(t.labels) for t in targets))
        boxes = np.zeros((len(targets), n, 4), np.float32)
        labels = np.zeros((len(targets), n), np.int32)
        for i, t in enumerate(targets):
            b = t.boxes / np.array([t.width, t.height, t.width, t.height], np.float32)
            boxes[i, :len(b)] = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2,
                                          b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
            labels[i, :len(b)] = t.labels
        return boxes, labels

    def score(self, outputs: list[tuple[np.ndarray, np.ndarray]], split: Split) -> dict[str, Any]:
        """VOC mAP@0.5 (11-point) and AP per class."""
        predictions = []
        for boxes, counts in outputs:
            predictions += np.split(boxes, np.cumsum(counts)[:-1])
        n_classes = 1 + max([int(t.labels.max()) for t in split.targets if len(t.labels)], default=0)
        return voc_map(predictions, [t.boxes for t in split.targets], [t.labels for t in split.targets],
                       n_classes)

    def augment(self, batch: Split, rng: np.random.Generator) -> Split:
        """Random horizontal flips of images and their boxes."""
        flip = rng.random(len(batch)) < 0.5
        imgs, targets = batch.images.copy(), list(batch.targets)
        imgs[flip] = imgs[flip][:, :, ::-1]
        for i in np.flatnonzero(flip):
            t = targets[i]
            boxes = t.boxes.copy()
            boxes[:, [0, 2]] = t.width - t.boxes[:, [2, 0]]
            targets[i] = Annotation(boxes, t.labels, t.width, t.height)
        return Split(imgs, targets, batch.sources)
