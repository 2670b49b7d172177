"""Pascal VOC annotation files (PaddleX detection format), checked: well-formed XML, known class names,
boxes inside the image. Errors name the list line, the XML file and the object."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slimpipe.errors import fail


@dataclass(frozen=True)
class Annotation:
    """One image's objects: boxes (n, 4) as x1, y1, x2, y2 in pixels, class indices (n,), image size."""

    boxes: np.ndarray
    labels: np.ndarray
    width: int
    height: int


def _number(node: ET.Element, tag: str, where: str) -> float:
    text = node.findtext(tag)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise fail(f"{where}: <{tag}> is {text!r}, expected a number") from None


def read_voc(path: Path, classes: list[str], where: str) -> Annotation:
    """Parse one annotation; `where` is `list_file:line: Annotations/x.xml` for messages."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise fail(f"{where}: malformed XML ({exc})") from None
    size = root.find("size")
    if size is None:
        raise fail(f"{where}: no <size> element (image width and height)")
    width, height = int(_number(size, "width", where)), int(_number(size, "height", where))
    index = {name: i for i, name in enumerate(classes)}
    boxes, labels = [], []
    for k, obj in enumerate(root.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        if name not in index:
            raise fail(f"{where}: object {k} has class {name!r}, which is not in labels.txt "
                       f"({', '.join(classes)})")
        box = obj.find("bndbox")
        if box is None:
            raise fail(f"{where}: object {k} ({name}) has no <bndbox>")
        x1, y1, x2, y2 = (_number(box, t, f"{where}: object {k}") for t in ("xmin", "ymin", "xmax", "ymax"))
        if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
            raise fail(f"{where}: object {k} ({name}) box [{x1:g}, {y1:g}, {x2:g}, {y2:g}] is empty or lies "
                       f"outside the {width}x{height} image")
        boxes.append([x1, y1, x2, y2])
        labels.append(index[name])
    return Annotation(np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64), width, height)


def voc_xml(filename: str, width: int, height: int, objects: list[tuple[str, list[float]]]) -> str:
    """A VOC annotation document for `objects` (class name, [x1, y1, x2, y2])."""
    parts = [f"<annotation><filename>{filename}</filename>",
             f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"]
    for name, (x1, y1, x2, y2) in objects:
        parts.append(f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x1:g}</xmin>"
                     f"<ymin>{y1:g}</ymin><xmax>{x2:g}</xmax><ymax>{y2:g}</ymax></bndbox></object>")
    return "\n".join(parts + ["</annotation>"]) + "\n"
