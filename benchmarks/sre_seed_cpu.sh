#!/usr/bin/env bash
# Issue 11 on the CPU, one seed end to end: data, the training run of records/sre-3seed-it2/seed<S>.yaml
# (seed SFT, RS-SFT, SRE iterations 1-2 with the validation gate), every comparison judge greedy and
# expected-score (compare_runs.py), the seed's effect table with its per-item predictions, the run's
# stage times and curation counts (run_summary.py), and the verdict probe of its greedy judges
# (probe_verdict_marginal.py; PROBE=0 skips it, ~10 min).
# Seeds land one at a time: the seed's predictions.jsonl is copied into the record, and
# bench_sre_effect.py --from-predictions pools recorded seeds later, so a seed that finished in one
# session need not be trained again when runs/ is gone.
#
#   make install-vllm                                   # vLLM's CPU build in .venv-vllm (generation)
#   bash benchmarks/sre_seed_cpu.sh 0                    # one seed on both cores (66-74 min + the probe)
#   CORES=1 bash benchmarks/sre_seed_cpu.sh 1            # pin to core 1, one thread
#   python benchmarks/bench_sre_effect.py --seed-list 0 1 2 --no-run --out runs/sre-3seed-cmp \
#     --from-predictions benchmarks/records/sre-3seed-it2/predictions-seed*.jsonl   # pooled, when all have landed
#   .venv-vllm/bin/python benchmarks/probe_verdict_marginal.py --out runs/probe-pool --target iter2 \
#     --pool benchmarks/records/sre-3seed-it2/probe-verdicts-seed*.json              # the verdict probes, pooled
#
# A killed step resumes with the same command (the run's manifest and the evaluation cache).
# Run nothing else meanwhile: a second process on one of the two cores slows both OpenMP threads 6-9x.
set -euo pipefail
s=${1:?usage: sre_seed_cpu.sh SEED}
PY=${PY:-.venv-vllm/bin/python}
CORES=${CORES:-0-1}
REC=${REC:-benchmarks/records/sre-3seed-it2}
R=runs/sre-3seed  # the configs name its paths
threads=$(( $(taskset -c "$CORES" nproc) ))
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export OMP_NUM_THREADS=$threads VLLM_CPU_OMP_THREADS_BIND=$CORES VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}
run() { echo "[$(date +%T)] $*"; taskset -c "$CORES" "$@"; }
mkdir -p "$R"

run "$PY" - "$s" "$R" <<'EOF'
import sys
from pathlib import Path
from selfrat_eval.demo.data import build_splits, write_feedback_collection
from selfrat_eval.demo.pipeline import SMOLLM2_GGUF, load_preset, materialize_gguf, smollm2_dir
seed, root = int(sys.argv[1]), Path(sys.argv[2])
if not (root / "base" / "config.json").is_file():
    materialize_gguf(smollm2_dir(), SMOLLM2_GGUF, root / "base")
data = root / f"data{seed}"
if not (data / "heldout.jsonl").is_file():
    splits = build_splits(load_preset("smollm2-effect", ["data.running_count=true"], seed=seed).data)
    write_feedback_collection(splits["train"], data / "train.jsonl")
    write_feedback_collection(splits["heldout"], data / "heldout.jsonl")
EOF
run "$PY" -m selfrat_eval.training --config "$REC/seed$s.yaml"
run "$PY" benchmarks/compare_runs.py --out "$R-cmp/seed$s" --run "$R/seed$s"
run "$PY" benchmarks/bench_sre_effect.py --seed-list "$s" --no-run --out "$R-cmp" --bootstrap 5000
cp "$R-cmp/predictions.jsonl" "$REC/predictions-seed$s.jsonl"
cp "$R-cmp/effect.md" "$REC/effect-seed$s.md"
cp "$R-cmp/effect.json" "$REC/effect-seed$s.json"
cp "$R/seed$s/curve.json" "$REC/curve-seed$s.json"
run "$PY" benchmarks/run_summary.py "$R/seed$s" "$REC/run-seed$s.json"
if [ "${PROBE:-1}" = 1 ]; then
  run "$PY" benchmarks/probe_verdict_marginal.py --curve "$R/seed$s/curve.json" --out "$R-probe/seed$s"
  cp "$R-probe/seed$s/verdict_marginal.md" "$REC/probe-verdicts-seed$s.md"
  cp "$R-probe/seed$s/verdict_marginal.json" "$REC/probe-verdicts-seed$s.json"
fi
echo "[$(date +%T)] seed $s done: $REC/predictions-seed$s.jsonl"
