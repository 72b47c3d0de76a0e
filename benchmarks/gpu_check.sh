#!/usr/bin/env bash
# One short GPU check of configs/default_gpu.yaml (CUDA, bf16 autocast, top-2 MiniLM layers
# fine-tuned) on a machine without pymatgen / spglib / internet, e.g. the H100 device machine:
#   1. nvidia-smi, torch / CUDA / transformers versions, fp16-stored text model loads as fp32;
#   2. benchmarks/bench_train.py: train_mode top_k (pairs/s, peak GPU memory; bare CGConv and
#      bare text-forward baselines), then train_mode cached for comparison;
#   3. a real `clac train` (EPOCHS epochs, device cuda) on the carried data dir, checkpoints in
#      RUN, then the best checkpoint reloaded and scored on val pairs (gpu_entry.py).
# Everything goes through benchmarks/gpu_entry.py (element table from CARRY, pymatgen/spglib
# imports blocked).
#
#   bash benchmarks/gpu_check.sh CARRY [full|bench] [TAG]
#
# CARRY is the folder made by benchmarks/gpu_check_prepare.py (element_table.npy,
# minilm_fp16/, data/ with its graph cache). Mode "bench" runs step 2's top_k line only.
# The H100 numbers in configs/default_gpu.yaml came from one device call (about 3 min), with
# CARRY=.gpu_carry (listed in .git/info/exclude, ~54 MB) carried along and holding, beside the
# prepared files, a copy of clac_core and configs at commit 4437269 (default_gpu.yaml with
# graph.symmetry: true) and of these benchmarks in CARRY/src, so that files being edited in
# the checkout could not change the run:
#   { STEPS=40 bash $C/src/benchmarks/gpu_check.sh $C full;
#     STEPS=20 EXTRA="--set model.graph.symmetry=false" bash $C/src/benchmarks/gpu_check.sh $C bench _nosym; } \
#     2>&1 | tee $OUT/log.txt
# Writes OUT (default /tmp/gpu_check): bench${TAG}.jsonl, metrics${TAG}.csv,
# train_info${TAG}.json, run_files${TAG}.txt; the log is stdout/stderr (tee it).
# Env: PY (python3), DEVICE (cuda), STEPS (30), EPOCHS (2), RUN (/tmp/gpu_check_run${TAG}),
# BENCH_TIMEOUT (150 s per bench), TRAIN_TIMEOUT (240 s), EXTRA (more --set KEY=VALUE words for
# every command, e.g. EXTRA="--set train.batch_size=32 --set train.max_pairs=256" for a CPU try).
set -uo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CARRY=$(cd "${1:?usage: gpu_check.sh CARRY [full|bench] [TAG]}" && pwd)
MODE=${2:-full}
TAG=${3:-}
OUT=${OUT:-/tmp/gpu_check}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-30}
EPOCHS=${EPOCHS:-2}
RUN=${RUN:-/tmp/gpu_check_run$TAG}
BT=${BENCH_TIMEOUT:-150}
TT=${TRAIN_TIMEOUT:-240}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=${TQDM_DISABLE:-1}
mkdir -p "$OUT"
ENTRY=("$PY" "$HERE/benchmarks/gpu_entry.py" --element-table "$CARRY/element_table.npy")
# shellcheck disable=SC2206  # EXTRA is split into words on purpose
CFG=(--config "$HERE/configs/default_gpu.yaml" --set "model.text.name=$CARRY/minilm_fp16" ${EXTRA:-})
DATA="$CARRY/data"
fails=0
step() { echo "=== $* [$(date +%T), ${SECONDS}s]"; }
check() { local rc=$?; if [ $rc -ne 0 ]; then echo "!!! FAILED (rc $rc): $*"; fails=$((fails + 1)); fi; }

step "gpu_check $MODE$TAG from $HERE"
if [ "$MODE" = full ]; then
  nvidia-smi || true
  "$PY" - "$CARRY/minilm_fp16" <<'EOF'
import sys, torch, transformers, torch_geometric
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      "| transformers", transformers.__version__, "| torch_geometric", torch_geometric.__version__)
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported(),
          "capability", torch.cuda.get_device_capability(0))
from transformers import AutoModel
m = AutoModel.from_pretrained(sys.argv[1], local_files_only=True)
print("text model param dtypes", sorted({str(p.dtype) for p in m.parameters()}))
EOF
  check versions
fi

step "bench top_k (config's train_mode)"
skip=()
[ "$MODE" = full ] || skip=(--skip-bare)
timeout "$BT" "${ENTRY[@]}" bench "${CFG[@]}" --set "train.device=$DEVICE" --data "$DATA" --n 1000000 \
  --steps "$STEPS" --warmup 3 "${skip[@]}" | tee -a "$OUT/bench$TAG.jsonl"
check bench top_k

if [ "$MODE" = full ]; then
  step "bench cached"
  timeout "$BT" "${ENTRY[@]}" bench "${CFG[@]}" --set "train.device=$DEVICE" --set model.text.train_mode=cached \
    --data "$DATA" --n 1000000 --steps "$STEPS" --warmup 3 --skip-bare | tee -a "$OUT/bench$TAG.jsonl"
  check bench cached

  step "clac train, $EPOCHS epochs"
  rm -rf "$RUN"
  timeout "$TT" "${ENTRY[@]}" clac train "${CFG[@]}" --set "train.device=$DEVICE" --set "train.epochs=$EPOCHS" \
    --set train.warmup_steps=20 --data "$DATA" --out "$RUN"
  check clac train
  cp "$RUN/metrics.csv" "$OUT/metrics$TAG.csv" 2>/dev/null
  cp "$RUN/train_info.json" "$OUT/train_info$TAG.json" 2>/dev/null
  (cd "$RUN" 2>/dev/null && find . -type f -exec ls -l {} + | sort -k9) > "$OUT/run_files$TAG.txt"
  cat "$OUT/metrics$TAG.csv" 2>/dev/null

  step "reload best checkpoint"
  timeout "$BT" "${ENTRY[@]}" check-checkpoint "$RUN/best" --data "$DATA" | tee -a "$OUT/bench$TAG.jsonl"
  check check-checkpoint
fi
step "done, $fails failure(s)"
exit "$fails"
