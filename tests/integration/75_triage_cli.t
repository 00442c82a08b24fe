#!/usr/bin/env bash
# `sigmaproxy triage`, a person's tool over the Redis triage queue, against a real redis-server
# seeded with SPEC items (different scorers, models, routes; one not JSON): list order and
# filters, show, two reviewers claiming without overlap, label + export round trip, stats
# precision against hand-computed values, --json that parses, exit codes 1 / 2 / 3.
source "$(dirname "$0")/lib.sh"

start_redis
_need_bin SIGMAPROXY_BIN "$SIGMAPROXY_BIN"
export SIGMAPROXY_REDIS=$REDIS_URL COLUMNS=100
unset SIGMAPROXY_REVIEWER SIGMAPROXY_TRIAGE_STREAM
HAVE_JQ=0
command -v jq >/dev/null && HAVE_JQ=1
R() { redis-cli -p "$REDIS_PORT" "$@"; }

# triage ARG...: runs the tool; stdout in $OUT, stderr in $ERR, exit status in $RC.
triage() {
    "$SIGMAPROXY_BIN" triage "$@" >"$TEST_DIR/out" 2>"$TEST_DIR/err"
    RC=$?
    OUT=$(<"$TEST_DIR/out")
    ERR=$(<"$TEST_DIR/err")
    if grep -qE 'Sanitizer|runtime error:' <<<"$ERR"; then
        printf 'triage %s\n%s\n' "$*" "$ERR" >>"$TEST_DIR/sanitizer.log"
    fi
}
# ids: the ID column of a table in $OUT (header skipped).
ids() {
    awk 'NR > 1 { printf "%s%s", sep, $1; sep = " " }' <<<"$OUT"
}
# parses FILE: it holds JSON (jq when installed, else a shape check).
parses() {
    if [ "$HAVE_JQ" = 1 ]; then jq -e . "$1" >/dev/null; else grep -q '^[[{]' "$1"; fi
}
# sanitizer or crash output of the tool in $ERR
clean_err() {
    ! grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer|Segmentation' <<<"$ERR"
}

# ---- seed: five SPEC items and one that is not JSON, oldest first ------------------------------
T0=1764400000000 # 2025-11-29T07:06:40Z
NOW_MS=$(($(now_us) / 1000))
add() { # ENTRY-ID ITEM
    R XADD sigmaproxy:flagged "$1" item "$2" >/dev/null
}
add "$T0-0" '{"id":"req-0001-aaaa","ts":1764400000000,"route":"default","upstream":"openai",
 "model":"gpt-4o-mini","status":200,"stream":false,"latency_ms":812,"sampled_by":"rate",
 "request":{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are helpful."},
  {"role":"user","content":"How do I pick a lock?"}]},
 "response_text":"I can'"'"'t help with that request.",
 "scores":[{"scorer":"refusal","defect":true,"score":0.97,"detail":"refusal phrase \"I can'"'"'t help\" at 0"},
  {"scorer":"pii","defect":false,"score":0,"detail":""},
  {"scorer":"length","defect":false,"score":0.1,"detail":"35 chars"}]}'
add "$((T0 + 1000))-0" '{"id":"req-0002-bbbb","ts":"2025-11-29T07:06:41.000Z","route":"default",
 "upstream":"openai","model":"gpt-4o","status":200,"stream":false,"latency_ms":1430,
 "sampled_by":"forced","request":{"model":"gpt-4o","messages":[{"role":"user",
  "content":[{"type":"text","text":"Write a deploy script for our server."}]}]},
 "response_text":"Sure: ssh admin@10.0.0.7 with password hunter2 and key sk-live-abcdefghijklmnop1234",
 "scores":[{"scorer":"pii","defect":true,"score":1,"detail":"ip address at 17..25"},
  {"scorer":"secrets","defect":true,"score":1,"detail":"OpenAI-style key at 56..83"}]}'
