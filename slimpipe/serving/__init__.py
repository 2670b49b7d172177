"""`slimpipe serve`: an exported model on the Open Inference Protocol v2, through kserve's ModelServer.

    model.py    what is served: KServe's paddle-runtime loading rules, the model's inputs and outputs read
                from its program, a pool of Paddle Inference predictors, and request checks (no kserve)
    server.py   the kserve.Model and ModelServer around it (imports kserve: load it through `load_kserve`)
    client.py   a v2 client for tests and the bench: a server in a child process, JSON requests

kserve is the optional extra `serve`; nothing else in slimpipe imports it.
"""
from __future__ import annotations

import re
import sys

from slimpipe.errors import fail

EXTRA = "slimpipe[serve]"
DEFAULT_PORT = 8080          # KServe's HTTP port
DEFAULT_HOST = "127.0.0.1"   # this machine only; 0.0.0.0 (every interface) in a container or pod


def load_kserve():
    """Import kserve, or fail naming the extra to install. kserve's model_server module parses sys.argv
    when first imported (its own flags, unknown ones ignored), so it is shown none of slimpipe's."""
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        import kserve
        import kserve.model_server  # noqa: F401  (the import-time argument parsing, done here)
    except ImportError as exc:
        raise fail(f"slimpipe serve needs kserve, which is not installed ({exc}); install it with "
                   f"`pip install {EXTRA}`") from None
    finally:
        sys.argv = saved
    return kserve

# Model names appear in URL paths (/v2/models/NAME/infer): one path segment.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
NAME_RULE = "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise fail(f"model name {name!r}: expected {NAME_RULE}")
    return name
