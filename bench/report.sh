#!/usr/bin/env bash
# report.sh - turn bench/run.sh's raw results into a Markdown table and a PNG.
# Usage: report.sh RAW.tsv META OUT.md OUT.png
#   RAW.tsv: METRIC<TAB>CONTENDER<TAB>RUN<TAB>VALUE (VALUE "FAIL" on failure)
#   META:    key=value lines written by run.sh (profile, sizes, versions, load)
#        report.sh --collect DIR
#   prints every profile's report in DIR (PROFILE.md, as written above) as
#   one Markdown file, with the commits they were measured on (latest.md).
# Cells are "median (min–max)" over the runs plus the ratio to the best raw
# curl median of the row (single stream or parallel) and to bucketfs. Every
# number is lower-is-better. The PNG needs gnuplot; without it only the .md.
set -euo pipefail
export LC_ALL=C
if [ "${1:-}" = --collect ]; then
  DIR=${2:?usage: report.sh --collect DIR}
  mds=()
  for f in "$DIR"/*.md; do
    case ${f##*/} in latest.md | README.md) ;; *) [ -f "$f" ] && mds+=("$f") ;; esac
  done
  [ ${#mds[@]} -gt 0 ] || { echo "report: no profile reports in $DIR" >&2; exit 1; }
  commits=$(sed -n 's/^<!-- commit: \(.*\) -->$/\1/p' "${mds[@]}" | sort -u)
  echo "# bucketfs benchmark results"
  echo
  if [ "$(wc -l <<<"$commits")" = 1 ]; then
    echo "All profiles below were measured on commit $commits."
  else
    echo "**The profiles below come from different commits** ($(paste -sd, <<<"$commits" | sed 's/,/, /g')): compare ratios only within one table."
  fi
  for f in "${mds[@]}"; do
    echo
    sed -e 's/^# /## /' "$f"
  done
  exit 0
fi
RAW=${1:?usage: report.sh RAW META OUT.md OUT.png}
META=${2:?}
MD=${3:?}
PNG=${4:?}
m() { sed -n "s/^$1=//p" "$META"; }
mib() { awk -v m="$1" 'BEGIN { if (m >= 1024 && m % 1024 == 0) printf "%d GiB", m / 1024; else printf "%d MiB", m }'; }
BIG=$(mib "$(m big_mib)")
HUGE=$(mib "$(m huge_mib)")
N=$(m small_n)
L=$(m list_n)
R=$(m rand_n)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# metric id | row label | unit (the chart shows the rows with unit s or MiB RSS)
cat >"$TMP/metrics" <<EOF
w1_durable|1. $BIG \`cp\` in, until complete in the bucket|s
w1_cp|1. $BIG \`cp\` in, until \`cp\` returns|s
w1_status|1. … until \`bucketfs status --wait\` returns|s
w1_cpu|1. … daemon CPU time per GiB uploaded (user + system)|s
w1_mcpu|1. … the machine's CPU per GiB: every process, kernel thread and interrupt|core-s
w1_scpu|1. … of which the server's processes (and the relay)|core-s
w1_busy|1. … the cores' time busy, over the run|%
w1_steal|1. … the cores' time taken by the hypervisor, over the run|%
w2_seq|2. $BIG read cold (\`dd\` to /dev/null)|s
w2_seq_gets|2. … GET requests of the cold read (server log)|requests
w2_cpu|2. … daemon CPU time per GiB read cold (user + system)|s
w2_mcpu|2. … the machine's CPU per GiB: every process, kernel thread and interrupt|core-s
w2_scpu|2. … of which the server's processes (and the relay)|core-s
w2_busy|2. … the cores' time busy, over the read|%
w2_steal|2. … the cores' time taken by the hypervisor, over the read|%
w2_rand|2. $R random 1 MiB reads (\`dd\`)|s
w3_durable|3. $N × 4 KiB \`cp -r\` in, until all in the bucket|s
w3_cp|3. $N × 4 KiB, until \`cp -r\` returns|s
w4_ls|4. \`ls -l\` of $L objects, fresh mount (curl: paginated list, request time)|s
w5_scratch|5. $BIG upload from close to durable, from scratch|s
w5_resume|5. … \`kill -9\` at half, remount to durable|s
w5_resent|5. … data sent after the remount|MiB
w5_puts|5. … part PUTs after the remount (of all parts)|parts
w5_again|5. … parts done before the kill and sent again|parts
w6_rss_w1|6. peak RSS during workload 1|MiB
w6_rss_huge|6. peak RSS, $HUGE upload|MiB
EOF

# derived per run: part PUTs after the remount beyond the parts that were not
# done at the kill (in flight or not started) = completed parts sent again
awk -F'\t' '{ print } $4 != "FAIL" { v[$1, $3] = $4; runs[$3] = 1 }
  END { for (r in runs) if (("w5_puts", r) in v && ("w5_parts", r) in v && ("w5_done_at_kill", r) in v) {
          again = v["w5_puts", r] - (v["w5_parts", r] - v["w5_done_at_kill", r])
          printf "w5_again\tbucketfs\t%s\t%d\n", r, (again > 0 ? again : 0) } }' "$RAW" >"$TMP/raw"
RAW=$TMP/raw

# per metric and contender: median, min, max, runs, failures
awk -F'\t' '
  { k = $1 SUBSEP $2
    if ($4 == "FAIL") { fail[k]++; seen[k] = 1; next }
    v[k] = v[k] " " $4; seen[k] = 1 }
  END {
    for (k in seen) {
      n = split(substr(v[k], 2), a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      split(k, km, SUBSEP)
      if (n == 0) { printf "%s\t%s\t-\t-\t-\t0\t%d\n", km[1], km[2], fail[k]; continue }
      med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      printf "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", km[1], km[2], med, a[1], a[n], n, fail[k]
    }
  }' "$RAW" >"$TMP/stats"

CONT=(curl curlp bucketfs s3fs rclone)
HEAD=("raw curl" "curl, parallel" "bucketfs" "s3fs" "rclone")
# shellcheck disable=SC2016 # backticks are Markdown
awk -F'\t' -v conts="${CONT[*]}" -v heads="$(IFS='|'; echo "${HEAD[*]}")" '
  function f(x) { x += 0; return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
  FILENAME == ARGV[1] { med[$1, $2] = $3; lo[$1, $2] = $4; hi[$1, $2] = $5; nok[$1, $2] = $6; nf[$1, $2] = $7
                        if ($1 == "w1_local") localcp = $3
                        if ($1 == "w1_local_sync") localsync = $3; next }
  {
    split($0, d, "|"); id = d[1]; label = d[2]; unit = d[3]
    nc = split(conts, c, " ")
    any = 0
    for (i = 1; i <= nc; i++) if ((id, c[i]) in med) any = 1
    if (!any) next
    best = ""
    for (i = 1; i <= 2; i++) if ((id, c[i]) in med && med[id, c[i]] != "-" && (best == "" || med[id, c[i]] + 0 < best + 0)) best = med[id, c[i]]
    b = ((id, "bucketfs") in med && med[id, "bucketfs"] != "-") ? med[id, "bucketfs"] : ""
    row = "| " label " (" unit ") |"
    for (i = 1; i <= nc; i++) {
      k = id SUBSEP c[i]
      if (!(k in med)) { row = row " |"; continue }
      if (med[k] == "-") { row = row " failed |"; continue }
      cell = (unit == "parts" || unit == "requests") ? sprintf("%d", med[k]) : f(med[k])
      if (nok[k] > 1) cell = cell " (" f(lo[k]) "–" f(hi[k]) ")"
      if (nf[k] > 0) cell = cell ", " nf[k] " failed"
      if (unit == "s" || unit == "MiB" && id ~ /rss/) {
        if (best != "" && best + 0 > 0 && i > 2) cell = cell "<br>" sprintf("%.2f", med[k] / best) "× curl"
        if (b != "" && b + 0 > 0 && c[i] != "bucketfs") cell = cell "<br>" sprintf("%.2f", med[k] / b) "× bfs"
        if (id == "w1_cp" && localcp + 0 > 0) cell = cell "<br>" sprintf("%.2f", med[k] / localcp) "× local cp"
        if (id == "w1_cp" && localsync + 0 > 0) cell = cell "<br>" sprintf("%.2f", med[k] / localsync) "× local cp+fsync"
      }
      row = row " " cell " |"
    }
    print row
  }
  BEGIN {
    n = split(heads, h, "|")
    printf "| workload |"; for (i = 1; i <= n; i++) printf " %s |", h[i]; print ""
    printf "| --- |";      for (i = 1; i <= n; i++) printf " --- |";       print ""
  }' "$TMP/stats" "$TMP/metrics" >"$TMP/table"

local_cp=$(awk -F'\t' '$1 == "w1_local" && $2 == "local" { print $3 }' "$TMP/stats")
local_sync=$(awk -F'\t' '$1 == "w1_local_sync" && $2 == "local" { print $3 }' "$TMP/stats")
parts_note=$(awk -F'\t' '$1 == "w5_done_at_kill" { d = $3 } $1 == "w5_parts" { t = $3 } END { if (t != "") printf "killed with %s of %s parts done (median)", d, t }' "$TMP/stats")
server_name() {
  case $(m server) in
    rgw) echo "Ceph RGW ($(m store))" ;;
    *) m server ;;
  esac
}
net_name() {
  if [ "$(m net)" = wan ]; then echo "WAN ($(m wan | sed 's/ and direction//'))"; else echo loopback; fi
}
TITLE="$(server_name), $(net_name)"
{
  echo "# bucketfs benchmark: $TITLE, $(m date)"
  echo
  echo "<!-- commit: $(m commit) -->"
  echo "Profile \`$(m profile)\`, commit $(m commit). Server: $(server_name) on 127.0.0.1$([ "$(m server)" = rgw ] && echo ", one $(m store) OSD"). Network: $([ "$(m net)" = wan ] && echo "every contender, raw curl included, through the shaping relay of \`tests/tools/faultproxy.js\` ($(m wan); the bench's own checks of the bucket go straight to the server)" || echo "loopback, nothing added"). Runs per cell: $(m runs)$([ "$(m quick)" = 1 ] && echo ' (BENCH_QUICK: reduced sizes)'). Cells: median (min–max) over the runs; ratios are the median over the best raw-curl median of the row (× curl) and over bucketfs's (× bfs). Every number is lower-is-better."
  echo
  cat "$TMP/table"
  echo
  echo "- raw curl: one PUT / one GET / one process per small file, in sequence; \`dd\` reads: one curl process, one connection, $R ranged GETs."
  echo "- curl, parallel: large write as a multipart upload ($(m mpu), parts read by \`dd\` from the file, \`xargs -P\`); small files: \`xargs -P 16\` of single PUTs."
  [ -n "$local_cp" ] && echo "- Reference: \`cp\` of the $BIG file to a local directory took $local_cp s (median)$([ -n "$local_sync" ] && echo ", and $local_sync s followed by \`sync FILE\` (fsync), which is what bucketfs's close does to its staged copy")."
  echo "- Workload 1, complete in the bucket: when a HEAD (polled every 50 ms) finds the whole object. s3fs's \`cp\` returns after its upload. bucketfs: \`bucketfs status --wait\` is waited for first, then the HEAD; rclone is polled from the start (on s3rver a HEAD during CompleteMultipartUpload costs the server a hash of the half-written object). Before run 1, one unrecorded multipart upload of the file (deleted again) warms the server up; every contender starts with the local disk's dirty pages written back and, on RGW, the previous contender's deleted object collected (\`radosgw-admin gc process\`)."
  grep -q '^w[12]_mcpu' "$RAW" &&
    echo "- The machine's CPU (workloads 1 and 2) is read from \`/proc/stat\` at the start and at the end of each contender's run, so it counts everything the run made the machine do, the server's work included. Where the cores are near 100% busy, the machine's core-seconds divided by the cores' count bound the time from below: a contender is then as fast as the CPU its way of working costs the whole machine. Time taken by the hypervisor (steal) is neither busy nor available."
  [ -n "$parts_note" ] && echo "- Workload 5: $parts_note."
  [ "$(m bucketfs_writes)" = 1 ] || echo "- bucketfs could not write files in this build (its staged write path was unfinished): its write workloads (1, 3, 5, 6) are empty."
  echo "- Versions: $(m bucketfs); $(m s3fs); $(m rclone). Machine: $(m cpu). Load average $(m load). Total run time $(m elapsed) s."
} >"$MD"

# --- chart: one cluster per time/RSS row, one bar per contender, log scale ---
command -v gnuplot >/dev/null || { echo "report: gnuplot missing; no chart" >&2; exit 0; }
awk -F'\t' -v conts="${CONT[*]}" '
  FILENAME == ARGV[1] { med[$1, $2] = $3; lo[$1, $2] = $4; hi[$1, $2] = $5; next }
  {
    split($0, d, "|"); id = d[1]; unit = d[3]
    if (unit != "s" && id !~ /rss/) next
    nc = split(conts, c, " ")
    line = ""; any = 0
    for (i = 1; i <= nc; i++) {
      k = id SUBSEP c[i]
      if ((k in med) && med[k] != "-") { line = line "\t" med[k] "\t" lo[k] "\t" hi[k]; any = 1 }
      else line = line "\t-\t-\t-"
    }
    if (!any) next
    lab = id; sub(/^w/, "", lab); gsub(/_/, " ", lab)
    if (id ~ /rss/) lab = lab " (MiB)"; else lab = lab " (s)"
    print "\"" lab "\"" line
  }' "$TMP/stats" "$TMP/metrics" >"$TMP/chart.dat"
{
  echo 'set terminal pngcairo size 1500,700 font ",10"'
  echo "set output '$PNG'"
  echo "set title 'bucketfs vs raw curl, s3fs, rclone ($TITLE, median of $(m runs), min–max bars; lower is better)'"
  echo 'set style data histogram'
  echo 'set style histogram errorbars gap 2 lw 1'
  echo 'set style fill solid 0.85 border -1'
  echo 'set datafile missing "-"'
  echo 'set datafile separator "\t"'
  echo 'set logscale y'
  echo 'set yrange [0.05:*]'
  echo 'set grid ytics'
  echo 'set key top left'
  echo 'set xtics rotate by -25 scale 0 noenhanced'
  echo 'set ylabel "seconds (MiB for RSS), log scale"'
  printf 'plot '
  for i in "${!CONT[@]}"; do
    col=$((2 + 3 * i))
    [ "$i" -gt 0 ] && printf ', '
    printf "'%s' using %d:%d:%d%s title '%s'" "$TMP/chart.dat" "$col" $((col + 1)) $((col + 2)) \
      "$([ "$i" = 0 ] && echo ':xtic(1)')" "${HEAD[$i]}"
  done
  echo
} >"$TMP/chart.gp"
gnuplot "$TMP/chart.gp" 2>"$TMP/gnuplot.err" || { echo "report: gnuplot failed:" >&2; cat "$TMP/gnuplot.err" >&2; }