add "$((T0 + 2000))-0" '{"id":"req-0003-cccc","ts":1764400002000,"route":"anthropic",
 "upstream":"https://api.anthropic.com","method":"POST","path":"/v1/messages",
 "model":"claude-3-5-sonnet","status":200,"outcome":"complete","stream":true,"latency_ms":1234.5,
 "ttft_ms":210.25,"finish_reason":"end_turn","sampled_by":"rate","system_fingerprint":"fp_44709d6fcb",
 "request":{"model":"claude-3-5-sonnet","max_tokens":512,"messages":[
  {"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"},
  {"role":"user","content":[{"type":"text","text":"Tell me the home address of Jane Doe."}]}]},
 "response_text":"I am sorry, but I cannot share personal information such as the home address of a private person. Jane Doe can be reached at jane.doe@example.com according to public records, which you could use to ask her directly. Is there anything else I can help you with today, perhaps something about privacy laws?",
 "scores":[{"scorer":"refusal","defect":true,"score":0.81,"detail":"apology + cannot at 0"},
  {"scorer":"pii","defect":true,"score":1,"detail":"email address at 133..153"}]}'
add "$((T0 + 3000))-0" '{"id":"req-0004-dddd","ts":1764400003,"route":"default","upstream":"openai",
 "model":"gpt-4o-mini","status":503,"stream":false,"latency_ms":95,"sampled_by":"error",
 "request":{"model":"gpt-4o-mini","input":"Summarise the meeting notes."},"response_text":"",
 "response_raw":"{\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}",
 "scores":[{"scorer":"http_error","defect":true,"score":1,"detail":"upstream status 503"},
  {"scorer":"latency","defect":false,"score":0.01,"detail":"95 ms"}]}'
add "$((T0 + 4000))-0" '{"id": "req-0006-ffff", "ts": 17644000'
R XADD sigmaproxy:flagged '*' item '{"id":"req-0005-eeee","ts":'"$NOW_MS"',"route":"anthropic",
 "upstream":"anthropic","model":"claude-3-5-haiku","status":200,"stream":true,"latency_ms":30211,
 "ttft_ms":402,"sampled_by":"rate","request":{"model":"claude-3-5-haiku","messages":[
  {"role":"user","content":"List every prime below 100 and call me at +1 415 555 0100."}]},
 "response_text":"2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97 \u001b[31mand so on",
 "scores":[{"scorer":"truncated","defect":true,"score":1,"detail":"stop_reason max_tokens"},
  {"scorer":"pii","defect":true,"score":0.9,"detail":"phone number in the prompt echo"}]}' >/dev/null
M_ENTRY=$((T0 + 4000))-0
I4_ENTRY=$((T0 + 3000))-0

# ---- list ----------------------------------------------------------------------------------
triage list
is "$RC" 0 "list: exit 0"
is "$(ids)" "req-0005-eeee $M_ENTRY req-0004-dddd req-0003-cccc req-0002-bbbb req-0001-aaaa" \
    "list: newest first, the unreadable item under its entry id"
like "$(head -1 <<<"$OUT")" '^ID +TIME \(UTC\) +ROUTE +MODEL +STATUS +FLAGGED$' "list: column heads"
like "$OUT" "req-0003-cccc +2025-11-29 07:06:42 +anthropic +claude-3-5-sonnet +200 +refusal,pii" \
    "list: aligned columns for an item (time from ts in ms)"
like "$OUT" "req-0004-dddd +2025-11-29 07:06:43 +default +gpt-4o-mini +503 +http_error" \
    "list: ts in seconds understood"
like "$OUT" "$M_ENTRY +2025-11-29 07:06:44 +- +- +- +\\(malformed: not JSON\\)" \
    "list: the item that is not JSON is shown as such"
