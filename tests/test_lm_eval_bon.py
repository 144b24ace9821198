"""The selfrat-bon wrapper: N samples per request, the parsed judgment with the highest mean token
log-probability is returned; unparsable samples are never chosen and are counted."""

from __future__ import annotations

import pytest

pytest.importorskip("lm_eval")

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.api.model import LM  # noqa: E402

from selfrat_eval.lm_eval_plugin.bon import BestOfNText, SelfratBestOfN  # noqa: E402


class FakeBase(LM):
    """Returns scripted samples in turn; loglikelihood = -len(continuation words) * cost[text]."""

    def __init__(self, samples: list[str], cost: dict[str, float]) -> None:
        super().__init__()
        self.samples, self.cost, self.calls = samples, cost, 0
        self.ll_requests: list[tuple[str, str]] = []

    def generate_until(self, requests, disable_tqdm: bool = False):
        out = []
        for _ in requests:
            out.append(self.samples[self.calls % len(self.samples)])
            self.calls += 1
        return out

    def tok_encode(self, text: str):
        return text.split()

    def loglikelihood(self, requests):
        self.ll_requests += [r.args for r in requests]
        return [(-len(r.args[1].split()) * self.cost[r.args[1]], False) for r in requests]

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError


DOC = {"mode": "absolute", "scale_low": 1, "scale_high": 5, "id": "d"}


def _req(doc=DOC):
    return Instance(request_type="generate_until", doc=doc, arguments=("ctx", {"until": []}), idx=0)


def test_selects_highest_mean_logprob_among_parsed():
    samples = [
        "long but likely text here [RESULT] 2",
        "junk without verdict",
        "short [RESULT] 5",
        "meh [RESULT] 9",
    ]
    cost = {samples[0]: 0.5, samples[1]: 0.01, samples[2]: 2.0, samples[3]: 0.1}
    base = FakeBase(samples, cost)
    out = SelfratBestOfN(base, n=4).generate_until([_req()])
    assert isinstance(out[0], BestOfNText)
    # mean log-probs: -0.5, (junk: not scored), -2.0, (out of range: not scored) -> sample 0
    assert str(out[0]) == samples[0] and out[0].selected_index == 0
    assert out[0].n_samples == 4 and out[0].n_failed_samples == 2
    assert out[0].mean_logprob == pytest.approx(-0.5)
    assert [a[1] for a in base.ll_requests] == [samples[0], samples[2]]  # failed samples never scored


def test_all_failed_returns_first_sample_counted_as_failure():
    base = FakeBase(["no", "nope"], {})
    out = SelfratBestOfN(base, n=2).generate_until([_req(), _req()])
    assert [str(o) for o in out] == ["no", "no"]
    assert all(o.selected_index is None and o.n_failed_samples == 2 for o in out)


def test_non_judge_docs_use_every_nonempty_sample():
    samples = ["a b c", "", "x"]
    base = FakeBase(samples, {"a b c": 1.0, "x": 3.0})
    out = SelfratBestOfN(base, n=3).generate_until([_req(doc={"question": "q"})])
    assert str(out[0]) == "a b c" and out[0].n_failed_samples == 1


def test_create_from_args_and_rejects_bad_n():
    with pytest.raises(ValueError, match="n must be"):
        SelfratBestOfN(FakeBase(["x"], {}), n=0)
    with pytest.raises(ValueError, match="another model"):
        SelfratBestOfN.create_from_arg_string("base=selfrat-bon,n=2")
