#!/usr/bin/env bash
# Nightly dataset expansion, made for cron: an incremental `augment run` (only photos that are new
# or changed since the last night, added to the same dataset), one log file per night, no progress
# bar, one run at a time.
#
#   scripts/nightly.sh --config PRESET --input IN --output OUT [--max-failures N] [--log-dir DIR]
#                      [--executor local|ray] [--ray-address ADDR] [--workers W] [--no-report]
#                      [-- MORE RUN OPTIONS]
#
# After the run it writes the run's page, OUTPUT/report/index.html (`augment report`; --no-report: not).
#
# crontab example (02:15 every night, 20 bad photos tolerated, Ray cluster with GPU workers):
#   15 2 * * * /srv/product-augment/scripts/nightly.sh --config catalog-white \
#       --input s3://shop/photos --output s3://shop/augmented --executor ray --ray-address auto \
#       --max-failures 20 --log-dir /var/log/product-augment
#
# Exit codes: 0 done (at most --max-failures inputs failed), 1 more failures than that or the run
# could not start, 2 bad preset or options, 3 another nightly run still holds the lock.
# Environment: AUGMENT (the augment command; default: the repository's .venv, else `augment` on PATH).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
augment="${AUGMENT:-}"
if [[ -z "$augment" ]]; then
  if [[ -x "$here/.venv/bin/augment" ]]; then augment="$here/.venv/bin/augment"; else augment="augment"; fi
fi

config="" input="" output="" max_failures=0 log_dir="${LOG_DIR:-$here/logs}" extra=() report_on=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --input) input="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --max-failures) max_failures="$2"; shift 2 ;;
    --log-dir) log_dir="$2"; shift 2 ;;
    --no-report) report_on=0; shift ;;
    --executor|--ray-address|--workers|--shard-size|--retries|--balance) extra+=("$1" "$2"); shift 2 ;;
    --) shift; extra+=("$@"); break ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "nightly.sh: unknown option $1 (options for augment run go after --)" >&2; exit 2 ;;
  esac
done
if [[ -z "$config" || -z "$input" || -z "$output" ]]; then
  echo "nightly.sh: --config, --input and --output are required" >&2
  exit 2
fi
if ! [[ "$max_failures" =~ ^[0-9]+$ ]]; then
  echo "nightly.sh: --max-failures must be a whole number, not '$max_failures'" >&2
  exit 2
fi

mkdir -p "$log_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
log="$log_dir/nightly-$stamp.log"
lock="$log_dir/nightly.lock"

exec 9>"$lock"
if ! flock -n 9; then
  echo "nightly.sh: another nightly run holds $lock; not starting" | tee -a "$log" >&2
  exit 3
fi

{
  echo "# $(date -u +%FT%TZ) nightly run: $augment run --config $config --input $input --output $output"
  echo "#   --mode incremental --max-failures $max_failures ${extra[*]:-}"
} >>"$log"
start=$(date +%s)
"$augment" run --config "$config" --input "$input" --output "$output" --mode incremental \
  --no-progress --max-failures "$max_failures" "${extra[@]}" >>"$log" 2>&1
rc=$?
{
  echo "# $(date -u +%FT%TZ) exit $rc after $(( $(date +%s) - start )) s"
} >>"$log"
# the run's page (RUN_DIR/report/index.html: outputs, the quality gate's verdicts, times, preset);
# a run that could not start (exit 2, 3, or no manifest) has none; a failed report never changes rc
report=""
if [[ "$report_on" == 1 ]] && "$augment" report "$output" >>"$log" 2>&1; then
  report="; report $output/report/index.html"
fi
# one line for cron's mail (or the journal): the run's summary and where the log is
summary="$(grep -E ' written, ' "$log" | tail -1)"
gate="$(grep -E '^quality gate: ' "$log" | tail -1)"
echo "nightly $stamp: ${summary:-no summary (see the log)}${gate:+; $gate}; exit $rc; log $log$report"
exit "$rc"