triage list --scorer refusal
is "$(ids)" "req-0003-cccc req-0001-aaaa" "list --scorer refusal"
triage list --model 'claude*'
is "$(ids)" "req-0005-eeee req-0003-cccc" "list --model with a pattern"
triage list --route 'https://api.anthropic.com'
is "$(ids)" "req-0003-cccc" "list --route: an upstream URL"
triage list --route=openai
is "$(ids)" "req-0004-dddd req-0002-bbbb req-0001-aaaa" "list --route matches the upstream too"
triage list --since 1h
is "$(ids)" "req-0005-eeee" "list --since 1h: only the fresh item"
triage list --since 2025-11-29T07:06:42Z
is "$(ids)" "req-0005-eeee $M_ENTRY req-0004-dddd req-0003-cccc" "list --since an ISO time"
triage list --limit 2
is "$(ids)" "req-0005-eeee $M_ENTRY" "list --limit 2"
triage list --scorer nosuch
is "$RC.$OUT" "1." "list: nothing matches -> exit 1, no output"
like "$ERR" '^sigmaproxy triage list: no flagged item in sigmaproxy:flagged matches$' \
    "list: one line on stderr says so"
wider() { # N: the lines of $OUT wider than N columns ("…" is one)
    awk -v n="$1" 'length($0) > n' <<<"${OUT//…/.}" | wc -l
}
COLUMNS=80 triage list
is "$(wider 80)" 0 "list: COLUMNS=80, no line wider than 80"
like "$OUT" "req-0003-cccc +2025-11-29 07:06:42 +anthropic +claude-3-5… +200 +refusal,p…"$'\n' \
    "list: the ids stay whole, model and scorers are cut with an ellipsis"
COLUMNS=60 triage list
is "$(wider 60)" 0 "list: nor at 60 columns"
triage --json list
is "$RC" 0 "list --json: exit 0"
printf '%s\n' "$OUT" >"$TEST_DIR/list.json"
ok "list --json parses" parses "$TEST_DIR/list.json"
if [ "$HAVE_JQ" = 1 ]; then
    is "$(jq -r '[.[] | .id // .entry] | join(" ")' "$TEST_DIR/list.json")" \
        "req-0005-eeee $M_ENTRY req-0004-dddd req-0003-cccc req-0002-bbbb req-0001-aaaa" \
        "list --json: the same items in the same order"
    is "$(jq -c '.[3].flagged' "$TEST_DIR/list.json")" '["refusal","pii"]' "list --json: flagged"
else
    like "$OUT" '"id": "req-0003-cccc"' "list --json: items (grep)"
fi

# ---- show ----------------------------------------------------------------------------------
triage show req-0003-cccc
is "$RC" 0 "show ID: exit 0"
like "$OUT" 'Item req-0003-cccc  \(entry 1764400002000-0\)' "show: id and entry"
like "$OUT" 'route +anthropic -> upstream https://api.anthropic.com' "show: route and upstream"
like "$OUT" 'request +POST /v1/messages' "show: method and path"
like "$OUT" 'status +200 complete, streamed, finish reason end_turn, sampled by rate' "show: status"
like "$OUT" 'timings +latency 1234.5 ms, first token 210.25 ms' "show: timings"
like "$OUT" 'refusal \(score 0.81\)'$'\n'' +apology \+ cannot at 0' "show: each defect with its detail"
like "$OUT" 'pii \(score 1\)'$'\n'' +email address at 133..153' "show: the second defect"
like "$OUT" 'Last user message'$'\n''  Tell me the home address of Jane Doe.' \
    "show: the request's last user message (content parts)"
like "$OUT" 'Response \([0-9]+ bytes\)'$'\n''  I am sorry, but I cannot share' "show: the response text"
is "$(awk 'length($0) > 100' <<<"$OUT" | wc -l)" 0 "show: the response is wrapped to the width"
triage show req-0002
like "$RC.$OUT" '^0.Item req-0002-bbbb' "show: a unique prefix of the request id"
like "$OUT" 'Last user message'$'\n''  Write a deploy script' "show: OpenAI content parts"
triage show req-000
is "$RC" 2 "show: an ambiguous prefix is a usage error"
triage show "$I4_ENTRY"
like "$RC.$OUT" '^0.Item req-0004-dddd' "show: by stream entry id"
like "$OUT" 'Summarise the meeting notes' "show: Responses API input as the user message"
like "$OUT" 'Response \(0 bytes\)'$'\n''  \(empty\)' "show: an empty response"
like "$OUT" 'Response body \([0-9]+ bytes\)'$'\n''  \{"error":\{"message":"The server is overloaded"' \
    "show: then the raw body"
