"""Pipeline definitions; each compiles to a committed golden YAML beside it."""
