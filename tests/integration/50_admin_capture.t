#!/usr/bin/env bash
# Admin port (/healthz /readyz /stats /metrics), the capture tap (chosen exchanges reach the
# evaluator; sample-rate 0 and 1; x-sigmaproxy-sample forces), the access log, and that no
# credential or prompt ever reaches the log.
source "$(dirname "$0")/lib.sh"

start_mock
start_proxy --sample-rate 1 --access-log --log-level debug
http healthz "$ADMIN_URL/healthz"
is "$HTTP_STATUS" 200 "/healthz answers 200"
http readyz "$ADMIN_URL/readyz"
is "$HTTP_STATUS" 200 "/readyz answers 200 once serving"
http nothing "$ADMIN_URL/nope"
is "$HTTP_STATUS" 404 "unknown admin path answers 404"
http wrong_method -X DELETE "$ADMIN_URL/stats"
is "$HTTP_STATUS" 405 "wrong method answers 405"

secret='sk-proj-SECRETSECRETSECRET0123456789'
for i in $(seq 1 10); do
    http req$i -H "Authorization: Bearer $secret" -H "x-api-key: $secret" \
        -d '{"messages":[{"role":"user","content":"PROMPT-TEXT-XYZ"}]}' \
        "$PROXY_URL/v1/chat/completions?key=QUERYSECRET"
done
http sse -N -H 'x-mock-sse: 3' "$PROXY_URL/v1/chat/completions" -d '{}'
ok "the evaluator took all 11 captures" \
    wait_until "curl -s '$ADMIN_URL/stats' | grep -q '\"evaluated\": 11'" 5
http stats "$ADMIN_URL/stats"
like "$(cat "$HTTP_BODY")" '"captured": 11' "rate 1 captures every exchange"
like "$(cat "$HTTP_BODY")" '"requests": 11' "/stats counts requests"
like "$(cat "$HTTP_BODY")" '"dropped": 0' "no capture dropped"
http metrics "$ADMIN_URL/metrics"
like "$(cat "$HTTP_BODY")" $'\nsigmaproxy_requests_total 11\n' "/metrics has the request counter"
like "$(cat "$HTTP_BODY")" 'sigmaproxy_responses_total\{class="2xx"\} 11' "/metrics by class"
like "$(cat "$HTTP_BODY")" '# TYPE sigmaproxy_capture_queue_depth gauge' "/metrics types"
is "$(grep -c ' access req=' "$PROXY_LOG")" 11 "one access log line per request"
ok "access lines name method, path, status" \
    grep -q 'access req=[0-9a-f]* method=POST path=/v1/chat/completions status=200' "$PROXY_LOG"
ok "no API key in the log" bash -c "! grep -q 'SECRETSECRET' '$PROXY_LOG'"
ok "no query string (keys may hide there) in the log" bash -c "! grep -q 'QUERYSECRET' '$PROXY_LOG'"
ok "no prompt in the log" bash -c "! grep -q 'PROMPT-TEXT' '$PROXY_LOG'"
stop_proc "$PROXY_PID"

start_proxy --sample-rate 0
for i in 1 2 3; do http r0_$i "$PROXY_URL/v1/x" -d '{}'; done
http forced -H 'x-sigmaproxy-sample: always' "$PROXY_URL/v1/x" -d '{}'
ok "rate 0 captures only the forced exchange" \
    wait_until "curl -s '$ADMIN_URL/stats' | grep -q '\"captured\": 1,'" 5
stop_proc "$PROXY_PID"

start_proxy --sample-rate 1
http never -H 'x-sigmaproxy-sample: never' "$PROXY_URL/v1/x" -d '{}'
http normal "$PROXY_URL/v1/x" -d '{}'
ok "x-sigmaproxy-sample: never keeps an exchange out at rate 1" \
    wait_until "curl -s '$ADMIN_URL/stats' | grep -q '\"captured\": 1,'" 5

# Upstream failures are captured whatever the rate (kept apart as sampled_by=error).
start_proxy --sample-rate 0
http e503 -H 'x-mock-status: 503' "$PROXY_URL/v1/x" -d '{}'
http e429 -H 'x-mock-status: 429' "$PROXY_URL/v1/x" -d '{}'
http e200 "$PROXY_URL/v1/x" -d '{}'
http e400 -H 'x-mock-status: 400' "$PROXY_URL/v1/x" -d '{}'
ok "rate 0 still captures the 503 and the 429 (not the 200 or the client's 400)" \
    wait_until "curl -s '$ADMIN_URL/stats' | grep -q '\"captured\": 2,'" 5
stop_proc "$PROXY_PID"

# Per-route and per-model rates.
cat >"$TEST_DIR/routes.json" <<JSON
{ "upstreams": [{"name": "main", "url": "$MOCK_URL", "prefix": "/"},
                {"name": "always", "url": "$MOCK_URL", "prefix": "/v1/always"}],
  "sample_rate": 0,
  "sampling": {"routes": {"always": 1}, "models": {"gpt-sampled": 1}} }
JSON
UPSTREAM_URL=none start_proxy --config "$TEST_DIR/routes.json"
http rt1 "$PROXY_URL/v1/always/x" -d '{}'
http rt2 "$PROXY_URL/v1/chat/completions" -d '{"model":"gpt-other"}'
http rt3 "$PROXY_URL/v1/chat/completions" -d '{"messages":[],"model":"gpt-sampled"}'
ok "a route's rate and a model's rate apply (2 of 3 captured)" \
    wait_until "curl -s '$ADMIN_URL/stats' | grep -q '\"captured\": 2,'" 5
stop_proc "$PROXY_PID"

start_proxy --sample-rate 0.5
for i in $(seq 1 400); do printf 'url = "%s"\noutput = "/dev/null"\n' "$PROXY_URL/v1/x"; done >"$TEST_DIR/urls"
curl -s -K "$TEST_DIR/urls" -d '{}' >/dev/null
captured=$(curl -s "$ADMIN_URL/stats" | awk -F': ' '/"captured"/ {gsub(/,/, "", $2); print $2}')
# Binomial(400, 0.5): sd 10; 5 sd either side.
ok "rate 0.5 captured $captured of 400 (within 5 sd)" test "$captured" -gt 150 -a "$captured" -lt 250
done_testing