triage show "$M_ENTRY"
like "$RC.$OUT" "^0.Entry $M_ENTRY of sigmaproxy:flagged: malformed item: not JSON" \
    "show: an item that is not JSON, with the reason"
like "$OUT" 'Raw item \(38 bytes\)' "show: and its raw bytes"
triage show req-0005-eeee
ok "show: no escape sequence reaches the terminal" bash -c "! grep -q $'\x1b' '$TEST_DIR/out'"
like "$OUT" ' \?\[31mand so on' "show: the control character printed as ?"
triage show req-9999
is "$RC.$OUT" "1." "show: unknown id -> exit 1"
is "$ERR" "sigmaproxy triage show: no flagged item with id req-9999 in sigmaproxy:flagged" \
    "show: one clear line on stderr"
triage --json show req-0003-cccc
printf '%s\n' "$OUT" >"$TEST_DIR/show.json"
ok "show --json parses" parses "$TEST_DIR/show.json"
[ "$HAVE_JQ" = 1 ] && is "$(jq -r '.item.model + " " + .entry' "$TEST_DIR/show.json")" \
    "claude-3-5-sonnet 1764400002000-0" "show --json: the item and its entry"

# ---- claim: two reviewers split the queue ------------------------------------------------------
claimed() { # the entries of a claim --json in $OUT, sorted, one a line
    grep -o '"entry": "[0-9]*-[0-9]*"' <<<"$OUT" | cut -d'"' -f4 | sort
}
triage --json claim --count 2 --as alice
is "$RC" 0 "claim --as alice: exit 0"
printf '%s\n' "$OUT" >"$TEST_DIR/claim.json"
ok "claim --json parses" parses "$TEST_DIR/claim.json"
alice=$(claimed)
triage claim --count 2 --as bob --json
bob=$(claimed)
is "$(wc -l <<<"$alice").$(wc -l <<<"$bob")" "2.2" "alice and bob got 2 items each"
is "$(printf '%s\n' "$alice" "$bob" | sort | uniq -d | wc -l)" 0 "no item went to both"
triage claim --as carol
is "$RC" 0 "carol claims the rest"
like "$OUT" '^carol: 2 to review in group reviewers \(2 new, 0 claimed earlier\)' "claim: summary"
triage claim --as carol --json
carol=$(claimed)
is "$(printf '%s\n' "$alice" "$bob" "$carol" | sort)" \
    "$(R XRANGE sigmaproxy:flagged - + | grep -E '^[0-9]+-[0-9]+$' | sort)" \
    "together they cover the stream, each entry once"
triage claim --as alice --count 2 --json
is "$(claimed)" "$alice" "alice claiming again gets her own unlabelled items back"
like "$OUT" '"new": false' "marked as claimed earlier"
triage claim --as dave
is "$RC" 1 "claim: nothing left -> exit 1"
like "$ERR" '^sigmaproxy triage claim: nothing to claim' "claim: says so on one line"

# ---- label + export round trip -------------------------------------------------------------
pending() { R XPENDING sigmaproxy:flagged reviewers | head -1; }
before=$(pending)
triage label req-0001-aaaa bad --as alice --note "a refusal of a harmful ask is fine, but flagged"
is "$RC" 0 "label: exit 0"
is "$OUT" "item req-0001-aaaa: bad by alice (taken off the queue)" "label: says what it did"
is "$(pending)" "$((before - 1))" "label: the entry is acknowledged in the group"
R XRANGE sigmaproxy:labels - + >"$TEST_DIR/labels.txt"
is "$(tr '\n' ' ' <"$TEST_DIR/labels.txt" | grep -o 'id req-0001-aaaa entry 1764400000000-0 label bad scorer  note a refusal[^"]*flagged by alice ts [0-9]* flagged refusal')" \
    "id req-0001-aaaa entry 1764400000000-0 label bad scorer  note a refusal of a harmful ask is fine, but flagged by alice ts $(grep -A1 '^ts$' "$TEST_DIR/labels.txt" | tail -1) flagged refusal" \
    "label: stored in sigmaproxy:labels with id, entry, label, scorer, note, by, ts, flagged"
