#!/bin/sh
# The quality gate's share of a one-variant `catalog-white` run, from the run's manifest: the gate's
# seconds (step_seconds.qa) over the jobs' seconds. Run from the repository root; SRC is the `src`
# folder of the checkout to measure (alternate two checkouts to compare them).
#
#   scripts/bench/gate_share.sh SRC PHOTOS_DIR [PYTHON]
#   e.g. the 71 real val photos: mkdir /tmp/valph; for s in $(cat data/real/all/val.txt); do
#        ln -s "$PWD"/data/real/all/images/$s.* /tmp/valph/; done
set -e
SRC=$1; PHOTOS=$2; PY=${3:-.venv/bin/python}
OUT=$(mktemp -d)
OMP_NUM_THREADS=1 PYTHONPATH=$SRC $PY -m product_augment.cli.main run --config configs/catalog-white.yaml \
    --input "$PHOTOS" --output "$OUT" --workers 1 > /dev/null 2>&1
$PY - "$OUT/manifest.jsonl" "$SRC" <<'PY'
import json, sys
gate = total = 0.0
for line in open(sys.argv[1]):
    e = json.loads(line)
    total += e.get("seconds", 0.0)
    gate += e.get("step_seconds", {}).get("qa", 0.0)
print(f"{sys.argv[2]}: gate {gate:.2f} s of {total:.2f} s = {100 * gate / total:.1f} %")
PY
rm -rf "$OUT"
