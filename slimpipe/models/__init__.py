"""Architecture registry: a name maps to a builder, its task and its default options."""
from slimpipe.models import catalogue  # noqa: F401  (registers the built-in architectures; stdlib only)
from slimpipe.models.registry import ArchSpec, build_model, get_arch, list_archs

__all__ = ["ArchSpec", "build_model", "get_arch", "list_archs"]