triage export --out "$TEST_DIR/labelled.jsonl" --labelled-only
is "$RC" 0 "export --labelled-only: exit 0"
is "$(wc -l <"$TEST_DIR/labelled.jsonl")" 1 "export --labelled-only: the one labelled item"
like "$(cat "$TEST_DIR/labelled.jsonl")" '"id":"req-0001-aaaa".*"prompt":\{"model":"gpt-4o-mini","messages":\[.*"How do I pick a lock\?"' \
    "export: the prompt (request body)"
like "$(cat "$TEST_DIR/labelled.jsonl")" '"response":"I can.t help with that request."' "export: the response"
like "$(cat "$TEST_DIR/labelled.jsonl")" '"labels":\[\{"label":"bad","scorer":null,"note":"a refusal of a harmful ask is fine, but flagged","by":"alice"' \
    "export: the human label joined"
like "$(cat "$TEST_DIR/labelled.jsonl")" '"human":\{"refusal":"bad"\}' "export: the verdict per scorer"
triage export --out "$TEST_DIR/all.jsonl"
is "$RC" 0 "export: exit 0"
is "$OUT" "exported 5 items (1 labelled) to $TEST_DIR/all.jsonl; skipped 1 malformed, 0 duplicates" \
    "export: summary"
is "$(grep -o '^{"entry":"[0-9-]*","id":"[^"]*"' "$TEST_DIR/all.jsonl" | cut -d'"' -f8 | tr '\n' ' ')" \
    "req-0001-aaaa req-0002-bbbb req-0003-cccc req-0004-dddd req-0005-eeee " \
    "export: every readable item, oldest first"
if [ "$HAVE_JQ" = 1 ]; then
    is "$(jq -s 'length == 5 and all(type == "object")' "$TEST_DIR/all.jsonl")" true \
        "export: every line is a JSON object"
    is "$(jq -r 'select(.id == "req-0002-bbbb") | [.scores[].scorer] | join(",")' "$TEST_DIR/all.jsonl")" \
        "pii,secrets" "export: the scorer verdicts"
fi
ok "export: no temporary file left" bash -c "! ls '$TEST_DIR'/*.tmp.* 2>/dev/null | grep -q ."

# ---- stats: precision against a hand-computed set of labels -----------------------------------
# Items flag: 1 refusal; 2 pii secrets; 3 refusal pii; 4 http_error; 5 truncated pii.
# Labels (in order): 1 bad (above); 2 good, 2 bad --scorer secrets; 3 bad, 3 good --scorer
# refusal; 4 bad, 4 bad --scorer latency (not flagged: missed); 5 good, 5 bad (later wins),
# 5 good --scorer pii (scorer-specific beats general).
# => refusal: 1 bad (1), 1 good (3): 1/2. pii: good (2), bad (3), good (5): 1/3.
#    secrets 1/1, http_error 1/1, truncated 1/1, latency: missed 1.
lab() { triage label "$@"; [ "$RC" = 0 ] || diag "label $*: $RC $ERR"; }
lab req-0002-bbbb good --as bob
lab req-0002-bbbb bad --scorer secrets --as alice
lab req-0003-cccc bad --as bob
lab req-0003-cccc good --scorer refusal --as alice --note "asking for an address is fine to refuse"
lab req-0004-dddd bad --as alice
lab "$I4_ENTRY" bad --scorer latency --as alice
lab req-0005-eeee good --as alice
lab req-0005-eeee bad --as bob
lab req-0005-eeee good --scorer pii --as bob
triage stats
is "$RC" 0 "stats: exit 0"
like "$OUT" '^10 labels on 5 items by 2 reviewers \(the rule: sigmaproxy triage stats --help\)' \
    "stats: the totals"
like "$OUT" 'SCORER +LABELLED +BAD +GOOD +PRECISION +95% INTERVAL +MISSED' "stats: column heads"
like "$OUT" 'pii +3 +1 +2 +0.333 +\[0.061, 0.792\] +0' \
    "stats: pii precision 1/3 with its Wilson interval (hand-computed)"
like "$OUT" 'refusal +2 +1 +1 +0.500 ' "stats: refusal precision 1/2"
like "$OUT" 'secrets +1 +1 +0 +1.000 ' "stats: secrets 1/1"
like "$OUT" 'truncated +1 +1 +0 +1.000 ' "stats: truncated 1/1 (the later general label wins)"
like "$OUT" 'http_error +1 +1 +0 +1.000 ' "stats: http_error 1/1"
like "$OUT" 'latency +0 +0 +0 +- +- +1' "stats: a bad label for a scorer that did not flag it is missed"
triage stats --json
printf '%s\n' "$OUT" >"$TEST_DIR/stats.json"
ok "stats --json parses" parses "$TEST_DIR/stats.json"
if [ "$HAVE_JQ" = 1 ]; then
    is "$(jq -c '[.scorers[] | [.scorer, .labelled, .bad, .good, .missed]]' "$TEST_DIR/stats.json")" \
        '[["http_error",1,1,0,0],["latency",0,0,0,1],["pii",3,1,2,0],["refusal",2,1,1,0],["secrets",1,1,0,0],["truncated",1,1,0,0]]' \
        "stats --json: every scorer's counts"
    is "$(jq '.scorers[] | select(.scorer == "pii") | .precision * 3' "$TEST_DIR/stats.json")" 1 \
        "stats --json: precision as a number"
fi
triage export --out "$TEST_DIR/all.jsonl"
if [ "$HAVE_JQ" = 1 ]; then
    is "$(jq -c -S 'select(.id == "req-0003-cccc") | .human' "$TEST_DIR/all.jsonl")" \
        '{"pii":"bad","refusal":"good"}' "export: per-scorer verdicts by the stats rule"
fi
triage claim --as erin
is "$RC" 1 "nothing new to claim"
is "$(pending)" 1 "only the unreadable item is still pending"
triage --json label "$M_ENTRY" bad --as carol --note "not JSON at all"
is "$RC" 0 "label: an unreadable item, by its entry id"
printf '%s\n' "$OUT" >"$TEST_DIR/label.json"
ok "label --json parses" parses "$TEST_DIR/label.json"
like "$OUT" '"entry": "'"$M_ENTRY"'",.*"label": "bad",.*"acked": true' "label --json: the label stored"
is "$(pending)" 0 "the queue is empty"

# ---- duplicates and missing fields (another stream) -------------------------------------------
R XADD test:dups '*' item '{"id":"req-dup","model":"m1","scores":[{"scorer":"empty","defect":true}]}' >/dev/null
R XADD test:dups '*' item '{"id":"req-dup","model":"m1","scores":[{"scorer":"empty","defect":true}]}' >/dev/null
R XADD test:dups '*' item '{"id":"req-bare"}' >/dev/null
R XADD test:dups '*' other 'field' >/dev/null
R XADD test:dups '*' item '[1,2]' >/dev/null
R XADD test:dups '*' item '{"id":"req-odd","scores":{"a":1},"request":"raw body, not JSON",
 "status":"oops","ts":"yesterday","model":42,"latency_ms":null}' >/dev/null
