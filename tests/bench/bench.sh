#!/usr/bin/env bash
# Side-by-side benchmark: sigmaproxy against Debian's nginx as a plain keep-alive reverse proxy,
# each pinned to CPU 0 with one event loop (one worker), in front of one mock_upstream on CPU 1;
# the load generators (wrk, sse_bench) share CPU 1 with the mock. Each round runs direct (wrk to
# the mock), nginx, then sigmaproxy, each proxy freshly started; the report prints every round, the
# medians, and a summary with the targets of the issue, PASS or MISS per line.
#   make bench            (sets SIGMAPROXY_BIN and MOCK_BIN; builds sse_bench with make)
# Environment: ROUNDS (3), DURATION_S (5), WARMUP_S (1), SSE_CONCURRENCY (32), SSE_STREAMS (96),
#   SLOW_STREAMS (1000), NOISE_BUDGET_S (60), NGINX_BIN, SSE_BENCH_BIN, BENCH_KEEP_TMP=1 (keep the
#   temp dir and logs).
# Other processes on the machine spoil the figures: before each measured run the script waits for
# quiet CPUs and re-runs a run they disturbed, within NOISE_BUDGET_S; what stays noisy is listed.
# Loads: 1. small chat-completion POST, wrk -t1 -c32: req/s, p50/p99, proxy CPU per request
#        2. the same with -c1: p50 added over direct
#        3. SSE, 50 events 20 ms apart, 32 streams at a time: relay delay, first event, held back
#        4. SLOW_STREAMS streams (an event a second) held open: proxy RSS and threads
set -u
export LC_ALL=C # awk's and printf's decimal point, sort
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${SIGMAPROXY_BIN:=$SRC_DIR/build/release/sigmaproxy}"
: "${MOCK_BIN:=$SRC_DIR/build/release/mock_upstream}"
: "${NGINX_BIN:=$(command -v nginx || echo /usr/sbin/nginx)}"
: "${ROUNDS:=3}" "${DURATION_S:=5}" "${WARMUP_S:=1}"
: "${SSE_CONCURRENCY:=32}" "${SSE_STREAMS:=96}" "${SLOW_STREAMS:=1000}"
: "${NOISE_BUDGET_S:=60}" # most seconds spent waiting for quiet CPUs and re-running noisy runs
SSE_EVENTS=50
SSE_GAP_MS=20
NOISY_PCT=5 # other processes taking more than this % of a CPU make a run noisy: it is run again
NOISE_SPENT_US=0
TARGETS=(direct nginx sigmaproxy)
CLK_TCK=$(getconf CLK_TCK)

die() {
    echo "bench: $*" >&2
    exit 1
}

for bin in "$SIGMAPROXY_BIN" "$MOCK_BIN" "$NGINX_BIN"; do
    [ -x "$bin" ] || die "$bin: not found or not executable (make bench builds and installs all)"
done
command -v wrk >/dev/null || die "wrk not found (tests/deps.sh bench installs it)"
command -v taskset >/dev/null || die "taskset not found (util-linux)"
[ "$(nproc --all)" -ge 2 ] || die "needs 2 CPUs: the proxy on CPU 0, mock and load on CPU 1"
if [ -z "${SSE_BENCH_BIN:-}" ]; then
    make -s -C "$SRC_DIR" build/release/sse_bench >&2 || die "cannot build sse_bench"
    SSE_BENCH_BIN=$SRC_DIR/build/release/sse_bench
fi

# Each stream holds a socket in the client, two in the proxy and one in the mock; the hard
# limit may be below 65536 in a container, and then what it allows has to do.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((2 * SLOW_STREAMS + 100)) ] ||
    die "ulimit -n is $(ulimit -n): too few descriptors for $SLOW_STREAMS streams"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sigmaproxy-bench.XXXXXX") || die "cannot create a temp dir"
declare -A LIVE # pid -> name, for every process this script started and has not reaped
ANOMALIES=()

