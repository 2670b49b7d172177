"""The images components run in, tagged with the installed slimpipe version (standard library only)."""
import os
from importlib.metadata import version

VERSION = version("slimpipe")
# Override at compile time to use images pushed with `make push IMAGE_REPO=...`.
REPO = os.environ.get("SLIMPIPE_IMAGE_REPO", "ghcr.io/slimpipe")
CPU_IMAGE = f"{REPO}/slimpipe-cpu:{VERSION}"
GPU_IMAGE = f"{REPO}/slimpipe-gpu:{VERSION}"
