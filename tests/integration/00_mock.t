#!/usr/bin/env bash
# mock_upstream on its own: the scripted behaviours every other integration test relies on
# (header contract at the top of tests/mock/mock_upstream.c), and its request log.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

start_mock
U=$MOCK_URL
PATTERN='sigmaproxy mock body 0123456789 abcdefghijklmnopqrstuvwxyz ABCD'
REQ='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is Six Sigma?"}]}'

# Default reply: no x-mock-* header.
http default -H 'Content-Type: application/json' -d "$REQ" "$U/v1/chat/completions"
is "$HTTP_STATUS" 200 "default: status 200"
is "$(header "$HTTP_HEADERS" content-type)" application/json "default: JSON"
is "$(header "$HTTP_HEADERS" content-length)" "$(wc -c <"$HTTP_BODY")" "default: Content-Length"
ok "default: a chat.completion" grep -q '"object":"chat.completion".*"finish_reason":"stop"' "$HTTP_BODY"

# SSE: 5 events then [DONE], each with its sequence number and timestamp.
http sse -N -H 'x-mock-sse: 5' -d '{}' "$U/v1/chat/completions"
is "$HTTP_STATUS" 200 "sse: status 200"
is "$(header "$HTTP_HEADERS" content-type)" text/event-stream "sse: event stream"
is "$(header "$HTTP_HEADERS" transfer-encoding)" chunked "sse: chunked"
is "$(grep -c '^data: {"id":"chatcmpl-mock[0-9]*","object":"chat.completion.chunk"' "$HTTP_BODY")" 5 \
    "sse: 5 chunk events"