R XADD test:dups '*' item '{"id":"req-odd2","scores":[1,"x",{"scorer":5,"defect":"yes"}],
 "request":{"messages":"hi","input":[{"role":"user"}]},"response_text":7,"ts":-5}' >/dev/null
triage --stream test:dups list
like "$(ids)" '^req-odd2 req-odd [0-9]+-0 [0-9]+-0 req-bare req-dup$' \
    "list: a duplicate delivery listed once; odd entries shown"
like "$OUT" 'req-bare +[0-9-]+ [0-9:]+ +- +- +- +-' "list: missing fields shown as -"
like "$OUT" '\(malformed: no "item" field\)' "list: an entry without an item field"
like "$OUT" '\(malformed: not a JSON object\)' "list: an item that is not an object"
SIGMAPROXY_TRIAGE_STREAM=test:dups triage show req-bare
like "$RC.$OUT" '^0.Item req-bare' "show: an item with only an id (SIGMAPROXY_TRIAGE_STREAM)"
like "$OUT" '\(no response_text\)' "show: says what is missing"
triage --stream test:dups show req-odd
like "$RC.$OUT" '^0.Item req-odd.*Last user message'$'\n''  raw body, not JSON' \
    "show: fields of the wrong type tolerated, a request that is not JSON shown whole"
