#!/usr/bin/env bash
# The proxy's own answers: 502 (unreachable, reset), 504 (first-byte timeout), 413 (body over the
# limit, announced or chunked), in OpenAI's error shape with x-request-id, logged with the id; and
# each deadline: connect, first byte, idle between chunks, total.
source "$(dirname "$0")/lib.sh"

error_shape='^\{"error":\{"message":"[^"]+","type":"[a-z_]+","code":"[a-z_]+"\}\}$'

# 502: nothing listens on the upstream port.
closed_port=$( (exec 3<>/dev/tcp/127.0.0.1/1) 2>/dev/null; echo 1)
UPSTREAM_URL=http://127.0.0.1:$closed_port start_proxy
http unreachable -H 'x-request-id: unreachable-1' "$PROXY_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 502 "unreachable upstream answered 502"
like "$(cat "$HTTP_BODY")" "$error_shape" "502 body in OpenAI's error shape"
is "$(header "$HTTP_HEADERS" x-request-id)" unreachable-1 "502 carries x-request-id"
is "$(header "$HTTP_HEADERS" content-type)" application/json "502 is JSON"
ok "502 logged with its request id" grep -q 'req=unreachable-1 status=502' "$PROXY_LOG"
stop_proc "$PROXY_PID"

start_mock
start_proxy --first-byte-timeout-ms 300 --idle-timeout-ms 300 --max-body 1000
# 502: upstream resets before answering.
http dropped -H 'x-mock-drop: 1' "$PROXY_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 502 "upstream closing without a response answered 502"
like "$(cat "$HTTP_BODY")" "$error_shape" "its body in OpenAI's error shape"

# 504: first byte later than the deadline.
t0=$(now_us)
http slow_head -H 'x-mock-first-byte-ms: 3000' -H 'x-request-id: slow-1' "$PROXY_URL/v1/x" -d '{}'
ms=$(elapsed_ms "$t0")
is "$HTTP_STATUS" 504 "first-byte timeout answered 504"
like "$(cat "$HTTP_BODY")" "$error_shape" "504 body in OpenAI's error shape"
ok "504 came at the deadline (${ms} ms), not at upstream's 3 s" test "$ms" -lt 2000
ok "504 logged with its request id" grep -q 'req=slow-1 status=504' "$PROXY_LOG"
ok "the upstream transfer was abandoned" wait_until "grep -q 'outcome=client_aborted' '$MOCK_LOG'" 5

# Idle timeout between stream chunks: the stream is cut, not completed.
t0=$(now_us)
http stalled -N -H 'x-mock-sse: 5' -H 'x-mock-stall-after: 2' "$PROXY_URL/v1/x" -d '{}'
ms=$(elapsed_ms "$t0")
is "$HTTP_STATUS" 200 "a stalled stream had started with 200"
is "$(grep -c '^data: {' "$HTTP_BODY")" 2 "the two events before the stall were relayed"
isnt "$HTTP_CURL_RC" 0 "the client sees the stream end abnormally (curl exit $HTTP_CURL_RC)"
ok "the stall was cut by the idle deadline (${ms} ms)" test "$ms" -lt 2500
ok "idle cut logged" grep -q 'stream cut: idle timeout' "$PROXY_LOG"

