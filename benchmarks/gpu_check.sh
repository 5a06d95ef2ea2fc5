#!/usr/bin/env bash
# One script for a session with a lent GPU (../shared/device/README.md): installs what the device
# lacks from carried wheels (.whl/, made by ../shared/device/make_wheels.sh), runs the tests that
# touch the device, `kdsearch bench` at MOSEI shapes (teacher step, config-5 KD step, epoch
# estimate, batch-1 latency), the config-5 step with and without the teacher cache, packed vs
# unpacked student throughput, and a `kdsearch run ... --gpus 1` search one student per worker and
# packed (resources.students_per_worker: 8, docs/packing.md), each under its own time limit (about
# 8 minutes in all), then writes ONE JSON of figures.
#
#   bash benchmarks/gpu_check.sh [--out gpu_check.json]     on the device (carry .whl)
#   bash benchmarks/gpu_check.sh --dry-run [--out f.json]   on a CPU: the same steps at tiny sizes
#                                                            (seconds; CI runs it so it cannot rot)
set -uo pipefail

DRY=0
OUT=gpu_check.json
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
export KDSEARCH_CACHE=${KDSEARCH_CACHE:-$WORK/cache}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
STARTED=$(date +%s)
: > "$WORK/steps.tsv"
# The demo space with 8 students packed per worker (the search step D compares with the default).
$PY -c "import yaml; s = yaml.safe_load(open('search_spaces/edam.yaml')); \
s['resources']['students_per_worker'] = 8; s['name'] = 'edam_packed'; \
yaml.safe_dump(s, open('$WORK/edam_packed.yaml', 'w'), sort_keys=False)"

# step NAME LIMIT_S COMMAND...: runs it under `timeout`, keeps its log, records rc and seconds.
step() {
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s%N)
  echo "== $name (limit ${limit}s): $*"
  timeout "$limit" "$@" > "$WORK/$name.log" 2>&1
  local rc=$?
  local t1=$(date +%s%N)
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(( (t1 - t0) / 1000000 ))" >> "$WORK/steps.tsv"
  tail -n 4 "$WORK/$name.log" | sed 's/^/   /'
  [[ $rc -eq 0 ]] || echo "   -> $name exited $rc (log: $WORK/$name.log)"
}

# 1. What the device lacks (Ray, Optuna) from the carried wheels.
if ! $PY -c "import ray, optuna" 2>/dev/null; then
  if [[ -d .whl ]]; then
    step install 120 $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
  else
    echo "ray/optuna missing and no .whl/ here: run bash ../shared/device/make_wheels.sh and carry .whl" >&2
  fi
fi
step imports 60 $PY -c "import torch, ray, optuna, yaml, h5py, pyarrow, pandas, rich, matplotlib, kdsearch; \
print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"

if [[ $DRY -eq 1 ]]; then
  DEV=cpu; SHAPES=small; BATCH=8
  step tests 120 $PY -m pytest -q -x -p no:cacheprovider tests/models/test_functional_stacking.py
  step bench 60 $PY -m kdsearch bench --help
  step cache_steps 60 $PY -c "import json; from kdsearch.bench.cache_steps import cache_step_comparison as c; \
json.dump(c(sizes={'tiny': {'d_model': 8, 'heads': 2, 'layers': 1}}, batch=$BATCH, reps=1, warmup=0), \
open('$WORK/cache_steps.json', 'w'))"
  step packed 120 $PY benchmarks/packed_throughput.py --tiny --device cpu --batch $BATCH --steps 1 --packs 2 \
    --out "$WORK/packed.json"
  step search 60 $PY -m kdsearch validate search_spaces/edam.yaml
  step search_packed 60 $PY -m kdsearch validate "$WORK/edam_packed.yaml"
else
  DEV=cuda; SHAPES=mosei; BATCH=24
  step tests 120 $PY -m pytest -q -x -p no:cacheprovider tests/models/test_functional_stacking.py \
    tests/train/test_teacher_targets.py tests/train/test_packing.py tests/train/test_pack_session.py \
    tests/bench/test_bench_cli.py -m "not slow"
  step bench 150 $PY -m kdsearch bench --device cuda --shapes mosei --batch $BATCH --configs 5 --skip-search \
    --json "$WORK/bench.json"
  step cache_steps 60 $PY -c "import json; from kdsearch.bench.cache_steps import cache_step_comparison as c; \
json.dump(c(shapes='mosei', batch=$BATCH, device='cuda', threads=None, reps=20), open('$WORK/cache_steps.json', 'w'))"
  step packed 90 $PY benchmarks/packed_throughput.py --device cuda --shapes small --batch 64 --steps 10 \
    --packs 1,8,32 --out "$WORK/packed.json"
  step search 150 $PY -m kdsearch run search_spaces/edam.yaml --gpus 1 --num-samples 16 --name gpu-check \
    --results-dir "$WORK/results"
  step search_packed 150 $PY -m kdsearch run "$WORK/edam_packed.yaml" --gpus 1 --num-samples 16 \
    --name gpu-check-packed --results-dir "$WORK/results"
fi

# One JSON: each step's exit status and seconds, the figures each wrote, the search's rows.
$PY - "$WORK" "$OUT" "$DRY" "$STARTED" <<'PY'
import json, os, sys, time
work, out, dry, started = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
steps = {}
for line in open(os.path.join(work, "steps.tsv")):
    name, rc, secs = line.rstrip("\n").split("\t")
    steps[name] = {"rc": int(rc), "seconds": round(int(secs) / 1000.0, 1)}
figures = {}
for name in ("bench", "cache_steps", "packed"):
    path = os.path.join(work, f"{name}.json")
    if os.path.isfile(path):
        figures[name] = json.load(open(path))
for step_name, folder in (("search", "gpu-check"), ("search_packed", "gpu-check-packed")):
    search = os.path.join(work, "results", folder, "trials.parquet")
    if os.path.isfile(search):
        import pandas as pd
        trials = pd.read_parquet(search)
        figures[step_name] = {"trials": len(trials), "seconds": steps.get(step_name, {}).get("seconds"),
                              "best_val_acc7": float(trials["best_val_acc7"].max())
                              if "best_val_acc7" in trials else None}
result = {"dry_run": dry, "wall_s": int(time.time()) - started, "steps": steps, "figures": figures,
          "ok": all(s["rc"] == 0 for s in steps.values()), "load_avg": list(os.getloadavg())}
with open(out, "w") as f:
    json.dump(result, f, indent=2)
print(f"gpu_check: {'dry run, ' if dry else ''}{len(steps)} steps, ok={result['ok']}, {result['wall_s']} s -> {out}")
sys.exit(0 if result["ok"] else 1)
PY
rc=$?
# Logs stay for a look when something failed; a clean run leaves only the JSON.
if [[ $rc -eq 0 ]]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
exit $rc