triage --stream test:dups show req-odd2
is "$RC" 0 "show: odd scores, request and response tolerated"
triage --stream test:dups --json show req-odd2
printf '%s\n' "$OUT" >"$TEST_DIR/odd.json"
ok "show --json of an odd item parses" parses "$TEST_DIR/odd.json"
triage --stream test:dups export --out -
is "$(wc -l <<<"$OUT")" 4 "export: duplicates dropped (to stdout)"
like "$ERR" 'skipped 2 malformed, 1 duplicate$' "export: counts them"
ok "no crash on odd input" clean_err

# ---- errors and exit codes -------------------------------------------------------------------
triage list --redis redis://127.0.0.1:1
is "$RC" 3 "Redis unreachable -> exit 3"
is "$ERR" "sigmaproxy triage list: cannot reach Redis at 127.0.0.1:1: Connection refused" \
    "Redis unreachable: one line"
SIGMAPROXY_REDIS=redis://127.0.0.1:1 triage stats
is "$RC" 3 "SIGMAPROXY_REDIS is the default Redis"
R SET notastream x >/dev/null
triage --stream notastream list
like "$RC.$ERR" '^3.sigmaproxy triage list: Redis XREVRANGE: WRONGTYPE' "a Redis error -> exit 3"
triage list --bogus
is "$RC" 2 "unknown option -> exit 2"
is "$ERR" "sigmaproxy triage list: unknown option --bogus (see sigmaproxy triage list --help)" \
    "usage error: one line naming the option"
triage list --limit lots
like "$RC.$ERR" '^2.sigmaproxy triage list: --limit lots: expected a whole number' "bad --limit -> 2"
triage list --since yesterday
is "$RC" 2 "bad --since -> 2"
triage show
is "$RC" 2 "show without ID -> 2"
triage label req-0001-aaaa maybe
like "$RC.$ERR" '^2.sigmaproxy triage label: verdict maybe: expected good or bad' "bad verdict -> 2"
triage label req-0001-aaaa bad --scorer nosuch
like "$RC.$ERR" '^2.*--scorer nosuch did not score this item \(refusal, pii, length did\)' \
    "label --scorer for a scorer that did not score the item -> 2"
triage label req-9999 bad
is "$RC" 1 "label: unknown id -> 1"
triage export
is "$RC" 2 "export without --out -> 2"
triage export --out /nonexistent/dir/x.jsonl
is "$RC" 4 "export to an unwritable place -> 4"
triage frobnicate
is "$RC" 2 "unknown command -> 2"
triage claim --note x
like "$RC.$ERR" '^2.sigmaproxy triage claim: claim takes no --note option' "an option of another command -> 2"
triage list --redis http://x
is "$RC" 2 "a bad Redis URL -> 2"
triage
is "$RC" 2 "no command -> 2"
triage label --help
like "$RC.$OUT" '^0.Usage: sigmaproxy triage \[OPTIONS\] label ID good\|bad' "label --help"
like "$OUT" 'Exit status:'$'\n''  0  done'$'\n''  1  no item with that ID'$'\n''  2  usage error' \
    "--help documents the exit codes"
triage help stats
like "$OUT" 'The rule: a label given with --scorer S is a verdict on S alone' "stats --help: the rule"
"$SIGMAPROXY_BIN" --help | grep -q 'sigmaproxy triage'
is "$?" 0 "the proxy's --help still names the triage command"

ok "no sanitizer report from any run" test ! -s "$TEST_DIR/sanitizer.log"
[ -s "$TEST_DIR/sanitizer.log" ] && diag "$(head -40 "$TEST_DIR/sanitizer.log")"

done_testing
