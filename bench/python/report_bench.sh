#!/usr/bin/env bash
# The offline report and logging benchmarks of issues 14 and 16, one after the other,
# in one session. Usage: bench/python/report_bench.sh DATA_DIR
#   DATA_DIR holds schema.json, ref200k.csv, cur1m.csv, ref2m.csv, cur10m.csv (see
#   report_peers.py `write` and `schema`; ref2m/cur10m may be made by repeating the
#   rows of ref200k/cur1m ten times with new ids, as PERFORMANCE.md says).
# Needs: MW (the release `modelwatch`), MW_BEFORE (optional, an older one to compare),
# EVPY (python with evidently 0.4.40), MWPY (python with the modelwatch package),
# WLPY (python with whylogs 1.6.4).
set -u
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
out=$dir/results
mkdir -p "$out"
timed() { # name, command...
  local name=$1; shift
  echo "== $name (load: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/summary.txt"
  /usr/bin/time -v "$@" > "$out/$name.out" 2> "$out/$name.time"
  grep -E "Elapsed|Maximum resident|User time|System time" "$out/$name.time" | tee -a "$out/summary.txt"
}
cd "$dir"
timed mw_1m "$MW" report --schema schema.json --reference ref200k.csv --current cur1m.csv -o "$out/mw_1m.json"
if [ -n "${MW_BEFORE:-}" ]; then
  timed before_1m "$MW_BEFORE" report --schema schema.json --reference ref200k.csv --current cur1m.csv -o "$out/before_1m.json"
fi
timed evidently_1m "$EVPY" "$here/report_peers.py" evidently --reference ref200k.csv --current cur1m.csv
timed mwreport_1m "$MWPY" "$here/report_peers.py" mwreport --reference ref200k.csv --current cur1m.csv
timed mw_10m_ref200k "$MW" report --schema schema.json --reference ref200k.csv --current cur10m.csv -o "$out/mw_10m_ref200k.json"
timed mw_2m_10m "$MW" report --schema schema.json --reference ref2m.csv --current cur10m.csv -o "$out/mw_2m_10m.json"
"$MWPY" "$here/report_peers.py" verdicts --report "$out/mw_1m.json" > "$out/mw_1m.verdicts.json"
timed whylogs_1m "$WLPY" "$here/log_peers.py" whylogs --rows 1000000
echo "done $(date -u)" | tee -a "$out/summary.txt"