cleanup() {
    local pid deadline=$((${EPOCHSECONDS:-0} + 10))
    for pid in "${!LIVE[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${!LIVE[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ "$EPOCHSECONDS" -lt "$deadline" ]; do sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then echo "bench: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

anomaly() {
    ANOMALIES+=("$*")
    echo "    ! $*"
}

now_us() {
    local t=${EPOCHREALTIME/./}
    echo $((10#$t))
}

# wait_until CMD TIMEOUT_S PID: polls CMD until it succeeds; fails when PID dies or time runs out.
wait_until() {
    local deadline=$(($(now_us) + $2 * 1000000))
    until eval "$1"; do
        kill -0 "$3" 2>/dev/null || return 1
        [ "$(now_us)" -lt "$deadline" ] || return 1
        sleep 0.02
    done
}

# spawn NAME CPU CMD...: starts CMD on CPU in the background; sets PID.
spawn() {
    local name=$1 cpu=$2
    shift 2
    taskset -c "$cpu" "$@" &
    PID=$!
    LIVE[$PID]=$name
}

# reap PID [TIMEOUT_S]: TERM, then KILL after the timeout; sets RC to the exit status.
reap() {
    local pid=$1 deadline=$(($(now_us) + ${2:-10} * 1000000))
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ "$(now_us)" -lt "$deadline" ]; do sleep 0.02; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        anomaly "${LIVE[$pid]} (pid $pid) did not exit within ${2:-10} s of SIGTERM: killed"
    fi
    wait "$pid"
    RC=$?
    unset "LIVE[$pid]"
}

# run_fg NAME CPU CMD...: runs CMD pinned to CPU and waits for it (a background job, so that a
# signal reaches the trap at once); sets RC.
run_fg() {
    spawn "$@"
    local pid=$PID
    wait "$pid"
    RC=$?
    unset "LIVE[$pid]"
}

cpu_ticks() { # PID: utime + stime of the whole process, in CLK_TCK ticks
    local line rest
    read -r line <"/proc/$1/stat" || return 1
    rest=${line##*) } # the command name may hold spaces and parentheses
    # shellcheck disable=SC2086 # split into fields on purpose
    set -- $rest
    echo $((${12} + ${13}))
}

# snapshot: "BUSY1 TOTAL1 MEASURED FOREIGN" in ticks: CPU 1 busy (interrupts included) and in all
# from /proc/stat; the CPU time of CPU_PID; and that of every process outside this script's tree
# and the kernel's threads (cutime/cstime count the children they reaped, so processes that come
# and go in between are counted too). Per-process times are exact, unlike /proc/stat's sampling.
snapshot() {
    awk '$1 == "cpu1" {
        busy = $2 + $3 + $4 + $7 + $8 + $9 # user nice system irq softirq steal
        printf "%d %d ", busy, busy + $5 + $6 }' /proc/stat
    echo "$(cpu_ticks "$CPU_PID") $(cat /proc/[0-9]*/stat 2>/dev/null | awk -v me=$$ '{
        pid = $1
        sub(/ \(.*\) /, " ") # the command name may hold spaces and parentheses
        parent[pid] = $3
        ticks[pid] = $13 + $14 + $15 + $16 }
        END {
            for (p in ticks) {
                q = p
                while (q != me && q != 2 && q > 1) q = parent[q]
                if (q != me && q != 2 && p != 2) sum += ticks[p]
            }
            printf "%d", sum }')"
}

# between A B: "MEASURED OTHER BUSY1" from two snapshots: the ticks of CPU_PID, the % of one CPU
# that other processes used (noise), and the % of CPU 1 busy (near 100, the mock and the load
# generator are the bottleneck).
between() {
    awk -v a="$1" -v b="$2" -v wall_us="$3" -v hz="$CLK_TCK" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        for (i = 1; i <= 4; i++) d[i] = y[i] - x[i]
        printf "%d %.0f %.0f\n", d[3], 100 * d[4] / hz / (wall_us / 1e6),
            d[2] ? 100 * d[1] / d[2] : 0 }'
}

# measure CMD...: run_fg CMD with snapshots around it. Sets RC, D_TICKS, OTHER, BUSY1 (see
# between) and NOISY (0 or 1).
measure() {
    local a b t0 rc
    t0=$(now_us)
    a=$(snapshot)
    run_fg "$@"
    rc=$RC
    b=$(snapshot)
    read -r D_TICKS OTHER BUSY1 <<<"$(between "$a" "$b" $(($(now_us) - t0)))"
    NOISY=0
    [ "$OTHER" -le "$NOISY_PCT" ] || NOISY=1
    RC=$rc
}

# wait_quiet: waits, while NOISE_BUDGET_S lasts, for half a second in which other processes leave
# the CPUs alone (other sessions may share this machine).
wait_quiet() {
    local a b t0
    while [ "$NOISE_SPENT_US" -lt $((NOISE_BUDGET_S * 1000000)) ]; do
        t0=$(now_us)
        a=$(snapshot)
        sleep 0.5
        b=$(snapshot)
        read -r _ OTHER _ <<<"$(between "$a" "$b" $(($(now_us) - t0)))"
        [ "$OTHER" -gt "$NOISY_PCT" ] || return 0
        NOISE_SPENT_US=$((NOISE_SPENT_US + $(now_us) - t0))
    done
}

# should_retry WHAT START_US: after a noisy run that began at START_US, whether to run it again
# (NOISE_BUDGET_S left; it is charged for the run); when not, notes the noisy run as an anomaly.
should_retry() {
    if [ "$NOISE_SPENT_US" -lt $((NOISE_BUDGET_S * 1000000)) ]; then
        echo "    ~ $1: other processes took $OTHER% of a CPU: running it again"
        NOISE_SPENT_US=$((NOISE_SPENT_US + $(now_us) - $2))
        return 0
    fi
    anomaly "round $ROUND: $1 was noisy: other processes took $OTHER% of a CPU"
    return 1
}

# probe_ms: wall time of a fixed CPU-bound loop on CPU 0, idle at that moment: a canary for a
# host that runs slower (this may be a VM sharing its host; no steal time is reported here).
probe_ms() {
    local t0
    t0=$(now_us)
    taskset -c 0 awk 'BEGIN { for (i = 0; i < 2000000; i++) s += i % 7 }'
    echo $((($(now_us) - t0) / 1000))
}

