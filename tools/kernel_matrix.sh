#!/usr/bin/env bash
# Every test marked `exact` under each float-kernel configuration this CPU allows: ATen's
# capability (default / avx2 / avx512) x oneDNN's ISA cap (SSE41 / AVX2 / AVX512_CORE) x 1, 2, 3
# threads.  Another machine sums floats in another order; these are the orders this one can be
# made to take.  An exact test must pass under all of them (compared in float64 or tie-aware).
#
#     tools/kernel_matrix.sh [OUT.md] [extra pytest args]     (default OUT: kernel_matrix.md)
#
# Writes a Markdown table: one row per configuration, its pass/fail counts, wall time and the
# tests that failed; exits 1 if any test failed under any configuration.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-kernel_matrix.md}
shift || true
py=.venv/bin/python
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $flags " == *" $1 "* ]]; }

caps=(default); has avx2 && caps+=(avx2); has avx512f && has avx512bw && caps+=(avx512)
isas=(SSE41); has avx2 && isas+=(AVX2); has avx512f && isas+=(AVX512_CORE)

{
  echo "# The exact tests under every float-kernel configuration of this CPU"
  echo
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); command: \`tools/kernel_matrix.sh $*\`"
  echo
  echo "| ATEN_CPU_CAPABILITY | ONEDNN_MAX_CPU_ISA | OMP_NUM_THREADS | passed | failed | wall s | failing tests |"
  echo "|---|---|---|---|---|---|---|"
} > "$out"
bad=0
for cap in "${caps[@]}"; do
  for isa in "${isas[@]}"; do
    for threads in 1 2 3; do
      log=$(mktemp)
      start=$(date +%s)
      # one thread a process: two xdist workers fill the cores; more threads: one process
      workers=(); [[ $threads == 1 ]] && workers=(-n 2)
      ATEN_CPU_CAPABILITY=$cap ONEDNN_MAX_CPU_ISA=$isa OMP_NUM_THREADS=$threads \
        $py -m pytest -q "${workers[@]}" -m "exact and not slow" -p no:cacheprovider -rf "$@" > "$log" 2>&1
      rc=$?
      secs=$(( $(date +%s) - start ))
      summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -1)
      passed=$(grep -oE '[0-9]+ passed' <<< "$summary" | cut -d' ' -f1)
      failed=$(grep -oE '[0-9]+ failed' <<< "$summary" | cut -d' ' -f1)
      failing=$(grep -E '^FAILED ' "$log" | cut -d' ' -f2 | paste -sd' ' -)
      [[ $rc -ne 0 ]] && bad=1
      [[ $rc -ne 0 && -z $failed ]] && failing="pytest exit $rc: $(tail -1 "$log")"
      echo "| $cap | $isa | $threads | ${passed:-0} | ${failed:-0} | $secs | ${failing:-} |" >> "$out"
      echo "$cap $isa $threads: ${passed:-0} passed, ${failed:-0} failed (${secs} s)"
      rm -f "$log"
    done
  done
done
echo "wrote $out"
exit $bad
