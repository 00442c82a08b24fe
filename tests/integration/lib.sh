# shellcheck shell=bash disable=SC2034 # the variables set here are for the sourcing script
# Helpers for the integration tests (STYLE.md §10), sourced by the bash TAP scripts
# tests/integration/NN_topic.t. They start real processes on free ports (each writes its bound port
# to a file, polled against a deadline), print TAP, and on exit stop everything they started,
# failing the test when a process exits non-zero or a sanitizer spoke (h2o t/Util.pm).
# Only bash, curl, coreutils, grep and awk are used: a Debian minbase has no python.
#
#   TAP      plan N | ok NAME CMD [ARG...] | is GOT WANT NAME | isnt GOT UNWANTED NAME
#            like GOT ERE NAME | unlike GOT ERE NAME | pass NAME | fail NAME
#            diag MSG (stderr) | note MSG (stdout) | skip_all REASON | bail_out REASON | done_testing
#   procs    start_mock [ARG...]   sets MOCK_PORT MOCK_URL MOCK_PID MOCK_LOG (its request log)
#                                  MOCK_STDERR; MOCK_URL is https:// when ARG has --tls-cert
#            start_proxy [ARG...]  sets PROXY_PORT ADMIN_PORT PROXY_URL ADMIN_URL PROXY_PID
#                                  PROXY_LOG (stdout + stderr); upstream: $UPSTREAM_URL or the mock;
#                                  spool: $SIGMAPROXY_SPOOL_DIR or $TEST_DIR/spool
#            start_redis [PORT]    sets REDIS_PORT REDIS_URL REDIS_PID (PORT: restart on it)
#            stop_proc PID | stop_all
#   waiting  now_us | elapsed_ms START_US | wait_until "CMD" [TIMEOUT_S=10] | wait_lines FILE N [S]
#   http     http NAME [CURL_ARG...]  sets HTTP_STATUS HTTP_BODY HTTP_HEADERS HTTP_CURL_RC
#                                     HTTP_TTFB_S HTTP_TOTAL_S
#            header FILE NAME  prints the values of header NAME in the final response of FILE
#
# A script calls start_* directly (never inside $(...)): they set variables and the processes
# must stay children of the script. A failed start is fatal: it reports "not ok" and ends the
# script through done_testing. stop_proc prints a "not ok" line only when something is wrong
# (non-zero exit, no exit within 10 s of SIGTERM, sanitizer report), so prefer done_testing to an
# up-front plan. Set SIGMAPROXY_KEEP_TMP=1 to keep $TEST_DIR for a post-mortem.

export LC_ALL=C # $EPOCHREALTIME's decimal point, sort and grep ranges
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIXTURES_DIR=$SRC_DIR/tests/fixtures
: "${MOCK_BIN:=$SRC_DIR/build/release/mock_upstream}"
: "${SIGMAPROXY_BIN:=$SRC_DIR/build/release/sigmaproxy}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$SRC_DIR/tests/lsan.supp:print_suppressions=0}
# Our curl talks to 127.0.0.1 only: no proxy from the environment, no ~/.curlrc.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

TEST_NAME=$(basename "$0" .t)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sigmaproxy-$TEST_NAME.XXXXXX") || {
    echo "Bail out! cannot create a temporary directory"
    exit 255
}
export CURL_HOME=$TEST_DIR

_TAP_N=0
_TAP_FAILED=0
_TAP_PLAN=
_TAP_DONE=0
_MOCK_N=0
_PROXY_N=0
_PROC_PIDS=()         # in start order
declare -A _PROC_NAME # pid -> name for messages
declare -A _PROC_LOG  # pid -> file holding its stderr

# ---- TAP ---------------------------------------------------------------------------------------

# diag MSG...: each argument on its own line(s), as TAP comments on stderr (prove shows them).
diag() {
    local arg line
    for arg in "$@"; do
        while IFS= read -r line; do printf '# %s\n' "$line" >&2; done <<<"$arg"
    done
}

# note MSG...: the same on stdout (shown by prove -v only).
note() {
    local arg line
    for arg in "$@"; do
        while IFS= read -r line; do printf '# %s\n' "$line"; done <<<"$arg"
    done
}

