"""A PaddleSlim 2.6 prune worker for `concat`, which it lacks: without it no convolution whose output is
concatenated (UNet's skip connections) can be pruned ("Unsupported operator named concat").

Pruning input i of a concat on the concatenation axis prunes the same channels of the output, at that
input's offset; the consumers of the output see the mask placed there (PaddleSlim's `src_start` transform).
Pruning the output itself is refused, as PaddleSlim does for `split`'s input: the mask could not be
divided between the inputs' producers.
"""
from __future__ import annotations

_REGISTERED = False


def register_concat_worker() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    from paddleslim.prune.prune_worker import PRUNE_WORKER, PruneWorker, UnsupportOpError

    class concat(PruneWorker):  # noqa: N801  (PaddleSlim looks workers up by the operator's name)
        def __init__(self, op, pruned_params, visited, skip_stranger):
            super().__init__(op, pruned_params, visited, skip_stranger)
            self.in_vars = op.inputs("X")
            self.out_var = op.outputs("Out")[0]
            axis = op.attr("axis")
            rank = len(self.out_var.shape())
            self.axis = axis + rank if axis is not None and axis < 0 else axis

        def _prune(self, var, pruned_axis, transforms):
            if pruned_axis != self.axis:
                for other in [*self.in_vars, self.out_var]:
                    if other != var:
                        self._visit_and_search(other, pruned_axis, transforms)
                return
            if var == self.out_var or var not in self.in_vars:
                raise UnsupportOpError("Unsupport pruning the output of concat on its axis directly.")
            index = self.in_vars.index(var)
            offset = sum(v.shape()[self.axis] for v in self.in_vars[:index])
            length = var.shape()[self.axis]
            trans = {"src_start": 0, "src_end": length, "target_start": offset, "target_end": offset + length,
                     "target_len": self.out_var.shape()[self.axis]}
            self._visit_and_search(self.out_var, pruned_axis, transforms + [trans])

    PRUNE_WORKER.register(concat)
    _REGISTERED = True