proc_status() { # PID KEY: a field of /proc/PID/status (VmRSS in kB, Threads)
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

# ---- the request ------------------------------------------------------------------------------

# ~400 bytes, like a small chat completion an SDK sends; the mock answers ~600 bytes of JSON.
BODY='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a concise assistant for a quality engineering team. Answer in plain English, in at most three sentences."},{"role":"user","content":"Explain what Six Sigma means and how the DMAIC cycle (define, measure, analyze, improve, control) is used to reduce defects in a manufacturing process."}],"temperature":0.2,"max_tokens":160,"user":"bench-0001"}'
SSE_BODY="{\"stream\":true,${BODY#\{}"
cat >"$TMP/post.lua" <<EOF
wrk.method = "POST"
wrk.body = [[$BODY]]
wrk.headers["Content-Type"] = "application/json"
EOF
URL_PATH=/v1/chat/completions

# ---- processes --------------------------------------------------------------------------------

start_mock() {
    spawn mock_upstream 1 "$MOCK_BIN" --port 0 --port-file "$TMP/mock.port" 2>"$TMP/mock.log"
    MOCK_PID=$PID
    wait_until "[ -s '$TMP/mock.port' ]" 10 "$MOCK_PID" ||
        die "mock_upstream did not start: $(tail -3 "$TMP/mock.log")"
    read -r MOCK_PORT <"$TMP/mock.port"
}

# start_TARGET ROUND: sets URL, CPU_PID (the process whose CPU, RSS and threads count), SERVER_PID.
start_direct() {
    URL=http://127.0.0.1:$MOCK_PORT$URL_PATH
    CPU_PID=$MOCK_PID
    SERVER_PID=
}

start_sigmaproxy() {
    local log=$TMP/sigmaproxy.$1.log pf=$TMP/sigmaproxy.$1.port
    mkdir -p "$TMP/spool"
    spawn sigmaproxy 0 "$SIGMAPROXY_BIN" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
        --port-file "$pf" --upstream "http://127.0.0.1:$MOCK_PORT" --spool-dir "$TMP/spool" \
        --redis '' "${SP_ARGS[@]}" >"$log" 2>&1
    SERVER_PID=$PID
    CPU_PID=$PID
    wait_until "grep -qE '^[0-9]+ [0-9]+\$' '$pf' 2>/dev/null" 10 "$PID" ||
        die "sigmaproxy did not start: $(tail -5 "$log")"
    read -r SP_PORT SP_ADMIN_PORT <"$pf"
    URL=http://127.0.0.1:$SP_PORT$URL_PATH
    grep -q 'with 1 event loop' "$log" ||
        anomaly "sigmaproxy did not say it runs 1 event loop: $(grep -m1 listening "$log")"
}

start_nginx() {
    local dir=$TMP/nginx.$1 port
    mkdir -p "$dir"
    for _ in 1 2 3 4 5; do
        # Below the ephemeral range (32768+), so no outgoing connection holds it; free right now.
        port=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
        cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_max_body_size 64m;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
        spawn nginx 0 "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
            -g 'daemon off;' >>"$dir/stderr.log" 2>&1
        SERVER_PID=$PID
        if wait_until "curl -s -o /dev/null -m 1 http://127.0.0.1:$port/ && pgrep -P $PID >/dev/null" \
            10 "$PID"; then
            CPU_PID=$(pgrep -P "$PID" | head -1) # the worker
            URL=http://127.0.0.1:$port$URL_PATH
            return 0
        fi
        reap "$PID" 2 # the port was taken after all, or worse: try again, then give up
    done
    die "nginx did not start: $(tail -3 "$dir/error.log" "$dir/stderr.log" 2>/dev/null)"
}

# stop_TARGET ROUND: stops what start_TARGET started and notes anything odd it left behind.
# The evaluation side on: every scorer (the defaults) at 10% and 100% sampling. The whole process,
# evaluator thread included, is pinned to CPU 0 like the proxy alone.
SP_ARGS=()
start_sp10() {
    SP_ARGS=(--sample-rate 0.1)
    start_sigmaproxy "sp10.$1"
    SP_ARGS=()
}
start_sp100() {
    SP_ARGS=(--sample-rate 1)
    start_sigmaproxy "sp100.$1"
    SP_ARGS=()
}
stop_sp10() { stop_sigmaproxy "sp10.$1"; }
stop_sp100() { stop_sigmaproxy "sp100.$1"; }

stop_direct() { :; }

stop_sigmaproxy() {
    local log=$TMP/sigmaproxy.$1.log stats k v line
    stats=$(curl -s -m 2 "http://127.0.0.1:$SP_ADMIN_PORT/stats")
    line=
    for k in 2xx 4xx 5xx upstream_errors upstream_timeouts client_aborts upstream_pauses; do
        v=$(sed -n "s/^ *\"$k\": \([0-9]*\).*/\1/p" <<<"$stats" | head -1)
        line+=" $k=${v:-?}"
        case $k in 4xx | 5xx | upstream_errors | upstream_timeouts)
            [ "${v:-0}" = 0 ] || anomaly "round $1: sigmaproxy /stats $k=$v" ;;
        esac
    done
    echo "              /stats:$line"
    reap "$SERVER_PID" 15
    [ "$RC" = 0 ] || anomaly "round $1: sigmaproxy exited with status $RC on SIGTERM"
    local re=' (error|warn) '
    if grep -qE "$re" "$log"; then
        anomaly "round $1: sigmaproxy logged $(grep -cE "$re" "$log") error/warn lines, e.g.:" \
            "$(grep -m1 -E "$re" "$log")"
    fi
}

