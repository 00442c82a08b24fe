#!/usr/bin/env bash
# The evaluation pipeline end to end: real traffic through the proxy, scored off the hot path.
# A known mix of clean and defective replies gives exact counts in /stats; a jump in the defect
# rate moves the chart's state (logged, POSTed to the webhook); sampling at 0.1 stays within
# binomial bounds; /metrics carries the Six-Sigma gauges; the dashboard is served.
source "$(dirname "$0")/lib.sh"

start_mock
hook_mock_log=$MOCK_LOG
hook_url=$MOCK_URL/alerts
start_mock
start_redis
redis-cli -p "$REDIS_PORT" subscribe sigmaproxy:alerts >"$TEST_DIR/alerts.txt" &
alerts_pid=$!
cat >"$TEST_DIR/eval.json" <<JSON
{ "sample_rate": 1, "redis_url": "$REDIS_URL",
  "sigma": {"p0": 0.02, "p1": 0.2, "window_s": 3600, "min_samples": 20},
  "alert_webhook": "$hook_url" }
JSON
start_proxy --config "$TEST_DIR/eval.json"

stat_int() { # JSON-PATH (dots): an integer from /stats
    curl -s "$ADMIN_URL/stats" | tr -d ' \n' | grep -o "$1" | head -1 | grep -o '[0-9]*$'
}
send() { # N FIXTURE|- : N chat completions, with that mock fixture or the default reply
    local i args=()
    [ "$2" != - ] && args=(-H "x-mock-fixture: $2")
    for i in $(seq 1 "$1"); do
        printf 'url = "%s/v1/chat/completions"\noutput = "/dev/null"\n' "$PROXY_URL"
    done >"$TEST_DIR/urls"
    curl -s -K "$TEST_DIR/urls" "${args[@]}" -H 'Content-Type: application/json' \
        -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' >/dev/null
}

# The mix: 30 clean, 4 refusals, 3 with PII, 2 with a key, 2 truncated, 1 upstream 503.
send 30 -
send 4 openai_refusal.json
send 3 openai_pii.json
send 2 openai_secret.json
send 2 openai_json_content_truncated.json
http e503 -H 'x-mock-status: 503' "$PROXY_URL/v1/chat/completions" -d '{"model":"gpt-4o-mini"}'
ok "all 42 exchanges evaluated" \
    wait_until "curl -s '$ADMIN_URL/stats' | grep -q '\"evaluated\": 42'" 20
stats=$(curl -s "$ADMIN_URL/stats" | tr -d ' \n')
chart() { # SCORER FIELD: the current window's figure from the all-traffic chart
    grep -o "\"$1\":{\"state\":[^}]*\"window\":{[^}]*}" <<<"$stats" | head -1 |
        grep -o "\"$2\":[0-9.]*" | head -1 | cut -d: -f2
}
is "$(chart refusal n)" 41 "refusal judged the 41 replies (not the 503)"
is "$(chart refusal defects)" 4 "exactly the 4 refusals flagged"
is "$(chart pii defects)" 3 "exactly the 3 PII replies flagged"
is "$(chart secrets defects)" 2 "exactly the 2 keys flagged"
is "$(chart truncated defects)" 2 "exactly the 2 truncated replies flagged"
is "$(chart http_error n)" 42 "http_error judged all 42"
is "$(chart http_error defects)" 1 "and flagged the 503"
is "$(chart any n)" 42 "42 units in all"
is "$(chart any defects)" 12 "12 of 42 units defective"
like "$stats" '"flagged":12' "12 exchanges flagged in all (the 503 too)"
ok "flagged exchanges logged with their scorers, no content" \
    grep -q 'flagged req=[0-9a-f]* route=default model=gpt-4o-mini[^ ]* sampled_by=rate scorers=pii' \
    "$PROXY_LOG"
ok "no reply text in the log" bash -c "! grep -q 'jane.doe' '$PROXY_LOG'"
like "$stats" '"any":\{"state":"(out_of_control|out_of_spec)"' \
    "12/42 against p0 = 0.02 is out of control"
