"""Channel pruning: which layers, which ratios, and applying them with PaddleSlim."""
