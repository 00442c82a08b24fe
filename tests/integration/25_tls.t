#!/usr/bin/env bash
# HTTPS upstreams for real: the mock serves TLS with a certificate for IP 127.0.0.1 from a
# throw-away CA made here with the openssl CLI. Through the proxy: with --ca-file the reply is
# byte-identical to the mock's own, a stream is relayed whole and a reset one cut; without the
# CA, or with a certificate for another name, verification fails with a logged 502 before any HTTP
# reaches the upstream; --tls-verify false accepts it; leaving clients and deadlines abort the TLS
# transfer, and the mock sees it.
source "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || skip_all "no openssl CLI to make certificates (Debian: openssl)"
probe=$(timeout 5 "$MOCK_BIN" --port 0 --tls-cert /dev/null --tls-key /dev/null 2>&1)
[[ "$probe" == *"without TLS support"* ]] && skip_all "mock_upstream: $probe"

error_shape='^\{"error":\{"message":"[^"]+","type":"[a-z_]+","code":"[a-z_]+"\}\}$'
pki=$TEST_DIR/pki
mkdir -p "$pki"

# new_key NAME: an EC P-256 key in NAME.key (fast to make; GnuTLS and OpenSSL both take it).
new_key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key"
}
# new_cert NAME SAN: NAME.pem for subjectAltName SAN, signed by the CA, server use only.
new_cert() {
    new_key "$1" &&
        openssl req -new -key "$pki/$1.key" -subj "/CN=sigmaproxy test $1" -out "$pki/$1.csr" &&
        printf '%s\n' "subjectAltName=$2" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$pki/$1.ext" &&
        openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
            -CAcreateserial -days 2 -sha256 -extfile "$pki/$1.ext" -out "$pki/$1.pem"
}
if ! {
    new_key ca &&
        openssl req -new -x509 -key "$pki/ca.key" -subj "/CN=sigmaproxy test CA" -days 2 -sha256 \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
            -out "$pki/ca.pem" &&
        new_cert server IP:127.0.0.1 &&
        new_cert wrong DNS:wrong.example
} >"$pki/openssl.log" 2>&1; then
    cat "$pki/openssl.log" >&2
    bail_out "openssl could not make the test certificates"
fi
ca=$pki/ca.pem
pass "made a CA, a certificate for IP:127.0.0.1 and one for DNS:wrong.example"

start_mock --tls-cert "$pki/server.pem" --tls-key "$pki/server.key"
like "$MOCK_URL" '^https://127\.0\.0\.1:[0-9]+$' "MOCK_URL is https"
https_port=$MOCK_PORT
tls_log=$MOCK_LOG
https=https://127.0.0.1:$https_port

# The mock itself: verified by curl with the CA, refused without it, and not plain HTTP.
http direct --cacert "$ca" "$https/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 200 "the mock answers HTTPS, verified against the CA"
direct_body=$HTTP_BODY
http direct_noca "$https/v1/chat/completions" -d '{}'
is "$HTTP_CURL_RC" 60 "curl without the CA refuses the mock's certificate (exit 60)"
http direct_plain "http://127.0.0.1:$https_port/v1/chat/completions" -d '{}'
isnt "$HTTP_STATUS" 200 "the TLS port does not answer plain HTTP"
# A TLS client's close_notify lies unread before its FIN: the peer check must see past it.
http direct_leave --cacert "$ca" --max-time 0.5 -H 'x-mock-first-byte-ms: 5000' \
    "$https/v1/direct-leave" -d '{}'
ok "the mock sees a TLS client hang up during a wait" \
    wait_until "grep -q '^POST /v1/direct-leave .*outcome=client_aborted' '$tls_log'" 2

# (a) --ca-file: the reply byte for byte, and a stream relayed whole.
UPSTREAM_URL=$https start_proxy --ca-file "$ca" --first-byte-timeout-ms 300
http via_ca -H 'x-request-id: tls-ca-1' "$PROXY_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 200 "with --ca-file: 200 over a verified HTTPS upstream"
ok "the body is byte-identical to the mock's own reply" cmp -s "$HTTP_BODY" "$direct_body"
is "$(header "$HTTP_HEADERS" content-type)" application/json "its Content-Type is relayed"
http via_ca_sse -N -H 'x-mock-sse: 5' "$PROXY_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 200 "an HTTPS stream answers 200"
is "$HTTP_CURL_RC" 0 "the stream ended cleanly (curl exit $HTTP_CURL_RC)"
like "$(header "$HTTP_HEADERS" content-type)" '^text/event-stream' "as text/event-stream"
is "$(grep -c '^data: {' "$HTTP_BODY")" 5 "all 5 events were relayed"
is "$(grep -v '^$' "$HTTP_BODY" | tail -n 1)" "data: [DONE]" "and [DONE] last"
is "$(grep -c 'status=200 events_sent=5 outcome=complete' "$tls_log")" 1 \
    "the mock sent the stream whole"