ok "the state change was logged" wait_until "grep -q 'state all/any: .* -> out_of' '$PROXY_LOG'" 5
ok "and POSTed to the webhook" wait_until "grep -q '^POST /alerts' '$hook_mock_log'" 5
ok "and published on Redis sigmaproxy:alerts" \
    wait_until "grep -q '\"chart\":\"all/any\",\"from\":\"insufficient_data\"' '$TEST_DIR/alerts.txt'" 5
kill "$alerts_pid"

# A jump: the refusal chart is out of spec once refusals dominate.
send 30 openai_refusal.json
ok "a jump in refusals drives the refusal chart out of spec" \
    wait_until "curl -s '$ADMIN_URL/stats' | tr -d ' \n' | grep -q '\"refusal\":{\"state\":\"out_of_spec\"'" 10

ok "all 72 exchanges evaluated" \
    wait_until "curl -s '$ADMIN_URL/stats' | grep -q '\"evaluated\": 72'" 20
http metrics "$ADMIN_URL/metrics"
like "$(cat "$HTTP_BODY")" 'sigmaproxy_defects_total\{scope="all",scorer="refusal"\} 34' \
    "/metrics: defects by scorer"
like "$(cat "$HTTP_BODY")" 'sigmaproxy_sigma_level\{scope="all",scorer="[a-z_]+"\} \+Inf' \
    "/metrics: +Inf sigma for a scorer with no defects"
like "$(cat "$HTTP_BODY")" 'sigmaproxy_error_rate_ucl\{scope="route",route="default",scorer="any"\}' \
    "/metrics: per-route control limits"
http dash "$ADMIN_URL/dashboard"
is "$HTTP_STATUS" 200 "/dashboard is served"
like "$(cat "$HTTP_BODY")" "fetch\('stats'" "the dashboard reads /stats"
stop_proc "$PROXY_PID"

# Not chosen by the rate, an upstream failure is still captured, and counted apart.
start_proxy --sample-rate 0
http apart503 -H 'x-mock-status: 503' "$PROXY_URL/v1/chat/completions" -d '{"model":"m"}'
http_error_chart() {
    curl -s "$ADMIN_URL/stats" | tr -d ' \n' |
        grep -o '"http_error":{"state":"[a-z_]*",[^{]*"window":{[^}]*},"current":{[^}]*},"total":{[^}]*},"apart":{[^}]*}' |
        head -1
}
wait_until "http_error_chart | grep -q '\"apart\":{\"n\":1'" 5
c=$(http_error_chart)
like "$c" '"apart":\{"n":1,"defects":1\}' "a 503 at rate 0 is scored apart (sampled_by=error)"
like "$c" '"total":\{"n":0,' "and stays out of the rate estimate"
stop_proc "$PROXY_PID"

# Sampling at 0.1 over 2000 requests: Binomial(2000, 0.1) has sd 13.4; 5 sd either side.
start_proxy --sample-rate 0.1
send 2000 -
captured=$(curl -s "$ADMIN_URL/stats" | awk -F': ' '/"captured"/ {gsub(/,/, "", $2); print $2}')
ok "rate 0.1 captured $captured of 2000 (200 +- 67)" test "$captured" -gt 133 -a "$captured" -lt 267
stop_proc "$PROXY_PID"

# --sample-rate auto: the rate shown is the one sized from traffic (SIXSIGMA.md §11).
start_proxy --sample-rate auto --sigma '{"p0":0.01,"p1":0.05,"window_s":1}'
send 300 -
sleep 2.2
send 50 -
auto=$(curl -s "$ADMIN_URL/stats" | tr -d ' \n')
like "$auto" '"sampling":\{"mode":"auto","rate":0\.[0-9]+' "auto mode sets a rate below 1 from traffic"
like "$auto" '"power_achieved":0\.[0-9]+' "and reports the power it achieves"
done_testing
