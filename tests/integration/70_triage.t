#!/usr/bin/env bash
# The triage writer against a real redis-server: flagged exchanges arrive as SPEC items with no
# secret in them; Redis killed -> items spooled -> Redis back on the same port -> every item, in
# order, exactly once; SIGTERM flushes to Redis, or with Redis away to the spool, which the next
# run delivers (a torn record at its end skipped and counted); the spool cap drops the oldest,
# counted; /stats and /metrics tell all of it.
# shellcheck disable=SC2016 # wait_until evaluates its single-quoted condition later
source "$(dirname "$0")/lib.sh"

start_mock
start_redis
PORT=$REDIS_PORT
SPOOL=$TEST_DIR/spool-triage
FAKE_KEY=sk-proj-FAKEfake0123456789TESTtestABCDEFabcdef
R() { redis-cli -p "$PORT" "$@" 2>/dev/null; }
# ids: the id of each item in the stream, in stream order, one line.
ids() {
    R --raw XRANGE sigmaproxy:flagged - + | grep -o '^{"id":"[^"]*"' | cut -d'"' -f4 | paste -sd' '
}
xlen() { R XLEN sigmaproxy:flagged; }
# tri KEY: a figure of /stats' triage object (dropped reasons included).
tri() {
    curl -s "$ADMIN_URL/stats" | tr -d ' \n' | grep -o '"triage":{.*' | grep -o "\"$1\":[^,}]*" |
        head -1 | cut -d: -f2 | tr -d '"'
}
# send FIXTURE TAG N: N chat completions one after the other, request ids TAG-1..TAG-N, each with
# credentials in its headers and its query string (none may reach an item).
send() {
    local i
    for i in $(seq 1 "$3"); do
        curl -s -o /dev/null -H "x-mock-fixture: $1" -H "x-request-id: $2-$i" \
            -H "Authorization: Bearer $FAKE_KEY" -H "x-api-key: $FAKE_KEY" \
            -H 'Content-Type: application/json' \
            -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"question '"$2-$i"'"}]}' \
            "$PROXY_URL/v1/chat/completions?api_key=$FAKE_KEY"
    done
}
seq_ids() { # TAG FROM TO
    local i out=
    for i in $(seq "$2" "$3"); do out+="${out:+ }$1-$i"; done
    echo "$out"
}
segments() { find "$SPOOL" -name '*.spool' 2>/dev/null | wc -l; }

# ---- items: content, no secrets ----------------------------------------------------------------
start_proxy --sample-rate 1 --redis "$REDIS_URL" --spool-dir "$SPOOL" --spool-fsync-ms 0
send openai_pii.json pii 1
send openai_secret.json secret 1
send openai_refusal.json refusal 1
http clean -H "x-request-id: clean-1" -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' \
    "$PROXY_URL/v1/chat/completions"
ok "the 3 flagged exchanges reach the stream" wait_until '[ "$(xlen)" = 3 ]' 10
ok "and only those (the clean reply is evaluated, not flagged)" \
    wait_until "curl -s '$ADMIN_URL/stats' | grep -q '\"evaluated\": 4'" 5
is "$(xlen)" 3 "XLEN is 3"
is "$(ids)" "pii-1 secret-1 refusal-1" "in the order they were sent"
R --raw XRANGE sigmaproxy:flagged - + >"$TEST_DIR/items"
pii=$(grep '^{"id":"pii-1"' "$TEST_DIR/items")
like "$pii" '"ts":"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z"' "ts is RFC 3339 UTC"
like "$pii" '"route":"default","upstream":"http://127\.0\.0\.1:[0-9]+"' "route and upstream"
like "$pii" '"method":"POST","path":"/v1/chat/completions",' "path without its query string"
like "$pii" '"model":"gpt-4o-mini-2024-07-18","status":200,"outcome":"complete","stream":false' \
    "model, status, stream"
like "$pii" '"latency_ms":[0-9.]+,"ttft_ms":null' "latency_ms; ttft_ms only for streams"
like "$pii" '"request":\{"model":"gpt-4o-mini","messages":\[\{"role":"user","content":"question pii-1"\}\]\}' \
    "the request body, as JSON"
