"""The images the pipeline's steps run in, tagged with the installed slimpipe version (standard library only:
the component files import it, through slimpipe.components._image, when the pipeline is compiled)."""
import os
from importlib.metadata import version

VERSION = version("slimpipe")
# Override at compile time to use images pushed with `make push IMAGE_REPO=...`.
REPO = os.environ.get("SLIMPIPE_IMAGE_REPO", "ghcr.io/slimpipe")
CPU_IMAGE = f"{REPO}/slimpipe-cpu:{VERSION}"
GPU_IMAGE = f"{REPO}/slimpipe-gpu:{VERSION}"