stop_nginx() {
    local log=$TMP/nginx.$1/error.log re='\[(error|crit|alert|emerg)\]'
    reap "$SERVER_PID" 15
    [ "$RC" = 0 ] || anomaly "round $1: nginx exited with status $RC on SIGTERM"
    if grep -qE "$re" "$log"; then
        anomaly "round $1: nginx logged $(grep -cE "$re" "$log") errors, e.g.: $(grep -m1 -E "$re" "$log")"
    fi
}

# ---- loads ------------------------------------------------------------------------------------

declare -A R # "target.metric.round" -> value

put() { R[$1.$2.$ROUND]=$3; }
get() { echo "${R[$1.$2.$ROUND]:-}"; }

# wrk_load TARGET NAME CONNS: warm-up, then the measured run, once more if it was noisy; stores
# NAME_rps, _p50, _p99 (µs), _cpu (µs per request of CPU_PID), _busy (its % of one CPU), _other
# and _busy1 (see measure).
wrk_load() {
    local target=$1 name=$2 conns=$3 out=$TMP/wrk.$1.$2.$ROUND start vals
    run_fg wrk 1 wrk -t1 -c"$conns" -d"${WARMUP_S}s" -s "$TMP/post.lua" "$URL" >/dev/null
    while :; do
        wait_quiet
        [ "$name" = c32 ] && put "$target" c32_probe "$(probe_ms)"
        start=$(now_us)
        measure wrk 1 wrk -t1 -c"$conns" -d"${DURATION_S}s" --latency -s "$TMP/post.lua" "$URL" \
            >"$out" 2>&1
        if [ "$NOISY" = 0 ] || ! should_retry "$target -c$conns" "$start"; then break; fi
    done
    [ "$NOISY" = 0 ] || put "$target" "${name}_noisy" 1
    [ "$RC" = 0 ] || anomaly "round $ROUND: wrk against $target exited with status $RC"
    vals=$(awk -v ticks="$D_TICKS" -v hz="$CLK_TCK" '
        function us(s) {
            if (s ~ /us$/) return s + 0
            if (s ~ /ms$/) return s * 1000
            if (s ~ /m$/) return s * 60e6
            return s * 1e6
        }
        $1 == "50%" { p50 = us($2) }
        $1 == "99%" { p99 = us($2) }
        / requests in / { n = $1; secs = $4 + 0 }
        $1 == "Requests/sec:" { rps = $2 }
        /Socket errors/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
        /Non-2xx/ { bad = $NF }
        END {
            printf "%.0f %.0f %.0f %.1f %.0f %d %d\n", rps, p50, p99,
                n ? ticks * 1e6 / hz / n : -1, secs ? 100 * ticks / hz / secs : -1, errs, bad
        }' "$out")
    read -r rps p50 p99 cpu busy errs bad <<<"$vals"
    put "$target" "${name}_rps" "$rps"
    put "$target" "${name}_p50" "$p50"
    put "$target" "${name}_p99" "$p99"
    put "$target" "${name}_cpu" "$cpu"
    put "$target" "${name}_busy" "$busy"
    put "$target" "${name}_other" "$OTHER"
    put "$target" "${name}_busy1" "$BUSY1"
    [ "$errs" = 0 ] || anomaly "round $ROUND: wrk -c$conns against $target: $errs socket errors"
    [ "$bad" = 0 ] || anomaly "round $ROUND: wrk -c$conns against $target: $bad non-2xx responses"
}

# kv LINE KEY: the value of KEY=value in LINE.
kv() { sed -n "s/.*\\b$2=\\([-0-9]*\\).*/\\1/p" <<<"$1"; }

sse_load() {
    local target=$1 out=$TMP/sse.$1.$ROUND line k start
    while :; do
        wait_quiet
        start=$(now_us)
        measure sse_bench 1 "$SSE_BENCH_BIN" --concurrency "$SSE_CONCURRENCY" \
            --streams "$SSE_STREAMS" --events "$SSE_EVENTS" --gap-ms "$SSE_GAP_MS" \
            --body "$SSE_BODY" --deadline-s 60 "$URL" >"$out" 2>"$out.err"
        if [ "$NOISY" = 0 ] || ! should_retry "$target SSE" "$start"; then break; fi
    done
    [ "$NOISY" = 0 ] || put "$target" sse_noisy 1
    put "$target" sse_other "$OTHER"
    line=$(cat "$out")
    k=$(kv "$line" events)
    [ "${k:-0}" -gt 0 ] && [ "$target" != direct ] &&
        put "$target" sse_cpu "$(calc "printf \"%.1f\", $D_TICKS * 1e6 / $CLK_TCK / $k")"
    [ "$RC" = 0 ] ||
        anomaly "round $ROUND: sse_bench against $target: status $RC: $(head -3 "$out.err")"
    for k in failed events missing disordered coalesced late delay_p50_us delay_p99_us \
        delay_max_us first_p50_us; do
        put "$target" "sse_$k" "$(kv "$line" "$k")"
    done
    k=$((SSE_STREAMS * SSE_EVENTS))
    [ "$(get "$target" sse_events)" = "$k" ] ||
        anomaly "round $ROUND: $target relayed $(get "$target" sse_events) of $k events"
}