like "$pii" '"response_text":"You can reach Jane Doe at jane\.doe@gmail\.com' "the response text"
like "$pii" '"response_raw":"\{\\"id\\":\\"chatcmpl-fx9\\"' "the raw response"
like "$pii" '"scores":\[[^]]*\{"scorer":"pii","defect":true,"score":[0-9.]+,"detail":"[^"]+"\}' \
    "scores: the pii defect with its detail"
like "$pii" '\{"scorer":"empty","defect":false' "scores: the other verdicts too"
like "$pii" '"sampled_by":"rate","system_fingerprint":"fp_mock0001"\}$' \
    "sampled_by and system_fingerprint"
like "$(grep '^{"id":"secret-1"' "$TEST_DIR/items")" '\{"scorer":"secrets","defect":true' \
    "the secret reply is flagged by secrets"
like "$(grep '^{"id":"refusal-1"' "$TEST_DIR/items")" '\{"scorer":"refusal","defect":true' \
    "the refusal is flagged by refusal"
ok "the client's key appears nowhere in Redis" \
    bash -c "! redis-cli -p $PORT --raw XRANGE sigmaproxy:flagged - + | grep -q 'FAKEfake'"
ok "nor any Authorization or x-api-key header" \
    bash -c "! grep -qiE 'bearer|x-api-key|authorization' '$TEST_DIR/items'"
is "$(tri redis)" up "/stats: redis up"
is "$(tri flagged)" 3 "/stats: 3 flagged"
is "$(tri written)" 3 "/stats: 3 written"
http metrics "$ADMIN_URL/metrics"
like "$(cat "$HTTP_BODY")" 'sigmaproxy_triage_written_total 3' "/metrics: written"
like "$(cat "$HTTP_BODY")" 'sigmaproxy_triage_redis_up 1' "/metrics: redis up"
like "$(cat "$HTTP_BODY")" 'sigmaproxy_triage_dropped_total\{reason="spool_cap"\} 0' \
    "/metrics: drops by reason"

# ---- Redis killed, traffic, Redis back on the same port: all of it, in order, once -------------
stop_proc "$REDIS_PID"
send openai_pii.json down 10
ok "with Redis gone the 10 items are spooled" wait_until '[ "$(tri spool_items)" = 10 ]' 10
is "$(tri redis)" down "/stats: redis down"
ok "the spool holds segment files" test "$(segments)" -ge 1
start_redis "$PORT"
send openai_refusal.json after 3 # right away: queued behind the spool, never ahead of it
ok "Redis back: 13 items arrive" wait_until '[ "$(xlen)" = 13 ]' 15
sleep 0.3
is "$(xlen)" 13 "exactly 13: none lost, none twice"
is "$(ids)" "$(seq_ids down 1 10) $(seq_ids after 1 3)" "in order: the spooled ones, then the new"
ok "the spool drains" wait_until '[ "$(tri spool_items)" = 0 ]' 5
is "$(segments)" 0 "and its segments are deleted once acknowledged"
replayed=$(tri replayed)
ok "/stats: the 10 replayed from the spool (and the new ones queued behind: $replayed)" \
    test "$replayed" -ge 10
is "$(($(tri written) + replayed))" 16 "/stats: written + replayed = 3 + 13"
ok "the replay is logged" grep -q "spool replayed: $replayed items delivered" "$PROXY_LOG"

# ---- SIGTERM with Redis up: everything queued is written before exit ---------------------------
R DEL sigmaproxy:flagged >/dev/null
for i in $(seq 1 20); do
    printf 'url = "%s/v1/chat/completions"\noutput = "/dev/null"\n' "$PROXY_URL"
done >"$TEST_DIR/urls"
curl -s -K "$TEST_DIR/urls" -H 'x-mock-fixture: openai_pii.json' \
    -H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini"}' >/dev/null
stop_proc "$PROXY_PID"
is "$(xlen)" 20 "SIGTERM right after 20 flagged exchanges: all 20 in Redis at exit"

