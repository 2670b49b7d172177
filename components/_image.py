"""The images components run in (slimpipe.images, where they are named once), for the component files."""
from slimpipe.images import CPU_IMAGE, GPU_IMAGE, REPO, VERSION  # noqa: F401
