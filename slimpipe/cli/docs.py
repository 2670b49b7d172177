"""Parameter help written once, as the Google-style `Args:` section of a component's (or the pipeline's)
docstring: kfp copies it into the compiled spec's input descriptions, and the command line reads it here.

A component's docstring is read from its source file (ast), without importing the component: that would import
kfp, which a pod running one subcommand should not pay for.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache

from slimpipe.errors import fail

COMPONENTS = "slimpipe.components"  # components/<stage>/component.py, installed as slimpipe.components
_ENTRY = re.compile(r"^(\*{0,2}\w+)(?:\s*\([^)]*\))?\s*:\s*(.*)$")
_SECTION = re.compile(r"^(Args|Arguments|Returns|Raises|Yields|Example|Examples|Note|Notes):\s*$")
# A clause about a pipeline or component sentinel ("; 0 = off", "; empty = none", "(0 = off)"): on the command
# line an option is simply left out, so these clauses are dropped from a subcommand's help.
_SENTINEL = re.compile(r"\s*;\s*(?:0|-1|empty)(?:\s+or\s+\w+)?\s*=[^;]*?(?=;|\.?$)|\s*\((?:0|-1|empty) = [^)]*\)")


def args_section(doc: str | None) -> dict[str, str]:
    """The `Args:` entries of a Google-style docstring, each joined into one line: {name: text}."""
    lines = (doc or "").expandtabs().splitlines()
    found: dict[str, str] = {}
    inside, indent, name = False, None, None
    for line in lines:
        stripped = line.strip()
        if not inside:
            inside = stripped in ("Args:", "Arguments:")
            continue
        if not stripped:
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent or _SECTION.match(stripped):
            break
        match = _ENTRY.match(stripped) if depth == indent else None
        if match:
            name = match.group(1)
            found[name] = match.group(2)
        elif name is not None:
            found[name] = f"{found[name]} {stripped}".strip()
    return found


@lru_cache(maxsize=None)
def component_args(stage: str, function: str | None = None) -> dict[str, str]:
    """The `Args:` of the component function `function` (default: `stage`) in components/<stage>/component.py."""
    spec = importlib.util.find_spec(f"{COMPONENTS}.{stage}.component")
    if spec is None or not spec.origin:
        raise fail(f"component {stage!r}: {COMPONENTS}/{stage}/component.py not found")
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read(), spec.origin)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == (function or stage):
            return args_section(ast.get_docstring(node))
    raise fail(f"{spec.origin}: no function {function or stage!r}")


def for_cli(text: str) -> str:
    """A parameter's text as a subcommand's help: without the pipeline's sentinel clauses, no final period."""
    return _SENTINEL.sub("", text).strip().rstrip(".")


def help_text(stage: str, name: str, default: object = None, cli: bool = True) -> str:
    """The help of `stage`'s component parameter `name`, with its default appended when one is given."""
    entries = component_args(stage)
    if name not in entries:
        raise fail(f"components/{stage}/component.py: no Args entry for {name!r}")
    text = for_cli(entries[name]) if cli else entries[name].rstrip(".")
    return text if default is None else f"{text} (default {default:g})" if isinstance(default, float) \
        else f"{text} (default {default})"
