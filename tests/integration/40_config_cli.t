#!/usr/bin/env bash
# The command line as scripts see it: --help lists every option with its default, --version,
# --check-config validates and exits, bad values are one line naming setting/value/allowed, and
# precedence flag > env > file > default holds in the running binary.
source "$(dirname "$0")/lib.sh"

out=$("$SIGMAPROXY_BIN" --help 2>&1)
is "$?" 0 "--help exits 0"
for flag in --config --listen --admin-listen --upstream --sample-rate --redis --spool-dir \
    --max-body --check-config --version --help --connect-timeout-ms --first-byte-timeout-ms \
    --idle-timeout-ms --total-timeout-ms --max-connections --threads --ca-file --tls-verify \
    --access-log --drain-timeout-ms; do
    like "$out" "$flag" "--help lists $flag"
done
like "$out" "default 127.0.0.1:8080" "--help shows the listen default"
like "$out" "default https://api.openai.com" "--help shows the upstream default"
like "$("$SIGMAPROXY_BIN" --version)" '^sigmaproxy [0-9]+\.[0-9]+' "--version prints the version"

out=$("$SIGMAPROXY_BIN" --check-config --config "$SRC_DIR/config/sigmaproxy.example.json" 2>&1)
is "$?" 0 "--check-config accepts the documented example config"

check_bad() { # NAME WANT_REGEX ARGS...
    local name=$1 want=$2 out rc
    shift 2
    out=$("$SIGMAPROXY_BIN" --check-config "$@" 2>&1)
    rc=$?
    is "$rc" 2 "$name: refused with exit 2"
    like "$(head -1 <<<"$out")" "$want" "$name: one line naming setting, value, allowed"
}
check_bad "port out of range" '^sigmaproxy: --listen: "127.0.0.1:70000": .*0\.\.65535' \
    --listen 127.0.0.1:70000
check_bad "sample rate above 1" '^sigmaproxy: --sample-rate: "1.5": .*0\.\.1' --sample-rate 1.5
check_bad "upstream scheme" '^sigmaproxy: --upstream: "ftp://x": .*http' --upstream ftp://x
check_bad "redis URL" '^sigmaproxy: --redis: .*redis://' --redis http://localhost
check_bad "max body" '^sigmaproxy: --max-body: "lots"' --max-body lots
check_bad "unknown flag suggests" 'did you mean --listen' --listn 127.0.0.1:1
check_bad "JSON syntax error gives file:line:col" \
    "bad_syntax.json:[0-9]+:[0-9]+" --config "$FIXTURES_DIR/config/bad_syntax.json"
check_bad "unknown key suggests" 'did you mean "?listen' \
    --config "$FIXTURES_DIR/config/bad_unknown_key.json"
check_bad "unknown scorer" '^sigmaproxy: scorers.pi: no such scorer' --scorers '{"pi":{}}'
check_bad "bad scorer params" '^sigmaproxy: regex.params.deny\[0\]: missing closing parenthesis' \
    --scorers '{"regex":{"params":{"deny":["(unclosed"]}}}'
check_bad "p1 below p0" '^sigmaproxy: sigma.p1: 0.1: must be above p0 \(0.5\)' \
    --sigma '{"p0":0.5,"p1":0.1}'
check_bad "sampling route unknown" '^sigmaproxy: sampling.routes.nope' \
    --sampling '{"routes":{"nope":0.5}}'
out=$(SIGMAPROXY_SAMPLE_RATE=abc "$SIGMAPROXY_BIN" --check-config 2>&1)
like "$out" 'SIGMAPROXY_SAMPLE_RATE: "abc"' "a bad environment value names the variable"

# Precedence in the running binary: the file says one upstream, env another, the flag a third.
start_mock
good_mock=$MOCK_URL
cat >"$TEST_DIR/layers.json" <<JSON
{ "upstreams": [{"name": "file", "url": "http://127.0.0.1:1"}], "max_body_bytes": 10 }
JSON
SIGMAPROXY_UPSTREAM=http://127.0.0.1:2 SIGMAPROXY_MAX_BODY=20 UPSTREAM_URL=$good_mock \
    start_proxy --config "$TEST_DIR/layers.json"
http layered -H 'x-mock-echo: 1' -d '0123456789012345' "$PROXY_URL/v1/x"
is "$HTTP_STATUS" 200 "flag beats env beats file (upstream from the flag; 16-byte body under env's 20)"
http over_env -d '0123456789012345678901234' "$PROXY_URL/v1/x"
is "$HTTP_STATUS" 413 "env's max_body (20) beats the file's (10) and the default"

done_testing
