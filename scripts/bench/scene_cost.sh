#!/bin/bash
# usage: scripts/bench/scene_cost.sh OLD_CHECKOUT   (e.g. a git worktree of the commit to compare with)
# photo-scene per-image time, old (9b7ae5e) vs new (HEAD), one worker, one thread, alternating
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for r in 1 2; do
  for v in old new; do
    if [ $v = old ]; then SRC=$1; else SRC=/work/main; fi
    rm -rf /tmp/cost_$v
    PYTHONPATH=$SRC/src /work/main/.venv/bin/python -m product_augment.cli.main run --config $SRC/configs/photo-scene.yaml --input /work/main/examples --output /tmp/cost_$v --workers 1 2>&1 | grep written | sed "s/^/$v r$r: /"
    /work/main/.venv/bin/python - $v <<'PY'
import json,sys,statistics
v=sys.argv[1]
es=[json.loads(l) for l in open(f'/tmp/cost_{v}/manifest.jsonl')]
tot=[sum(e['step_seconds'].values()) for e in es if 'step_seconds' in e]
steps={}
for e in es:
    for k,x in e.get('step_seconds',{}).items(): steps.setdefault(k,[]).append(x)
print(v, 'per image (sum of steps) median', round(statistics.median(tot),4), {k: round(statistics.median(x),4) for k,x in steps.items()})
PY
  done
done
