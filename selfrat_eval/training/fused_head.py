"""Score only the labelled positions in trl's fused LM head on CPUs too.

trl 1.x trains SFT and DPO through a fused LM head (``trl.trainer.utils.add_fused_lm_head``) that
projects hidden states through the vocabulary in tiles. On CUDA/XPU it first drops the positions
whose label is ``-100`` (the prompt, under completion-only loss and in DPO); elsewhere it projects
every position, because on Neuron a varying number of valid positions would recompile the graph
on every batch. A judge prompt is ~85% of each sequence (~550 of ~650 tokens in the demo), so on a
CPU most of the head's work, forward and backward, goes to positions whose result is masked out.
Eager CPU execution has no compilation to protect, so dropping them gives the same log-probs and
gradients at ~0.6x the step time (``benchmarks/bench_fused_head.py``).

The decision is the ``_use_triton`` name that ``trl.trainer.utils`` imports for it; the kernels in
``trl.kernels.chunked_logprob`` look up their own binding and keep their CPU code path. The patch is
scoped: ``labelled_positions_only()`` restores the original on exit, and a trl without that name
trains unpatched (slower, same numbers).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

# Devices whose eager execution gains from compaction and has no compiled graph to keep stable.
COMPACT_DEVICES = ("cpu",)


@contextlib.contextmanager
def labelled_positions_only() -> Iterator[bool]:
    """While active, trl's fused LM head on a CPU scores only positions with a label (as it does
    on CUDA). Yields whether the patch is in place (False: this trl has no such switch)."""
    try:
        from trl.trainer import utils as trl_utils
    except ImportError:
        yield False
        return
    original = getattr(trl_utils, "_use_triton", None)
    if not callable(original):
        log.debug("trl.trainer.utils has no _use_triton: the fused LM head scores every position on CPU")
        yield False
        return

    def compact(device: Any) -> bool:
        return getattr(device, "type", None) in COMPACT_DEVICES or bool(original(device))

    trl_utils._use_triton = compact
    try:
        yield True
    finally:
        trl_utils._use_triton = original