# ---- SIGTERM with Redis away: the spool keeps them for the next run ----------------------------
start_proxy --sample-rate 1 --redis "$REDIS_URL" --spool-dir "$SPOOL"
R DEL sigmaproxy:flagged >/dev/null
stop_proc "$REDIS_PID"
send openai_secret.json kept 5
ok "5 items spooled" wait_until '[ "$(tri spool_items)" = 5 ]' 10
stop_proc "$PROXY_PID"
ok "after SIGTERM the spool is on disk" test "$(segments)" -ge 1
last=$(find "$SPOOL" -name '*.spool' | sort | tail -1)
printf '\x40\x00\x00\x00\x00\x00\x00\x00{"id":"torn' >>"$last" # a record cut by a crash
start_redis "$PORT"
start_proxy --sample-rate 1 --redis "$REDIS_URL" --spool-dir "$SPOOL"
ok "the next run delivers the spooled items" wait_until '[ "$(xlen)" = 5 ]' 15
is "$(ids)" "$(seq_ids kept 1 5)" "all 5, in order"
ok "the torn record is skipped and counted" wait_until '[ "$(tri torn)" = 1 ]' 5
ok "the earlier run's spool is logged at start" grep -q 'holds 5 items from an earlier run' \
    "$PROXY_LOG"
ok "and the torn record as a warning" grep -q 'skipped 1 torn' "$PROXY_LOG"
is "$(segments)" 0 "the spool is empty again"
stop_proc "$PROXY_PID"

# ---- the spool cap: the oldest go, counted -----------------------------------------------------
R DEL sigmaproxy:flagged >/dev/null
stop_proc "$REDIS_PID"
start_proxy --sample-rate 1 --redis "$REDIS_URL" --spool-dir "$SPOOL" \
    --spool-max-bytes 64k --spool-segment-bytes 8k
send openai_pii.json cap 60
ok "60 items spooled" wait_until '[ "$(tri spooled)" = 60 ]' 10
bytes=$(tri spool_bytes)
kept=$(tri spool_items)
dropped=$(tri spool_cap)
ok "the spool stays under its cap ($bytes <= 65536 bytes)" test "$bytes" -le 65536
ok "files on disk too" test "$(cat "$SPOOL"/*.spool | wc -c)" -le 65536
ok "some were dropped ($dropped)" test "$dropped" -gt 0
is "$((kept + dropped))" 60 "kept ($kept) + dropped = 60"
like "$(curl -s "$ADMIN_URL/metrics")" "sigmaproxy_triage_dropped_total\{reason=\"spool_cap\"\} $dropped" \
    "/metrics counts the drops"
ok "the drop is logged as an error" grep -q 'error triage: spool full' "$PROXY_LOG"
start_redis "$PORT"
ok "Redis back: the kept items arrive" wait_until '[ "$(xlen)" = "$kept" ]' 15
is "$(ids)" "$(seq_ids cap $((60 - kept + 1)) 60)" "the newest were kept, in order"
stop_proc "$PROXY_PID"

# ---- Redis away and the spool unusable: forwarding goes on, the losses are counted -------------
stop_proc "$REDIS_PID"
: >"$TEST_DIR/plain"
start_proxy --sample-rate 1 --redis "$REDIS_URL" --spool-dir "$TEST_DIR/plain/spool"
send openai_pii.json lost 1
http lost -H 'x-mock-fixture: openai_pii.json' -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini"}' "$PROXY_URL/v1/chat/completions"
is "$HTTP_STATUS" 200 "the client is served as usual"
ok "both flagged items are dropped as spool_error" wait_until '[ "$(tri spool_error)" = 2 ]' 5
ok "the unusable spool is logged as an error" grep -q 'error triage: spool: mkdir' "$PROXY_LOG"
stop_proc "$PROXY_PID"

# ---- Redis off: counted, not queued, no spool --------------------------------------------------
rm -rf "$SPOOL"
start_proxy --sample-rate 1 --redis '' --spool-dir "$SPOOL"
send openai_pii.json off 2
ok "with --redis '' flagged items are dropped as redis_off" \
    wait_until '[ "$(tri redis_off)" = 2 ]' 5
is "$(tri redis)" off "/stats: redis off"
ok "and no spool is made" test ! -e "$SPOOL"
done_testing