# slow_load TARGET: SLOW_STREAMS streams held open; once each has had an event, samples the RSS and
# thread count of CPU_PID twice, a second apart, and keeps the larger RSS.
slow_load() {
    local target=$1 ready=$TMP/slow.$1.$ROUND.ready out=$TMP/slow.$1.$ROUND rss1 rss2 pid
    spawn sse_bench 1 "$SSE_BENCH_BIN" --concurrency "$SLOW_STREAMS" --events 1000 --gap-ms 1000 \
        --body "$SSE_BODY" --hold-ms 1500 --ready-file "$ready" --deadline-s 30 "$URL" \
        >"$out" 2>"$out.err"
    pid=$PID
    if wait_until "[ -s '$ready' ]" 30 "$pid"; then
        rss1=$(proc_status "$CPU_PID" VmRSS)
        put "$target" slow_threads "$(proc_status "$CPU_PID" Threads)"
        sleep 1
        rss2=$(proc_status "$CPU_PID" VmRSS)
        put "$target" slow_rss_mb "$(calc "printf \"%.1f\", ($rss1 > $rss2 ? $rss1 : $rss2) / 1024")"
    else
        anomaly "round $ROUND: $target: $SLOW_STREAMS streams not all established:" \
            "$(head -3 "$out.err")"
    fi
    wait "$pid"
    RC=$?
    unset "LIVE[$pid]"
    [ "$RC" = 0 ] ||
        anomaly "round $ROUND: slow streams via $target: status $RC: $(head -3 "$out.err")"
}

print_round() { # TARGET
    local t=$1
    printf '  %-11s c32: %6s req/s  p50 %7s µs  p99 %7s µs' "$t" "$(get "$t" c32_rps)" \
        "$(get "$t" c32_p50)" "$(get "$t" c32_p99)"
    [ "$t" = direct ] ||
        printf '  CPU %5s µs/req (busy %s%%)' "$(get "$t" c32_cpu)" "$(get "$t" c32_busy)"
    printf '  [CPU1 busy %s%%, others %s%%, probe %s ms]' "$(get "$t" c32_busy1)" \
        "$(get "$t" c32_other)" "$(get "$t" c32_probe)"
    printf '\n  %-11s c1:  %6s req/s  p50 %7s µs  p99 %7s µs  [others %s%%]\n' "" \
        "$(get "$t" c1_rps)" "$(get "$t" c1_p50)" "$(get "$t" c1_p99)" "$(get "$t" c1_other)"
    printf '  %-11s SSE: delay p50 %s µs, p99 %s µs, max %s µs; first event p50 %s µs' "" \
        "$(get "$t" sse_delay_p50_us)" "$(get "$t" sse_delay_p99_us)" \
        "$(get "$t" sse_delay_max_us)" "$(get "$t" sse_first_p50_us)"
    [ "$t" = direct ] || printf '; CPU %s µs/event' "$(get "$t" sse_cpu)"
    printf '  [others %s%%]\n' "$(get "$t" sse_other)"
    printf '  %-11s      %s events, %s missing, %s disordered, %s coalesced, %s late,' "" \
        "$(get "$t" sse_events)" "$(get "$t" sse_missing)" "$(get "$t" sse_disordered)" \
        "$(get "$t" sse_coalesced)" "$(get "$t" sse_late)"
    printf ' %s failed streams\n' "$(get "$t" sse_failed)"
    [ "$t" = direct ] ||
        printf '  %-11s %s streams: RSS %s MB, %s threads%s\n' "" "$SLOW_STREAMS" \
            "$(get "$t" slow_rss_mb)" "$(get "$t" slow_threads)" \
            "$([ "$t" = nginx ] && echo ' (worker)')"
}

# ---- statistics and report --------------------------------------------------------------------

