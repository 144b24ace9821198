"""Nucleus (top-p) filtering that does not sort the whole vocabulary at every step.

transformers' ``TopPLogitsWarper`` sorts all ``vocab`` logits of every row at every decoding step.
With a 49k vocabulary and 16 rows that sort costs ~30 ms per step on a 2-core CPU; a SmolLM2-135M
sampling batch takes 0.93x the time without it (``benchmarks/bench_top_p.py``). A judge's nucleus at ``top_p`` 0.95 holds a handful of tokens, so the
``candidates`` best (``topk``, ~4 ms) almost always contain it: the filter is computed on them, and
a row whose nucleus is not inside them (a nearly flat distribution) goes through transformers' own
warper. The kept set and its logits are those of ``TopPLogitsWarper`` (keep a token iff the mass of
the tokens ranked above it is below ``top_p``; the best token is always kept), up to float rounding
of the cumulative sums at the boundary.
"""

from __future__ import annotations

from typing import Any

DEFAULT_CANDIDATES = 1024


class TopKBoundedTopPWarper:
    """A ``LogitsProcessor`` with ``TopPLogitsWarper``'s result; ``scores`` are the tempered logits."""

    def __init__(self, top_p: float, candidates: int = DEFAULT_CANDIDATES) -> None:
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {candidates}")
        self.top_p = float(top_p)
        self.candidates = candidates
        self.fallback_rows = 0  # rows filtered by transformers' warper (nucleus beyond the candidates)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.top_p >= 1.0:
            return scores
        k = min(self.candidates, scores.shape[-1])
        values, indices = scores.topk(k, dim=-1)  # descending
        probs = (values.float() - torch.logsumexp(scores.float(), dim=-1, keepdim=True)).exp()
        cumulative = probs.cumsum(dim=-1)
        keep = (cumulative - probs) < self.top_p  # mass ranked above each candidate
        keep[:, 0] = True
        out = torch.full_like(scores, -float("inf")).scatter(1, indices, values.masked_fill(~keep, -float("inf")))
        uncovered = cumulative[:, -1] < self.top_p
        if bool(uncovered.any()):
            from transformers import TopPLogitsWarper

            rows = uncovered.nonzero().squeeze(1)
            out[rows] = TopPLogitsWarper(self.top_p)(input_ids[rows], scores[rows])
            self.fallback_rows += int(rows.numel())
        return out