is "$(grep '^data: ' "$HTTP_BODY" | tail -n 1)" "data: [DONE]" "sse: [DONE] last"
is "$(grep -o '"sp_mock_seq":[0-9]*,' "$HTTP_BODY" | tr -dc '0-9')" 01234 "sse: seq 0..4"
is "$(grep -c '"sp_mock_ts_us":[0-9]\{1,\},' "$HTTP_BODY")" 5 "sse: timestamps"
is "$(grep -o '"content":"[^"]*"' "$HTTP_BODY" | cut -d'"' -f4 | tr -d '\n')" "w0 w1 w2 w3 w4 " \
    "sse: content w0..w4"
is "$(grep -c '"finish_reason":"stop"' "$HTTP_BODY")" 1 "sse: one finish_reason stop"
ok "sse: blank line after each event" [ "$(grep -c '^$' "$HTTP_BODY")" -eq 6 ]

# Gaps and padded events.
t0=$(now_us)
http gap -N -H 'x-mock-sse: 4' -H 'x-mock-gap-ms: 100' -H 'x-mock-event-bytes: 4096' "$U/gap"
ms=$(elapsed_ms "$t0")
ok "gap: 4 events 100 ms apart take >= 400 ms (took $ms)" [ "$ms" -ge 400 ]
is "$(grep '^data: {' "$HTTP_BODY" | awk '{ print length($0) + 2 }' | sort -u)" 4096 \
    "event-bytes: each event is 4096 bytes"
min_gap=$(grep -o '"sp_mock_ts_us":[0-9]*' "$HTTP_BODY" | cut -d: -f2 |
    awk 'NR > 1 { d = $1 - p; if (m == "" || d < m) m = d } { p = $1 } END { print m }')
ok "gap: timestamps >= 100 ms apart (min $min_gap us)" [ "$min_gap" -ge 100000 ]

# Echo of a 1 MB body, with what the mock saw.
head -c 1048576 /dev/urandom >"$TEST_DIR/req.bin"
http echo -H 'x-mock-echo: 1' -H 'Content-Type: application/octet-stream' -H 'X-Trace: t-1' \
    --data-binary @"$TEST_DIR/req.bin" "$U/v1/echo?a=1&b=%20x"
is "$HTTP_STATUS" 200 "echo: status 200"
ok "echo: 1 MB body byte for byte" cmp -s "$TEST_DIR/req.bin" "$HTTP_BODY"
is "$(header "$HTTP_HEADERS" x-mock-got-body-bytes)" 1048576 "echo: got-body-bytes"
is "$(header "$HTTP_HEADERS" x-mock-got-method)" POST "echo: got-method"
is "$(header "$HTTP_HEADERS" x-mock-got-path)" '/v1/echo?a=1&b=%20x' "echo: got-path as sent"
is "$(header "$HTTP_HEADERS" x-mock-got-host)" "127.0.0.1:$MOCK_PORT" "echo: got-host"
like "$(header "$HTTP_HEADERS" x-mock-got-headers)" '^host;.*;x-mock-echo;.*x-trace' "echo: got-headers"
is "$(header "$HTTP_HEADERS" x-mock-got-h-x-trace)" t-1 "echo: got-h-<name>"

# Status, body size, headers, fixtures, bad input.
http s503 -H 'x-mock-status: 503' "$U/v1/chat/completions"
is "$HTTP_STATUS" 503 "status: 503"
ok "status: an OpenAI error body" grep -q '^{"error":{' "$HTTP_BODY"

http bytes -H 'x-mock-body-bytes: 100000' "$U/bytes"
is "$(header "$HTTP_HEADERS" content-length)" 100000 "body-bytes: Content-Length"
ok "body-bytes: the documented pattern" cmp -s <(yes "$PATTERN" | head -c 100000) "$HTTP_BODY"

http hdr -H 'x-mock-header: X-Request-Id: abc-1' -H 'x-mock-header-2: Retry-After: 7' "$U/"
is "$(header "$HTTP_HEADERS" x-request-id)/$(header "$HTTP_HEADERS" retry-after)" abc-1/7 \
    "header: two scripted response headers"

http fixture -N -H 'x-mock-fixture: openai_stream.sse' -H 'x-mock-gap-ms: 10' "$U/"
ok "fixture: SSE replayed byte for byte" cmp -s "$FIXTURES_DIR/upstream/openai_stream.sse" "$HTTP_BODY"
http fixture_json -H 'x-mock-fixture: anthropic_message.json' "$U/"
ok "fixture: JSON replayed byte for byte" \
    cmp -s "$FIXTURES_DIR/upstream/anthropic_message.json" "$HTTP_BODY"

http bad -H 'x-mock-sse: lots' "$U/"
is "$HTTP_STATUS" 400 "bad value: 400"
ok "bad value: named in the body" grep -q 'x-mock-sse' "$HTTP_BODY"

http cl -H 'x-mock-content-length: 5' -H 'x-mock-body-bytes: 20' "$U/"
is "$(header "$HTTP_HEADERS" content-length)" 5 "content-length: only the scripted value"

# Delays, resets, stalls and clients that leave.
http fb -H 'x-mock-first-byte-ms: 300' "$U/"
ok "first-byte: >= 0.3 s to the first byte (${HTTP_TTFB_S} s)" \
    awk "BEGIN { exit !($HTTP_TTFB_S >= 0.3) }"

http reset -N -H 'x-mock-sse: 5' -H 'x-mock-reset-after: 2' "$U/reset"
isnt "$HTTP_CURL_RC" 0 "reset: curl sees a broken transfer"
is "$(grep -c '^data: {' "$HTTP_BODY")" 2 "reset: 2 events came first"

http reset_bytes -H 'x-mock-body-bytes: 10000' -H 'x-mock-reset-after: 1000' "$U/reset-bytes"
is "$HTTP_CURL_RC/$(wc -c <"$HTTP_BODY")" 18/1000 "reset: a body cut after 1000 bytes"

http drop -H 'x-mock-drop: 1' "$U/drop"
is "$HTTP_STATUS/$HTTP_CURL_RC" 000/52 "drop: no response at all"

http stall -N --max-time 0.5 -H 'x-mock-sse: 5' -H 'x-mock-stall-after: 1' "$U/stall"
is "$HTTP_CURL_RC/$(grep -c '^data: {' "$HTTP_BODY")" 28/1 "stall: one event, then the client times out"
ok "stall: the mock notices that the client left" \
    wait_until "grep -q '^GET /stall body_bytes=0 status=200 events_sent=1 outcome=client_aborted$' '$MOCK_LOG'" 3

http abort -N --max-time 0.35 -H 'x-mock-sse: 10' -H 'x-mock-gap-ms: 100' "$U/abort"
ok "abort: logged as client_aborted" \
    wait_until "grep -q '^GET /abort .* outcome=client_aborted$' '$MOCK_LOG'" 3

# 200 slow streams at once on one mock thread: 10 events 50 ms apart take ~0.5 s, not 100 s.
args=()
for i in $(seq 200); do args+=(-o /dev/null "$U/par/$i"); done
t0=$(now_us)
curl -q -sS --no-progress-meter -Z --parallel-immediate --parallel-max 200 -H 'x-mock-sse: 10' -H 'x-mock-gap-ms: 50' "${args[@]}"
ms=$(elapsed_ms "$t0")
ok "parallel: 200 slow streams in ${ms} ms" [ "$ms" -lt 3000 ]
is "$(grep -c '^GET /par/[0-9]* body_bytes=0 status=200 events_sent=10 outcome=complete$' "$MOCK_LOG")" \
    200 "parallel: 200 complete streams logged"

# The request log: one line per request, written when it ends.
has_line() { grep -qxF "$1" "$MOCK_LOG"; }
ok "log: default reply" has_line \
    "POST /v1/chat/completions body_bytes=${#REQ} status=200 events_sent=0 outcome=complete"
ok "log: stream" has_line "POST /v1/chat/completions body_bytes=2 status=200 events_sent=5 outcome=complete"
ok "log: echo" has_line "POST /v1/echo?a=1&b=%20x body_bytes=1048576 status=200 events_sent=0 outcome=complete"
ok "log: 503" has_line "GET /v1/chat/completions body_bytes=0 status=503 events_sent=0 outcome=complete"
ok "log: reset" has_line "GET /reset body_bytes=0 status=200 events_sent=2 outcome=reset"
ok "log: reset (bytes)" has_line "GET /reset-bytes body_bytes=0 status=200 events_sent=0 outcome=reset"
ok "log: drop" has_line "GET /drop body_bytes=0 status=0 events_sent=0 outcome=reset"

# SIGTERM while streams are suspended (stalled, and waiting for their first byte): clean exit.
curl -q -sS -N -o "$TEST_DIR/held1" --max-time 20 -H 'x-mock-sse: 3' -H 'x-mock-stall-after: 1' \
    "$U/held" 2>/dev/null &
held1=$!
curl -q -v -o /dev/null --max-time 20 -H 'x-mock-first-byte-ms: 60000' "$U/held" 2>"$TEST_DIR/held2" &
held2=$!
ok "held: a stalled stream and a delayed reply in flight" \
    wait_until "grep -qs '^data: {' '$TEST_DIR/held1' && grep -qs '^> GET /held' '$TEST_DIR/held2'" 3
t0=$(now_us)
ok "shutdown: exits 0 with suspended connections" stop_proc "$MOCK_PID"
ok "shutdown: within 2 s ($(elapsed_ms "$t0") ms)" [ "$(elapsed_ms "$t0")" -lt 2000 ]
wait "$held1" "$held2" 2>/dev/null
is "$(grep -c '^GET /held .* outcome=shutdown$' "$MOCK_LOG")" 2 "shutdown: both held requests logged"

done_testing