# The upstream closes mid-stream (no close_notify): the client gets a cut stream, never [DONE].
http reset -N --max-time 5 -H 'x-mock-sse: 5' -H 'x-mock-reset-after: 2' \
    -H 'x-request-id: tls-reset-1' "$PROXY_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 200 "a stream reset mid-way had started with 200"
is "$(grep -c '^data: {' "$HTTP_BODY")" 2 "the two events before the reset were relayed"
ok "and no [DONE]" test "$(grep -c '^data: \[DONE\]' "$HTTP_BODY")" = 0
is "$HTTP_CURL_RC" 18 "the client sees the stream end abnormally (curl exit 18, partial file)"
ok "the cut is logged with its request id" grep -q 'req=tls-reset-1 stream cut: upstream failed' \
    "$PROXY_LOG"

# A deadline and a leaving client abort the HTTPS transfer; the mock sees both hang-ups.
http slow_head -H 'x-mock-first-byte-ms: 3000' "$PROXY_URL/v1/slow-head" -d '{}'
is "$HTTP_STATUS" 504 "first-byte timeout over HTTPS answered 504"
ok "the mock saw the proxy hang up" \
    wait_until "grep -q '^POST /v1/slow-head .*outcome=client_aborted' '$tls_log'" 3
curl -sN --max-time 1 -H 'x-mock-sse: 50' -H 'x-mock-gap-ms: 100' "$PROXY_URL/v1/leaver" \
    -d '{}' >/dev/null
left=$(now_us)
ok "a client leaving an HTTPS stream ends the upstream transfer" \
    wait_until "grep -q '^POST /v1/leaver .*outcome=client_aborted' '$tls_log'" 5
ms=$(elapsed_ms "$left")
ok "within ${ms} ms" test "$ms" -lt 1000
stop_proc "$PROXY_PID"

# (b) Default verification, system store only: the test CA is unknown.
n_before=$(wc -l <"$tls_log")
UPSTREAM_URL=$https start_proxy
http noca -H 'x-request-id: tls-noca-1' "$PROXY_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 502 "without the CA: 502"
like "$(cat "$HTTP_BODY")" "$error_shape" "in OpenAI's error shape"
is "$(header "$HTTP_HEADERS" x-request-id)" tls-noca-1 "with x-request-id"
ok "the log line names the certificate problem and the request id" \
    grep -qiE 'req=tls-noca-1 status=502 .*(certificate|ssl)' "$PROXY_LOG"
note "$(grep 'req=tls-noca-1' "$PROXY_LOG")"
is "$(wc -l <"$tls_log")" "$n_before" "no request reached the mock past the failed handshake"
stop_proc "$PROXY_PID"

# (c) --tls-verify false: the same unverifiable upstream is accepted.
UPSTREAM_URL=$https start_proxy --tls-verify false
http noverify "$PROXY_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 200 "--tls-verify false: 200 without the CA"
ok "the body is byte-identical to the mock's own reply" cmp -s "$HTTP_BODY" "$direct_body"
stop_proc "$PROXY_PID"

# (d) A certificate from the trusted CA, but for DNS:wrong.example: hostname verification fails.
start_mock --tls-cert "$pki/wrong.pem" --tls-key "$pki/wrong.key"
http direct_wrong --cacert "$ca" "$MOCK_URL/v1/chat/completions" -d '{}'
is "$HTTP_CURL_RC" 60 "curl with the CA refuses the wrong-name certificate (exit 60)"
UPSTREAM_URL=$MOCK_URL start_proxy --ca-file "$ca"
http wrong -H 'x-request-id: tls-wrong-1' "$PROXY_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 502 "a certificate for another name, from the trusted CA: 502"
like "$(cat "$HTTP_BODY")" "$error_shape" "in OpenAI's error shape"
ok "the log line names the name mismatch and the request id" \
    grep -qiE 'req=tls-wrong-1 status=502 .*(certificate|ssl)' "$PROXY_LOG"
note "$(grep 'req=tls-wrong-1' "$PROXY_LOG")"
is "$(wc -l <"$MOCK_LOG")" 0 "no request reached that mock"

done_testing
