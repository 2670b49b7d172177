"""Pascal VOC annotation files (PaddleX detection format), checked: well-formed XML without a DTD (entities
are never expanded: these files come from outside), finite non-negative numbers, a <size> that matches the
image, known class names, boxes inside the image. Errors name the list line, the XML file and the object."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import numpy as np

from slimpipe.data.listfile import excerpt
from slimpipe.errors import fail


@dataclass(frozen=True)
class Annotation:
    """One image's objects: boxes (n, 4) as x1, y1, x2, y2 in pixels, class indices (n,), image size."""

    boxes: np.ndarray
    labels: np.ndarray
    width: int
    height: int


class _Refused(Exception):
    """A document type declaration met while parsing (raised from expat's handler)."""


def _refuse_doctype(*_args) -> None:
    raise _Refused()


def parse_xml(data: bytes, where: str) -> ET.Element:
    """The document's root element, parsed by expat with any DTD refused, so no entity is ever declared
    (and so none expanded, internal or external); only XML's five predefined entities remain."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        return builder.close()
    except _Refused:
        raise fail(f"{where}: the XML declares a document type (<!DOCTYPE>); annotation files may not "
                   "declare a DTD or entities, which are never expanded") from None
    except expat.ExpatError as exc:
        raise fail(f"{where}: malformed XML ({exc})") from None
    except (ValueError, LookupError, UnicodeError) as exc:  # e.g. an encoding Python cannot decode with
        raise fail(f"{where}: unreadable XML ({exc.__class__.__name__}: {excerpt(str(exc))})") from None


def _number(node: ET.Element, tag: str, where: str) -> float:
    """A finite, non-negative number."""
    text = node.findtext(tag)
    if text is None:
        raise fail(f"{where}: no <{tag}>, expected a number")
    try:
        value = float(text)
    except ValueError:
        raise fail(f"{where}: <{tag}> is {excerpt(text)}, expected a number") from None
    if not math.isfinite(value) or value < 0:
        raise fail(f"{where}: <{tag}> is {excerpt(text.strip())}, expected a finite number of at least 0")
    return value


def _whole(node: ET.Element, tag: str, where: str) -> int:
    """A positive whole number (an image side)."""
    value = _number(node, tag, where)
    if value < 1 or value != int(value):
        raise fail(f"{where}: <{tag}> is {excerpt(node.findtext(tag).strip())}, expected a whole number of "
                   "pixels, at least 1")
    return int(value)


def read_voc(path: Path, classes: list[str], where: str, image_size: tuple[int, int] | None = None) -> Annotation:
    """Parse one annotation; `where` is `list_file:line: Annotations/x.xml` for messages. `image_size`
    (width, height), when given, is the actual image's, which <size> must state."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(f"{where}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    root = parse_xml(data, where)
    size = root.find("size")
    if size is None:
        raise fail(f"{where}: no <size> element (image width and height)")
    width, height = _whole(size, "width", f"{where}: <size>"), _whole(size, "height", f"{where}: <size>")
    if image_size is not None and (width, height) != tuple(image_size):
        raise fail(f"{where}: <size> says {width}x{height}, but the image is {image_size[0]}x{image_size[1]}")
    index = {name: i for i, name in enumerate(classes)}
    boxes, labels = [], []
    for k, obj in enumerate(root.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        if name not in index:
            raise fail(f"{where}: object {k} has class {excerpt(name)}, which is not in labels.txt "
                       f"({', '.join(classes)})")
        box = obj.find("bndbox")
        if box is None:
            raise fail(f"{where}: object {k} ({name}) has no <bndbox>")
        x1, y1, x2, y2 = (_number(box, t, f"{where}: object {k}") for t in ("xmin", "ymin", "xmax", "ymax"))
        if not (x1 < x2 <= width and y1 < y2 <= height):
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
