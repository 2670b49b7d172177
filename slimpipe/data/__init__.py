"""Dataset readers and sample writers, one module per on-disk format."""