# _tap_result STATUS NAME: prints one result; STATUS 0 is a pass. Returns STATUS (0 or 1).
_tap_result() {
    local name=${2//#/\\#} # '#' would start a TAP directive
    _TAP_N=$((_TAP_N + 1))
    if [ "$1" -eq 0 ]; then
        printf 'ok %d - %s\n' "$_TAP_N" "$name"
        return 0
    fi
    _TAP_FAILED=$((_TAP_FAILED + 1))
    printf 'not ok %d - %s\n' "$_TAP_N" "$name"
    diag "  Failed test '$2' at ${BASH_SOURCE[2]:-?} line ${BASH_LINENO[1]:-?}."
    return 1
}

plan() {
    _TAP_PLAN=$1
    echo "1..$1"
}

pass() {
    _tap_result 0 "$1"
}

fail() {
    _tap_result 1 "$1"
}

# ok NAME CMD [ARG...]: passes when the command exits 0, e.g. ok "body has 5 events" grep -q x f
ok() {
    local name=$1
    shift
    if "$@"; then
        _tap_result 0 "$name"
    else
        _tap_result 1 "$name"
        diag "  command: $*"
        return 1
    fi
}

is() {
    if [[ "$1" == "$2" ]]; then
        _tap_result 0 "$3"
    else
        _tap_result 1 "$3"
        diag "         got: '$1'" "    expected: '$2'"
        return 1
    fi
}

isnt() {
    if [[ "$1" != "$2" ]]; then
        _tap_result 0 "$3"
    else
        _tap_result 1 "$3"
        diag "         got: '$1'" "    expected anything else"
        return 1
    fi
}

like() {
    if [[ "$1" =~ $2 ]]; then
        _tap_result 0 "$3"
    else
        _tap_result 1 "$3"
        diag "                  '$1'" "    doesn't match '$2'"
        return 1
    fi
}

unlike() {
    if ! [[ "$1" =~ $2 ]]; then
        _tap_result 0 "$3"
    else
        _tap_result 1 "$3"
        diag "                  '$1'" "          matches '$2'"
        return 1
    fi
}

skip_all() {
    echo "1..0 # SKIP $*"
    _TAP_DONE=1
    exit 0
}

# Stops the whole prove run: for a broken environment, not for a failed test.
bail_out() {
    echo "Bail out! $*"
    _TAP_DONE=1
    exit 255
}

# Stops what is still running (which may add failures), prints the plan, exits: 0 when all passed.
done_testing() {
    local rc=0
    stop_all
    if [ -n "$_TAP_PLAN" ]; then
        if [ "$_TAP_PLAN" -ne "$_TAP_N" ]; then
            diag "planned $_TAP_PLAN tests but ran $_TAP_N"
            rc=255
        fi
    else
        echo "1..$_TAP_N"
    fi
    [ "$_TAP_FAILED" -gt 0 ] && rc=$((_TAP_FAILED < 254 ? _TAP_FAILED : 254))
    _TAP_DONE=1
    exit "$rc"
}

# ---- time and waiting --------------------------------------------------------------------------

now_us() {
    echo "${EPOCHREALTIME/./}"
}

elapsed_ms() {
    echo $((($(now_us) - $1) / 1000))
}

# _secs_to_us 1.5 -> 1500000
_secs_to_us() {
    local int=${1%%.*} frac=
    [[ "$1" == *.* ]] && frac=${1#*.}
    frac=${frac}000000
    echo $((${int:-0} * 1000000 + 10#${frac:0:6}))
}

# wait_until "CMD" [TIMEOUT_S]: evaluates CMD every 20 ms until it succeeds (0) or the deadline
# passes (1). TIMEOUT_S may be fractional; default 10.
wait_until() {
    local deadline=$(($(now_us) + $(_secs_to_us "${2:-10}")))
    while :; do
        eval "$1" && return 0
        [ "$(now_us)" -ge "$deadline" ] && return 1
        sleep 0.02
    done
}

# wait_lines FILE N [TIMEOUT_S]: until FILE has at least N lines.
wait_lines() {
    local deadline=$(($(now_us) + $(_secs_to_us "${3:-10}"))) n
    while :; do
        n=$(wc -l <"$1" 2>/dev/null) || n=0
        [ "${n:-0}" -ge "$2" ] && return 0
        [ "$(now_us)" -ge "$deadline" ] && return 1
        sleep 0.02
    done
}

# ---- processes ---------------------------------------------------------------------------------

# True while PID runs (a zombie child does not run, though kill -0 still finds it).
_is_running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

_register() { # PID NAME LOG
    _PROC_PIDS+=("$1")
    _PROC_NAME[$1]=$2
    _PROC_LOG[$1]=$3
}

_tail_log() { # FILE: its last lines as diagnostics
    [ -s "$1" ] && diag "--- last lines of $1:" "$(tail -n 25 "$1")"
}

# A start that failed: report it, stop the rest, end the script.
_start_failed() { # NAME PID LOG WHY
    _tap_result 1 "start $1"
    diag "  $4"
    _tail_log "$3"
    done_testing
}

# _wait_port_file FILE ERE PID: until FILE's first line matches ERE (10 s). Returns 1 when PID
# exits first or the deadline passes, with the reason in _WAIT_WHY.
_wait_port_file() {
    local deadline=$(($(now_us) + 10000000)) line
    while :; do
        if [ -s "$1" ]; then
            IFS= read -r line <"$1"
            [[ "$line" =~ $2 ]] && return 0
        fi
        if ! _is_running "$3"; then
            _WAIT_WHY="exited before writing $1"
            return 1
        fi
        if [ "$(now_us)" -ge "$deadline" ]; then
            _WAIT_WHY="no line matching '$2' in $1 within 10 s"
            return 1
        fi
        sleep 0.02
    done
}

_need_bin() { # VAR PATH
    [ -x "$2" ] || bail_out "$1=$2 is not an executable (build it, or set $1)"
}

# start_mock [ARG...]: mock_upstream on a free port, its request log in $MOCK_LOG.
start_mock() {
    _need_bin MOCK_BIN "$MOCK_BIN"
    local n=$((++_MOCK_N)) name scheme=http arg
    for arg in "$@"; do
        if [[ "$arg" == --tls-cert* ]]; then scheme=https; fi
    done
    local pf=$TEST_DIR/mock$n.port
    name="mock_upstream[$n]"
    MOCK_LOG=$TEST_DIR/mock$n.requests.log
    MOCK_STDERR=$TEST_DIR/mock$n.log
    : >"$MOCK_LOG"
    "$MOCK_BIN" --port 0 --port-file "$pf" --log "$MOCK_LOG" --fixtures "$FIXTURES_DIR/upstream" \
        "$@" >"$MOCK_STDERR" 2>&1 &
    MOCK_PID=$!
    _register "$MOCK_PID" "$name" "$MOCK_STDERR"
    _wait_port_file "$pf" '^[0-9]+$' "$MOCK_PID" ||
        _start_failed "$name" "$MOCK_PID" "$MOCK_STDERR" "$_WAIT_WHY"
    MOCK_PORT=$(<"$pf")
    MOCK_URL=$scheme://127.0.0.1:$MOCK_PORT
    note "$name pid $MOCK_PID on port $MOCK_PORT"
}

# start_proxy [ARG...]: sigmaproxy on free ports in front of $UPSTREAM_URL or the last mock.
start_proxy() {
    _need_bin SIGMAPROXY_BIN "$SIGMAPROXY_BIN"
    local n=$((++_PROXY_N)) name line
    local pf=$TEST_DIR/proxy$n.port upstream=${UPSTREAM_URL:-http://127.0.0.1:${MOCK_PORT:-0}}
    name="sigmaproxy[$n]"
    PROXY_LOG=$TEST_DIR/proxy$n.log
    # UPSTREAM_URL=none: the upstreams come from the test's own config file.
    local up_args=(--upstream "$upstream")
    [ "$upstream" = none ] && up_args=()
    # The spool stays in $TEST_DIR unless the script names one (env, or a flag, which wins).
    SIGMAPROXY_SPOOL_DIR=${SIGMAPROXY_SPOOL_DIR:-$TEST_DIR/spool} \
        "$SIGMAPROXY_BIN" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --port-file "$pf" \
        "${up_args[@]}" "$@" >"$PROXY_LOG" 2>&1 &
    PROXY_PID=$!
    _register "$PROXY_PID" "$name" "$PROXY_LOG"
    _wait_port_file "$pf" '^[0-9]+ [0-9]+$' "$PROXY_PID" ||
        _start_failed "$name" "$PROXY_PID" "$PROXY_LOG" "$_WAIT_WHY"
    IFS=' ' read -r PROXY_PORT ADMIN_PORT <"$pf"
    PROXY_URL=http://127.0.0.1:$PROXY_PORT
    ADMIN_URL=http://127.0.0.1:$ADMIN_PORT
    note "$name pid $PROXY_PID on port $PROXY_PORT, admin $ADMIN_PORT"
}

# start_redis [PORT]: a real redis-server on PORT (a restart on the same port), else on a free
# port, in $TEST_DIR (no persistence); sets REDIS_PORT, REDIS_URL, REDIS_PID. Skips the whole
# script when redis-server is not installed.
start_redis() {
    command -v redis-server >/dev/null || skip_all "redis-server is not installed"
    local want=${1:-} port attempt i
    mkdir -p "$TEST_DIR/redis"
    # A free port below the kernel's ephemeral range (32768+), where no outgoing connection can
    # hold it; another process may still take it first, so a failed bind tries another one.
    for attempt in 1 2 3 4 5; do
        port=$want
        if [ -z "$port" ]; then
            for i in $(seq 1 50); do
                port=$((20000 + RANDOM % 12000))
                (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
            done
        fi
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$TEST_DIR/redis" --daemonize no >"$TEST_DIR/redis.log" 2>&1 &
        REDIS_PID=$!
        if wait_until "redis-cli -p $port ping 2>/dev/null | grep -q PONG || ! _is_running $REDIS_PID" 10 &&
            _is_running "$REDIS_PID"; then
            break
        fi
        wait "$REDIS_PID" 2>/dev/null
        [ -n "$want" ] && [ "$attempt" -ge 3 ] && break
        sleep 0.2
    done
    _register "$REDIS_PID" "redis-server" "$TEST_DIR/redis.log"
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG ||
        _start_failed redis-server "$REDIS_PID" "$TEST_DIR/redis.log" "no PONG within 10 s"
    REDIS_PORT=$port
    REDIS_URL=redis://127.0.0.1:$port
    note "redis-server pid $REDIS_PID on port $REDIS_PORT"
}

# stop_proc PID: SIGTERM, up to 10 s, then SIGKILL. Returns 0 when it exited 0 on its own and its
# log holds no sanitizer report; otherwise prints "not ok" with the reasons and returns 1.
stop_proc() {
    local pid=$1 name=${_PROC_NAME[$1]:-} log=${_PROC_LOG[$1]:-} rc killed=0 i
    if [ -z "$name" ]; then
        diag "stop_proc: $pid was not started by lib.sh (or is already stopped)"
        return 1
    fi
    kill -TERM "$pid" 2>/dev/null
    local deadline=$(($(now_us) + 10000000))
    while _is_running "$pid" && [ "$(now_us)" -lt "$deadline" ]; do sleep 0.02; done
    if _is_running "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        killed=1
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    unset "_PROC_NAME[$pid]" "_PROC_LOG[$pid]"
    for i in "${!_PROC_PIDS[@]}"; do
        [ "${_PROC_PIDS[$i]}" = "$pid" ] && unset "_PROC_PIDS[$i]"
    done
    local problems=()
    [ "$killed" = 1 ] && problems+=("no exit within 10 s of SIGTERM: killed")
    [ "$rc" -ne 0 ] && problems+=("exit status $rc")
    if [ -n "$log" ] && grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|WARNING: ThreadSanitizer' "$log"; then
        problems+=("sanitizer report in $log")
    fi
    if [ "${#problems[@]}" -gt 0 ]; then
        _tap_result 1 "$name stops cleanly"
        for i in "${problems[@]}"; do diag "  $i"; done
        _tail_log "$log"
        return 1
    fi
    note "$name stopped cleanly"
    return 0
}

# stop_all: stops every process still running, the last started first (proxy before its mock).
stop_all() {
    local i
    for ((i = ${#_PROC_PIDS[@]} - 1; i >= 0; i--)); do
        [ -n "${_PROC_PIDS[$i]:-}" ] && stop_proc "${_PROC_PIDS[$i]}"
    done
    _PROC_PIDS=()
}

# ---- http --------------------------------------------------------------------------------------

# http NAME [CURL_ARG...]: one curl call; body and headers go to $TEST_DIR/NAME.{body,headers},
# curl's error to NAME.err. HTTP_STATUS is 000 when no response came.
http() {
    local name=$1 out
    shift
    HTTP_BODY=$TEST_DIR/$name.body
    HTTP_HEADERS=$TEST_DIR/$name.headers
    out=$(curl -q -sS -o "$HTTP_BODY" -D "$HTTP_HEADERS" \
        -w '%{http_code} %{time_starttransfer} %{time_total}' "$@" 2>"$TEST_DIR/$name.err")
    HTTP_CURL_RC=$?
    read -r HTTP_STATUS HTTP_TTFB_S HTTP_TOTAL_S <<<"$out"
    return 0
}

# header FILE NAME: the values of header NAME (any case) in the last response of a curl -D file
# (after any 100 Continue), one per line, without the CR.
header() {
    awk -v want="${2,,}" '
        { sub(/\r$/, "") }
        /^HTTP\// { n = 0; next }
        {
            i = index($0, ":")
            if (i > 1 && tolower(substr($0, 1, i - 1)) == want) {
                v = substr($0, i + 1)
                sub(/^[ \t]+/, "", v)
                vals[++n] = v
            }
        }
        END { for (k = 1; k <= n; k++) print vals[k] }' "$1"
}

# ---- exit --------------------------------------------------------------------------------------

_lib_exit() {
    local rc=$?
    set +e
    stop_all
    if [ "$_TAP_DONE" != 1 ]; then
        diag "$TEST_NAME exited (status $rc) before done_testing"
        [ "$rc" -eq 0 ] && rc=1
    fi
    [ "$_TAP_FAILED" -gt 0 ] && [ "$rc" -eq 0 ] && rc=1
    if [ "${SIGMAPROXY_KEEP_TMP:-0}" = 1 ]; then
        diag "kept $TEST_DIR"
    else
        rm -rf "$TEST_DIR"
    fi
    exit "$rc"
}
trap _lib_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
