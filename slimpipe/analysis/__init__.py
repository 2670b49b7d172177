"""Analysis of sensitivities: the loss-threshold curve and its pictures."""