# 413: announced length over the limit, and a chunked body that grows over it.
head -c 2000 /dev/zero | tr '\0' x >"$TEST_DIR/2k"
http big_cl --data-binary @"$TEST_DIR/2k" "$PROXY_URL/v1/x"
is "$HTTP_STATUS" 413 "Content-Length over --max-body answered 413"
like "$(cat "$HTTP_BODY")" "$error_shape" "413 body in OpenAI's error shape"
http big_chunked -H 'Transfer-Encoding: chunked' --data-binary @"$TEST_DIR/2k" "$PROXY_URL/v1/x"
is "$HTTP_STATUS" 413 "chunked body growing over --max-body answered 413"
head -c 1000 /dev/zero | tr '\0' x >"$TEST_DIR/1k"
http at_limit -H 'x-mock-echo: 1' --data-binary @"$TEST_DIR/1k" "$PROXY_URL/v1/x"
is "$HTTP_STATUS" 200 "a body of exactly --max-body bytes is forwarded"
head -c 3000000 /dev/zero >"$TEST_DIR/3m"
http huge_chunked -H 'Transfer-Encoding: chunked' --data-binary @"$TEST_DIR/3m" "$PROXY_URL/v1/x"
isnt "$HTTP_STATUS" 200 "a chunked body far over the limit is cut off (curl exit $HTTP_CURL_RC)"
http after_huge "$PROXY_URL/v1/x" -d '{}'
is "$HTTP_STATUS" 200 "the proxy serves on after cutting it"
http stats "$ADMIN_URL/stats"
like "$(tr -d ' \n' <"$HTTP_BODY")" '"upstream_errors":1,"upstream_timeouts":2,"body_too_large":3' \
    "/stats counts the 502, the two deadlines and the three oversized bodies"
stop_proc "$PROXY_PID"

# Total deadline: a stream that would last 3 s is cut at 600 ms.
start_proxy --total-timeout-ms 600
t0=$(now_us)
http long_stream -N -H 'x-mock-sse: 30' -H 'x-mock-gap-ms: 100' "$PROXY_URL/v1/x" -d '{}'
ms=$(elapsed_ms "$t0")
n=$(grep -c '^data: {' "$HTTP_BODY")
ok "total timeout cut the stream after $n of 30 events (${ms} ms)" test "$n" -lt 30 -a "$ms" -lt 2000
ok "total cut logged" grep -q 'stream cut: total timeout' "$PROXY_LOG"
stop_proc "$PROXY_PID"

# An upstream reset mid-stream ends the client's response at once (not at the client timeout).
start_proxy
slow_cuts=0
for i in 1 2 3 4 5 6; do
    t0=$(now_us)
    http reset$i -N -H 'x-mock-sse: 10' -H 'x-mock-gap-ms: 20' -H 'x-mock-reset-after: 3' \
        "$PROXY_URL/v1/x" -d '{}'
    ms=$(elapsed_ms "$t0")
    [ "$ms" -gt 1000 ] && slow_cuts=$((slow_cuts + 1))
done
is "$slow_cuts" 0 "six streams cut by an upstream reset each end at once for the client"
is "$(grep -c '^data: {' "$TEST_DIR/reset6.body")" 3 "the events before the reset were relayed"
isnt "$HTTP_CURL_RC" 0 "the client sees the cut (curl exit $HTTP_CURL_RC)"
stop_proc "$PROXY_PID"

# Client deadline: a client connection that sends nothing is closed.
start_proxy --client-timeout-ms 1000
t0=$(now_us)
exec 5<>"/dev/tcp/127.0.0.1/$PROXY_PORT"
timeout 10 cat <&5 >/dev/null
exec 5<&-
ms=$(elapsed_ms "$t0")
ok "an idle client connection was closed after ${ms} ms (limit 1000 ms)" test "$ms" -ge 900 -a "$ms" -lt 4000
stop_proc "$PROXY_PID"

# Connect deadline: an upstream whose handshakes never complete.
start_mock --blackhole
UPSTREAM_URL=$MOCK_URL start_proxy --connect-timeout-ms 300
t0=$(now_us)
http connect_to -H 'x-request-id: connect-1' "$PROXY_URL/v1/x" -d '{}'
ms=$(elapsed_ms "$t0")
is "$HTTP_STATUS" 504 "connect timeout answered 504"
like "$(cat "$HTTP_BODY")" "$error_shape" "its body in OpenAI's error shape"
ok "it came at the connect deadline (${ms} ms)" test "$ms" -ge 250 -a "$ms" -lt 2000
ok "connect timeout logged with its id" grep -q 'req=connect-1 status=504' "$PROXY_LOG"

done_testing
