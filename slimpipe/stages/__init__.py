"""The pipeline's stages: plain functions with typed arguments that read and write files."""
