"""The top-k bounded top-p warper keeps what transformers' TopPLogitsWarper keeps."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from selfrat_eval.generation.top_p import TopKBoundedTopPWarper  # noqa: E402


def _logits(rows: int, vocab: int, scale: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, vocab, generator=gen) * scale


@pytest.mark.parametrize("top_p", [0.5, 0.9, 0.95])
@pytest.mark.parametrize("scale", [5.0, 8.0])  # judge-like peaked rows: the nucleus is in the candidates
def test_same_kept_set_and_logits_as_transformers(top_p: float, scale: float) -> None:
    scores = _logits(16, 5000, scale, seed=int(scale * 10 + top_p * 100))
    ids = torch.zeros(16, 1, dtype=torch.long)
    ours = TopKBoundedTopPWarper(top_p, candidates=256)
    expected = transformers.TopPLogitsWarper(top_p)(ids, scores)
    got = ours(ids, scores)
    assert ours.fallback_rows == 0
    assert torch.equal(torch.isinf(got), torch.isinf(expected))
    assert torch.equal(got[~torch.isinf(got)], expected[~torch.isinf(expected)])
    kept = (~torch.isinf(got)).sum(-1)
    assert int(kept.min()) >= 1 and int(kept.max()) < 256


def test_rows_whose_nucleus_is_beyond_the_candidates_use_transformers_warper() -> None:
    peaked = _logits(3, 4000, 8.0, seed=1)
    flat = _logits(2, 4000, 0.01, seed=2)  # nearly uniform: the 0.9 nucleus holds ~3,600 tokens
    scores = torch.cat([peaked[:1], flat[:1], peaked[1:], flat[1:]])
    ids = torch.zeros(5, 1, dtype=torch.long)
    ours = TopKBoundedTopPWarper(0.9, candidates=64)
    got = ours(ids, scores)
    expected = transformers.TopPLogitsWarper(0.9)(ids, scores)
    assert ours.fallback_rows == 2
    assert torch.equal(torch.isinf(got), torch.isinf(expected))
    assert int((~torch.isinf(got[1])).sum()) > 64  # the flat rows kept more than the candidates


def test_the_best_token_is_always_kept_and_top_p_one_is_a_no_op() -> None:
    scores = torch.tensor([[10.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    ids = torch.zeros(2, 1, dtype=torch.long)
    got = TopKBoundedTopPWarper(0.5, candidates=2)(ids, scores)
    assert torch.isinf(got[0, 1:]).all() and got[0, 0] == 10.0
    assert int((~torch.isinf(got[1])).sum()) == 2  # two of four equal tokens reach 0.5
    assert TopKBoundedTopPWarper(1.0)(ids, scores) is scores
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="top_p"):
            TopKBoundedTopPWarper(bad)
    with pytest.raises(ValueError, match="candidates"):
        TopKBoundedTopPWarper(0.9, candidates=0)
