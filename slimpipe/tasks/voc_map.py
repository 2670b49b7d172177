"""Pascal VOC mean average precision at IoU 0.5 with the 11-point interpolation of VOC2007 (PaddleDetection's
default `map_type: 11point`): AP = mean over recall r in {0, 0.1, ..., 1} of the best precision at recall >= r."""
from __future__ import annotations

import numpy as np


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one x1, y1, x2, y2 box with each row of `boxes` (VOC's +1 pixel convention is not used)."""
    ix1, iy1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    ix2, iy2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def average_precision_11(recall: np.ndarray, precision: np.ndarray) -> float:
    points = [precision[recall >= r].max() if (recall >= r).any() else 0.0 for r in np.linspace(0, 1, 11)]
    return float(np.mean(points))


def class_ap(detections: list[tuple[int, float, np.ndarray]], truths: list[np.ndarray], threshold: float) -> float:
    """AP of one class: `detections` as (image index, score, box), `truths[i]` the class's boxes in image i."""
    n_truth = sum(len(t) for t in truths)
    if n_truth == 0:
        return float("nan")
    matched = [np.zeros(len(t), bool) for t in truths]
    hits = np.zeros(len(detections))
    for k, (img, _, box) in enumerate(sorted(detections, key=lambda d: -d[1])):
        if len(truths[img]):
            overlaps = iou(box, truths[img])
            best = int(overlaps.argmax())
            if overlaps[best] >= threshold and not matched[img][best]:
                matched[img][best] = True
                hits[k] = 1
    tp = np.cumsum(hits)
    recall = tp / n_truth
    precision = tp / np.arange(1, len(hits) + 1)
    return average_precision_11(recall, precision) if len(hits) else 0.0


def voc_map(predictions: list[np.ndarray], truth_boxes: list[np.ndarray], truth_labels: list[np.ndarray],
            n_classes: int, threshold: float = 0.5) -> dict:
    """mAP over classes that occur in the truth; `predictions[i]` rows are label, score, x1, y1, x2, y2."""
    aps = []
    for c in range(n_classes):
        dets = [(i, float(row[1]), row[2:6]) for i, pred in enumerate(predictions) for row in pred if int(row[0]) == c]
        truths = [boxes[labels == c] for boxes, labels in zip(truth_boxes, truth_labels)]
        aps.append(class_ap(dets, truths, threshold))
    valid = [a for a in aps if not np.isnan(a)]
    return {"map": float(np.mean(valid)) if valid else 0.0,
            "class_ap": [None if np.isnan(a) else a for a in aps]}