median_of_lines() { # numbers on stdin, sorted: their median, or n/a
    awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# rounds_of TARGET... METRIC: the rounds in which every TARGET has METRIC from a run that other
# processes left alone (METRIC's prefix names the run: c32, c1, sse, added); if there are none,
# every round with METRIC, and a "~" line after them.
rounds_of() {
    local m=${!#} r t ok any=0 all=()
    local group=${m%%_*}
    for ((r = 1; r <= ROUNDS; r++)); do
        ok=1
        for t in "${@:1:$#-1}"; do
            [ -n "${R[$t.$m.$r]:-}" ] || continue 2
            [ -z "${R[$t.${group}_noisy.$r]:-}" ] || ok=0
        done
        all+=("$r")
        [ "$ok" = 1 ] && echo "$r" && any=1
    done
    if [ "$any" = 0 ] && [ "${#all[@]}" -gt 0 ]; then printf '%s\n' "${all[@]}" "~"; fi
}

# median TARGET METRIC: over rounds_of; a trailing "~" when only disturbed runs had it.
median() {
    local r rounds mark=
    rounds=$(rounds_of "$1" "$2")
    [[ $rounds == *"~"* ]] && mark="~"
    for r in $rounds; do
        [ "$r" = "~" ] || echo "${R[$1.$2.$r]}"
    done | sort -g | median_of_lines | sed "s/\$/$mark/"
}

fmtm() { # FORMAT VALUE: fmt, keeping a trailing "~"
    echo "$(fmt "$1" "${2%\~}")${2//[^~]/}"
}

mf() { fmtm "${3:-%.0f}" "$(median "$1" "$2")"; } # TARGET METRIC [FORMAT]: the median, formatted

total() { # TARGET METRIC: the sum over the rounds
    local r s=0
    for ((r = 1; r <= ROUNDS; r++)); do s=$((s + ${R[$1.$2.$r]:-0})); done
    echo "$s"
}

calc() { awk "BEGIN { $1 }"; }

fmt() { # FORMAT VALUE: VALUE printed with the awk FORMAT, or n/a
    if [ "$2" = n/a ] || [ -z "$2" ]; then echo n/a; else calc "printf \"$1\", $2"; fi
}

# pad TEXT WIDTH: TEXT left-aligned in WIDTH columns; each µ is two bytes but one column.
pad() {
    local s=$1 nomu=${1//µ/}
    printf '%-*s' $(($2 + (${#s} - ${#nomu}) / 2)) "$s"
}

# ---- main -------------------------------------------------------------------------------------

echo "sigmaproxy benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(uname -sr), $(nproc --all) CPUs:" \
    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "  $("$SIGMAPROXY_BIN" --version 2>&1 | head -1)" \
    "($(git -C "$SRC_DIR" describe --always --dirty 2>/dev/null || echo '?'))," \
    "$("$NGINX_BIN" -v 2>&1 | sed 's/.*version: //'), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }')," \
    "CLK_TCK=$CLK_TCK, ulimit -n $(ulimit -n)"
echo "  proxy on CPU 0 (1 loop / 1 worker); mock_upstream, wrk and sse_bench on CPU 1; rounds: $ROUNDS"
echo "  loads: POST ${#BODY} B -> ~640 B JSON, wrk -t1 -c32 and -c1," \
    "${WARMUP_S} s warm-up + ${DURATION_S} s;"
echo "         SSE $SSE_EVENTS events ${SSE_GAP_MS} ms apart, $SSE_STREAMS streams" \
    "$SSE_CONCURRENCY at a time; $SLOW_STREAMS slow streams (an event a second) held open"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# This script and what it starts run on CPU 1, but for the proxies (taskset -c 0).
taskset -pc 1 $$ >/dev/null || die "cannot pin this script to CPU 1"
start_mock
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    echo
    echo "round $ROUND/$ROUNDS"
    for target in "${TARGETS[@]}"; do
        "start_$target" "$ROUND"
        wrk_load "$target" c32 32
        wrk_load "$target" c1 1
        sse_load "$target"
        [ "$target" = direct ] || slow_load "$target"
        print_round "$target"
        "stop_$target" "$ROUND"
        kill -0 "$MOCK_PID" 2>/dev/null || die "mock_upstream died: $(tail -3 "$TMP/mock.log")"
    done
    for target in sp10 sp100; do
        "start_$target" "$ROUND"
        wrk_load "$target" c32 32
        printf '  %-11s c32: %6s req/s  p50 %7s µs  CPU %5s µs/req (busy %s%%)  [others %s%%]\n' \
            "$target" "$(get "$target" c32_rps)" "$(get "$target" c32_p50)" \
            "$(get "$target" c32_cpu)" "$(get "$target" c32_busy)" "$(get "$target" c32_other)"
        "stop_$target" "$ROUND"
    done
done
reap "$MOCK_PID"
[ "$RC" = 0 ] || anomaly "mock_upstream exited with status $RC"
echo
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg);" \
    "waited for quiet CPUs or re-ran noisy runs: $((NOISE_SPENT_US / 1000000)) s of $NOISE_BUDGET_S"

for t in "${TARGETS[@]}"; do
    for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
        [ -n "$(get "$t" c1_p50)" ] && [ -n "$(get direct c1_p50)" ] &&
            put "$t" added_c1 "$(calc "printf \"%.1f\", $(get "$t" c1_p50) - $(get direct c1_p50)")"
        [ -n "$(get "$t" c1_noisy)$(get direct c1_noisy)" ] && put "$t" added_noisy 1
    done
done

echo
printf '%s %11s %11s %11s\n' "$(pad "Medians of $ROUNDS rounds" 36)" "${TARGETS[@]}"
row() { # LABEL METRIC [FORMAT]
    pad "$1" 36
    for t in "${TARGETS[@]}"; do printf ' %11s' "$(mf "$t" "$2" "${3:-}")"; done
    echo
}
row "req/s, 32 conns" c32_rps
row "latency p50, 32 conns (µs)" c32_p50
row "latency p99, 32 conns (µs)" c32_p99
row "CPU per request, 32 conns (µs) *" c32_cpu %.1f
row "proxy CPU busy, 32 conns (%) *" c32_busy
row "CPU 1 busy, 32 conns (%)" c32_busy1
row "CPU 0 probe before 32 conns (ms) +" c32_probe
row "latency p50, 1 conn (µs)" c1_p50
row "latency p99, 1 conn (µs)" c1_p99
row "added p50 over direct, 1 conn (µs)" added_c1
row "SSE relay delay p50 (µs)" sse_delay_p50_us
row "SSE relay delay p99 (µs)" sse_delay_p99_us
row "SSE relay delay max (µs)" sse_delay_max_us
row "SSE first event p50 (µs)" sse_first_p50_us
row "SSE CPU per event (µs)" sse_cpu %.1f
row "$SLOW_STREAMS streams: RSS (MB)" slow_rss_mb %.1f
row "$SLOW_STREAMS streams: threads" slow_threads
printf '%s' "$(pad "SSE events, all rounds" 36)"
for t in "${TARGETS[@]}"; do printf ' %11s' "$(total "$t" sse_events)"; done
echo
printf '%s' "$(pad "SSE missing/coalesced/late, all" 36)"
for t in "${TARGETS[@]}"; do
    printf ' %11s' "$(total "$t" sse_missing)/$(total "$t" sse_coalesced)/$(total "$t" sse_late)"
done
echo
echo "* direct: the mock's own CPU (on CPU 1, which also runs wrk and sse_bench)"
echo "+ a fixed loop timed on CPU 0 just before the run: higher means a slower host at that time"
PROBE_MIN=$(for k in "${!R[@]}"; do [[ $k == *.c32_probe.* ]] && echo "${R[$k]}"; done |
    sort -n | head -1)
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    for t in "${TARGETS[@]}"; do
        v=$(get "$t" c32_probe)
        [ -n "$v" ] && [ "$v" -gt $((PROBE_MIN * 5 / 4)) ] &&
            ANOMALIES+=("round $ROUND: $t -c32: the CPU 0 probe took $v ms (best $PROBE_MIN ms): a slower host")
    done
done

# paired METRIC ratio|diff: the median over the rounds of sigmaproxy's figure divided by (or
# minus) nginx's of the same round: neighbours in time, so a host that slows down between rounds
# cancels out.
paired() {
    local r s n rounds mark=
    rounds=$(rounds_of sigmaproxy nginx "$1")
    [[ $rounds == *"~"* ]] && mark="~"
    for r in $rounds; do
        [ "$r" = "~" ] && continue
        s=${R[sigmaproxy.$1.$r]} n=${R[nginx.$1.$r]}
        if [ "$2" = ratio ]; then calc "print $s / $n"; else calc "print $s - $n"; fi
    done | sort -g | median_of_lines | sed "s/\$/$mark/"
}

# verdict LABEL SP NGINX VS SHOWN_VS TARGET PASS_EXPR: one summary line; PASS_EXPR is awk with s
# bound to sigmaproxy's figure and v to VS (paired, see above).
verdict() {
    local ok=MISS s=${2%\~} v=${4%\~}
    if [ "$s" != n/a ] && [ "$v" != n/a ]; then
        ok=$(calc "s = $s; v = $v; print (($7) ? \"PASS\" : \"MISS\")")
    fi
    printf '%s %10s %10s  %s %s  %s\n' "$(pad "$1" 34)" "$2" "$3" "$(pad "$5" 11)" "$(pad "$6" 24)" \
        "$ok"
}

# paired_of A B METRIC: the median over the rounds of A's METRIC / B's.
paired_of() {
    local r a b rounds mark=
    rounds=$(rounds_of "$1" "$2" "$3")
    [[ $rounds == *"~"* ]] && mark="~"
    for r in $rounds; do
        [ "$r" = "~" ] && continue
        a=${R[$1.$3.$r]:-} b=${R[$2.$3.$r]:-}
        [ -n "$a" ] && [ -n "$b" ] && calc "print $a / $b"
    done | sort -g | median_of_lines | sed "s/\$/$mark/"
}

V_CPU=$(paired c32_cpu ratio) V_RPS=$(paired c32_rps ratio) V_ADD=$(paired added_c1 diff)
V_DLY=$(paired sse_delay_p50_us diff) V_FST=$(paired sse_first_p50_us diff)
held() { # TARGET: SSE events missing, coalesced or late, and failed streams, in all rounds
    echo $(($(total "$1" sse_missing) + $(total "$1" sse_coalesced) + $(total "$1" sse_late) +
        $(total "$1" sse_failed)))
}

echo
printf '%s %10s %10s  %s %s  %s\n' "$(pad "Summary, $ROUNDS rounds" 34)" sigmaproxy nginx \
    "$(pad "vs nginx *" 11)" "$(pad target 24)" result
verdict "CPU per request, 32 conns (µs)" "$(mf sigmaproxy c32_cpu %.1f)" "$(mf nginx c32_cpu %.1f)" \
    "$V_CPU" "$(fmtm %.2fx "$V_CPU")" "<= 2x nginx (goal 1.6x)" "v <= 2"
verdict "req/s, 32 conns" "$(mf sigmaproxy c32_rps)" "$(mf nginx c32_rps)" \
    "$V_RPS" "$(fmtm %.2fx "$V_RPS")" ">= 60% of nginx" "v >= 0.6"
verdict "added p50 over direct, 1 conn (µs)" "$(mf sigmaproxy added_c1)" "$(mf nginx added_c1)" \
    "$V_ADD" "$(fmtm '%+.0f µs' "$V_ADD")" "<= nginx + 50 µs" "v <= 50"
verdict "SSE relay delay p50 (µs)" "$(mf sigmaproxy sse_delay_p50_us)" \
    "$(mf nginx sse_delay_p50_us)" "$V_DLY" "$(fmtm '%+.0f µs' "$V_DLY")" "<= nginx" "v <= 0"
verdict "SSE first event p50 (µs)" "$(mf sigmaproxy sse_first_p50_us)" \
    "$(mf nginx sse_first_p50_us)" "$V_FST" "$(fmtm '%+.0f µs' "$V_FST")" "<= nginx + 500 µs" \
    "v <= 500"
verdict "SSE events held back or missing" "$(held sigmaproxy)" "$(held nginx)" 0 "" "none" "s == 0"
verdict "$SLOW_STREAMS streams: RSS (MB)" "$(mf sigmaproxy slow_rss_mb %.1f)" \
    "$(mf nginx slow_rss_mb %.1f)" 0 "" "< 64 MB" "s < 64"
verdict "$SLOW_STREAMS streams: threads" "$(mf sigmaproxy slow_threads)" "$(mf nginx slow_threads)" \
    0 "" "< 16" "s < 16"
E_CPU100=$(paired_of sp100 nginx c32_cpu) E_RPS100=$(paired_of sp100 nginx c32_rps)
E_CPU10=$(paired_of sp10 sigmaproxy c32_cpu) E_RPS10=$(paired_of sp10 sigmaproxy c32_rps)
echo
printf '%s %10s %10s  %s %s  %s\n' "$(pad "Evaluation on (all scorers)" 34)" sigmaproxy ref \
    "$(pad "vs ref *" 11)" "$(pad target 24)" result
verdict "100% sampled: CPU per request (µs)" "$(mf sp100 c32_cpu %.1f)" "$(mf nginx c32_cpu %.1f)" \
    "$E_CPU100" "$(fmtm %.2fx "$E_CPU100")" "<= 3x nginx" "v <= 3"
verdict "100% sampled: req/s, 32 conns" "$(mf sp100 c32_rps)" "$(mf nginx c32_rps)" \
    "$E_RPS100" "$(fmtm %.2fx "$E_RPS100")" ">= 45% of nginx" "v >= 0.45"
verdict "10% sampled: CPU per request (µs)" "$(mf sp10 c32_cpu %.1f)" \
    "$(mf sigmaproxy c32_cpu %.1f)" "$E_CPU10" "$(fmtm %.2fx "$E_CPU10")" \
    "<= 1.15x sampling off" "v <= 1.15"
verdict "10% sampled: req/s, 32 conns" "$(mf sp10 c32_rps)" "$(mf sigmaproxy c32_rps)" \
    "$E_RPS10" "$(fmtm %.2fx "$E_RPS10")" ">= 0.85x sampling off" "v >= 0.85"
echo "(ref: nginx for 100%, sigmaproxy with sampling off for 10%)"

echo
echo "Scorer cost (build/release/scorer_cost), µs of CPU per KB of assistant output:"
make -s -C "$SRC_DIR" build/release/scorer_cost >&2 && "$SRC_DIR/build/release/scorer_cost" |
    sed 's/^/  /'
echo
echo "Scorer quality on the labelled set (build/release/quality): precision >= 0.95, recall >= 0.90"
make -s -C "$SRC_DIR" build/release/quality >&2 && (cd "$SRC_DIR" && build/release/quality) |
    sed 's/^/  /'

cat <<EOF
Figures: medians over the rounds, leaving out runs that other processes disturbed (~: only such
runs had it). * the median of the per-round ratios or differences (each round runs nginx and
sigmaproxy back to back). CPU: utime+stime from /proc/PID/stat, the whole sigmaproxy process,
the nginx worker. First event: from the request, so it includes the mock's ${SSE_GAP_MS} ms gap.
Held back: events missing, coalesced or late (relay delay >= the gap), and failed streams.
EOF

N_NOISY=0
for a in "${ANOMALIES[@]}"; do [[ $a == *" was noisy: "* ]] && N_NOISY=$((N_NOISY + 1)); done
if [ "$N_NOISY" -gt 0 ]; then
    echo
    cat <<EOF
WARNING: other processes disturbed $N_NOISY of the $((ROUNDS * 3 * ${#TARGETS[@]})) measured runs (listed below). The medians
leave them out where a clean run exists, but check before these figures go into the README:
rerun on a quiet machine, or with a larger NOISE_BUDGET_S (now $NOISE_BUDGET_S s) to wait for one.
EOF
fi

echo
if [ "${#ANOMALIES[@]}" -eq 0 ]; then
    echo "Anomalies: none"
else
    echo "Anomalies: ${#ANOMALIES[@]}"
    printf '  %s\n' "${ANOMALIES[@]}"
fi
