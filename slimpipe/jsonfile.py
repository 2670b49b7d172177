"""Reading the JSON files stages exchange: one place for the checks every reader makes first."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slimpipe.errors import fail


def read_tagged(path: str | Path, fmt: str, what: str, hint: str = "") -> dict[str, Any]:
    """The JSON object in `path`, refused (naming the file) when it is missing, not UTF-8 JSON, not an object,
    or not tagged `"format": fmt`. `what` names the kind of file in messages; `hint` follows a JSON error."""
    path = Path(path)
    if not path.is_file():
        raise fail(f"{path}: {what} not found")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"{path}: not valid JSON ({exc}){hint}") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise fail(f"{path}: not a slimpipe {what} (format {found!r}; {fmt!r} expected)")
    return data
