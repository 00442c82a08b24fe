#!/usr/bin/env bash
# Streaming: each upstream chunk reaches the client as it arrives; a client that leaves aborts the
# upstream transfer at once; a slow client pauses upstream (bounded memory); 200 concurrent
# streams on a fixed set of threads; an idle proxy sleeps; SIGTERM lets streams finish.
source "$(dirname "$0")/lib.sh"

start_mock
start_proxy --threads 2

# Incrementality: 5 events, 300 ms apart. Each line is stamped when it arrives.
stamp_lines() { # START_US: prints "MS LINE" for each data line read from stdin
    local line
    while IFS= read -r line; do
        [[ "$line" == data:* ]] && echo "$(((${EPOCHREALTIME/./} - $1) / 1000)) ${line:0:20}"
    done
}
t0=$(now_us)
curl -sN -H 'x-mock-sse: 5' -H 'x-mock-gap-ms: 300' "$PROXY_URL/v1/chat/completions" -d '{}' |
    stamp_lines "$t0" >"$TEST_DIR/arrivals"
is "$(wc -l <"$TEST_DIR/arrivals")" 6 "5 events and [DONE] arrived"
first=$(awk 'NR==1 {print $1}' "$TEST_DIR/arrivals")
last=$(awk 'END {print $1}' "$TEST_DIR/arrivals")
ok "the first event arrived as sent (${first} ms), not with the last (${last} ms)" \
    test "$first" -lt 700 -a $((last - first)) -ge 1000
gaps_ok=$(awk 'NR>1 && NR<6 { d = $1 - prev; if (d < 150 || d > 600) bad++ } { prev = $1 }
    END { print bad + 0 }' "$TEST_DIR/arrivals")
is "$gaps_ok" 0 "every event arrived on its own, ~300 ms after the previous one"

# Client abort: the client leaves after ~1 s of a 5 s stream; the upstream sees it at once.
t0=$(now_us)
curl -sN --max-time 1 -H 'x-mock-sse: 50' -H 'x-mock-gap-ms: 100' -H 'x-request-id: leaver' \
    "$PROXY_URL/v1/chat/completions" -d '{}' >/dev/null
left=$(now_us)
ok "the upstream transfer ended when the client left" \
    wait_until "grep -q 'events_sent=[0-9]* outcome=client_aborted' '$MOCK_LOG'" 5
ms=$(elapsed_ms "$left")
ok "within ${ms} ms of the client leaving" test "$ms" -lt 1000
sent=$(grep 'outcome=client_aborted' "$MOCK_LOG" | tail -1 | sed 's/.*events_sent=\([0-9]*\).*/\1/')
ok "upstream stopped after $sent of 50 events" test "$sent" -lt 20

# A client that disconnects while the upstream is silent (stalled) is noticed too.
curl -sN --max-time 1 -H 'x-mock-sse: 5' -H 'x-mock-stall-after: 1' \
    "$PROXY_URL/v1/chat/completions" -d '{}' >/dev/null
left=$(now_us)
ok "a stalled stream's client leaving aborts the upstream" \
    wait_until "[ \$(grep -c 'outcome=client_aborted' '$MOCK_LOG') -ge 2 ]" 5
ms=$(elapsed_ms "$left")
ok "within ${ms} ms" test "$ms" -lt 1000

# Backpressure: upstream offers 64 MB at loopback speed; the client reads ~1 MB/s.
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status"; }
rss0=$(rss_kb)
curl -s --limit-rate 1M --max-time 3 -H 'x-mock-body-bytes: 67108864' "$PROXY_URL/v1/big" \
    -o "$TEST_DIR/slow.body" &
slow=$!
sleep 2
rss1=$(rss_kb)
wait "$slow"
got=$(stat -c %s "$TEST_DIR/slow.body")
ok "the slow client got only part of the body in 3 s (${got} of 67108864 bytes)" \
    test "$got" -lt 33554432
ok "proxy memory stayed bounded: RSS ${rss0} kB -> ${rss1} kB" test $((rss1 - rss0)) -lt 16384
http stats "$ADMIN_URL/stats"
like "$(cat "$HTTP_BODY")" '"upstream_pauses": [1-9]' "the upstream transfer was paused"

# 200 concurrent streams (20 events, 100 ms apart) from one client process, on the same threads.
threads() { awk '/^Threads/ {print $2}' "/proc/$PROXY_PID/status"; }
threads0=$(threads)
args=()
for i in $(seq 1 200); do args+=(-o "$TEST_DIR/s$i" "$PROXY_URL/v1/chat/completions"); done
curl -sN -Z --parallel-immediate --parallel-max 200 -H 'x-mock-sse: 20' -H 'x-mock-gap-ms: 100' \
    -d '{}' "${args[@]}" 2>/dev/null &
streams=$!
sleep 1
threads1=$(threads)
inflight=$(curl -s "$ADMIN_URL/stats" | awk -F': ' '/"inflight"/ {gsub(/,/, "", $2); print $2}')
wait "$streams"
complete=0
for i in $(seq 1 200); do
    [ "$(grep -c '^data: {' "$TEST_DIR/s$i")" = 20 ] && grep -q '^data: \[DONE\]' "$TEST_DIR/s$i" &&
        complete=$((complete + 1))
done
is "$complete" 200 "200 concurrent streams each got 20 events and [DONE]"
ok "they were in flight together (inflight=$inflight)" test "${inflight:-0}" -ge 190
is "$threads1" "$threads0" "the thread count did not grow with connections ($threads0)"

# Idle: no busy loop.
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$PROXY_PID/stat"; }
c0=$(ticks)
sleep 2
c1=$(ticks)
ok "an idle proxy uses ~0 CPU ($((c1 - c0)) ticks in 2 s)" test $((c1 - c0)) -le 4

# Graceful shutdown: SIGTERM with 5 streams in flight; they finish, new connections are refused.
pids=()
for i in 1 2 3 4 5; do
    curl -sN -H 'x-mock-sse: 10' -H 'x-mock-gap-ms: 100' "$PROXY_URL/v1/chat/completions" \
        -d '{}' -o "$TEST_DIR/d$i" &
    pids+=($!)
done
sleep 0.3
kill -TERM "$PROXY_PID"
sleep 0.2
http after_term --max-time 2 "$PROXY_URL/v1/models"
isnt "$HTTP_CURL_RC" 0 "a new connection after SIGTERM is refused (curl exit $HTTP_CURL_RC)"
wait "${pids[@]}"
done_n=0
for i in 1 2 3 4 5; do
    grep -q '^data: \[DONE\]' "$TEST_DIR/d$i" && done_n=$((done_n + 1))
done
is "$done_n" 5 "all 5 streams in flight at SIGTERM finished"
stop_proc "$PROXY_PID" && pass "the proxy exited 0 after draining"

done_testing
