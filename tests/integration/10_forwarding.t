#!/usr/bin/env bash
# Forwarding is transparent: bodies byte-identical both ways (JSON, SSE, binary, 1 MB), method,
# path and query unchanged, hop-by-hop and x-sigmaproxy-* headers dropped both ways, Host
# rewritten, x-request-id on every response.
source "$(dirname "$0")/lib.sh"

start_mock
start_proxy

# Response bodies: the proxy's bytes equal the mock's own, for each fixture and the default reply.
for fx in openai_stream.sse anthropic_stream.sse openai_tool_call.sse anthropic_message.json \
    openai_json_content.json; do
    http direct_$fx -H "x-mock-fixture: $fx" "$MOCK_URL/v1/chat/completions" -d '{}'
    http proxied_$fx -H "x-mock-fixture: $fx" "$PROXY_URL/v1/chat/completions" -d '{}'
    ok "$fx relayed byte-identical" cmp -s "$TEST_DIR/direct_$fx.body" "$TEST_DIR/proxied_$fx.body"
done
http direct_default "$MOCK_URL/v1/chat/completions" -d '{"model":"m"}'
http proxied_default "$PROXY_URL/v1/chat/completions" -d '{"model":"m"}'
ok "default JSON reply relayed byte-identical" cmp -s "$TEST_DIR/direct_default.body" "$HTTP_BODY"
is "$(header "$HTTP_HEADERS" content-type)" "application/json" "Content-Type relayed"
is "$(header "$HTTP_HEADERS" content-length)" "$(stat -c %s "$HTTP_BODY")" \
    "a known-length reply keeps its Content-Length"

# Request bodies: 1 MB of random bytes (NULs included) echoed back unchanged.
head -c 1048576 /dev/urandom >"$TEST_DIR/random.bin"
http echo_1mb -H 'x-mock-echo: 1' -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TEST_DIR/random.bin" "$PROXY_URL/v1/files?purpose=batch&x=a+b%20c"
is "$HTTP_STATUS" 200 "1 MB upload answered"
ok "1 MB request body reaches upstream byte-identical" cmp -s "$TEST_DIR/random.bin" "$HTTP_BODY"
is "$(header "$HTTP_HEADERS" x-mock-got-path)" "/v1/files?purpose=batch&x=a+b%20c" \
    "path and query reach upstream exactly as sent"
is "$(header "$HTTP_HEADERS" x-mock-got-method)" POST "method POST kept"

# 1 MB response body, known length.
http big -H 'x-mock-body-bytes: 1048576' "$PROXY_URL/v1/big"
http big_direct -H 'x-mock-body-bytes: 1048576' "$MOCK_URL/v1/big"
ok "1 MB response relayed byte-identical" cmp -s "$TEST_DIR/big_direct.body" "$TEST_DIR/big.body"

# Methods other than POST, with and without bodies.
for m in GET PUT PATCH DELETE OPTIONS; do
    http m_$m -X "$m" -H 'x-mock-echo: 1' "$PROXY_URL/v1/models/x"
    is "$(header "$HTTP_HEADERS" x-mock-got-method)" "$m" "method $m forwarded"
done
http put_body -X PUT -H 'x-mock-echo: 1' --data-binary 'abc' "$PROXY_URL/v1/x"
is "$(cat "$HTTP_BODY")" abc "PUT body forwarded"
http head -I -H 'x-mock-body-bytes: 1234' "$PROXY_URL/v1/x"
is "$HTTP_STATUS" 200 "HEAD answered"
is "$(header "$HTTP_HEADERS" content-length)" 1234 "HEAD keeps upstream's Content-Length"

# Request headers: end-to-end ones pass (credentials included: the upstream needs them),
# hop-by-hop ones, those named by Connection and x-sigmaproxy-* do not; Host is the upstream's.
http hdrs -H 'x-mock-echo: 1' -H 'Authorization: Bearer sk-test' -H 'X-Custom: v1' \
    -H 'Connection: keep-alive, X-Hop' -H 'X-Hop: 1' -H 'Keep-Alive: timeout=5' -H 'TE: trailers' \
    -H 'Upgrade: h2c' -H 'Proxy-Authorization: Basic eA==' -H 'x-sigmaproxy-sample: never' \
    -H 'X-Empty;' -H 'Accept-Encoding: gzip, br' -H 'Accept:' -d '{}' "$PROXY_URL/v1/chat/completions"
got=$(header "$HTTP_HEADERS" x-mock-got-headers)
like "$got" "(^|;)authorization(;|$)" "Authorization forwarded"
like "$got" "(^|;)x-custom(;|$)" "a custom header forwarded"
like "$got" "(^|;)x-empty(;|$)" "a header with an empty value forwarded"
is "$(header "$HTTP_HEADERS" x-mock-got-h-accept-encoding)" "gzip, br" \
    "Accept-Encoding forwarded as sent (no decoding by the proxy)"
for h in connection x-hop keep-alive te upgrade proxy-authorization x-sigmaproxy-sample expect; do
    unlike "$got" "(^|;)$h(;|$)" "request header $h not forwarded"
done
is "$(header "$HTTP_HEADERS" x-mock-got-host)" "127.0.0.1:$MOCK_PORT" "Host rewritten to the upstream"
is "$(header "$HTTP_HEADERS" x-mock-got-h-x-custom)" v1 "header value unchanged"
unlike "$got" "(^|;)accept(;|$)" "no Accept added when the client sent none"

# Response headers: the same rules on the way back.
http rhdrs -H 'x-mock-header: X-Up: yes' -H 'x-mock-header: Connection: X-Up-Hop' \
    -H 'x-mock-header: X-Up-Hop: 1' -H 'x-mock-header: Keep-Alive: timeout=9' \
    -H 'x-mock-header: x-sigmaproxy-internal: 1' -H 'x-mock-header: x-request-id: req_upstream' \
    "$PROXY_URL/v1/chat/completions" -d '{}'
is "$(header "$HTTP_HEADERS" x-up)" yes "an end-to-end response header relayed"
is "$(header "$HTTP_HEADERS" x-up-hop)" "" "a response header named by Connection dropped"
is "$(header "$HTTP_HEADERS" keep-alive)" "" "Keep-Alive from upstream dropped"
is "$(header "$HTTP_HEADERS" x-sigmaproxy-internal)" "" "x-sigmaproxy-* from upstream dropped"
is "$(header "$HTTP_HEADERS" x-upstream-request-id)" req_upstream \
    "upstream's own x-request-id kept as x-upstream-request-id"
is "$(header "$HTTP_HEADERS" x-request-id | wc -l)" 1 "exactly one x-request-id"

# Request ids: the client's is kept; otherwise a fresh one per response.
http id_client -H 'x-request-id: my-trace-42' "$PROXY_URL/v1/models"
is "$(header "$HTTP_HEADERS" x-request-id)" my-trace-42 "the client's x-request-id is kept"
http id_a "$PROXY_URL/v1/models"
a=$(header "$HTTP_HEADERS" x-request-id)
http id_b "$PROXY_URL/v1/models"
b=$(header "$HTTP_HEADERS" x-request-id)
like "$a" '^[0-9a-f]{32}$' "a fresh id is 32 hex digits"
isnt "$a" "$b" "two requests get different ids"
http id_bad -H 'x-request-id: "quoted"' "$PROXY_URL/v1/models"
like "$(header "$HTTP_HEADERS" x-request-id)" '^[0-9a-f]{32}$' "an unusable client id is replaced"

# Upstream's own errors pass through untouched (status, body).
http up503 -H 'x-mock-status: 503' "$PROXY_URL/v1/chat/completions" -d '{}'
http up503_direct -H 'x-mock-status: 503' "$MOCK_URL/v1/chat/completions" -d '{}'
is "$HTTP_STATUS" 503 "upstream 503 relayed as 503"
ok "upstream error body relayed untouched" cmp -s "$TEST_DIR/up503.body" "$TEST_DIR/up503_direct.body"
http up429 -H 'x-mock-status: 429' -H 'x-mock-header: Retry-After: 7' "$PROXY_URL/v1/x" -d '{}'
is "$HTTP_STATUS" 429 "upstream 429 relayed"
is "$(header "$HTTP_HEADERS" retry-after)" 7 "Retry-After relayed"
http up204 -H 'x-mock-status: 204' "$PROXY_URL/v1/x" -X DELETE
is "$HTTP_STATUS" 204 "upstream 204 relayed"
is "$(stat -c %s "$HTTP_BODY")" 0 "204 has no body"

# Conflicting Content-Length from upstream is a smuggling vector: 502, never a pick.
http cl_conflict -H 'x-mock-body-bytes: 10' -H 'x-mock-content-length: 10' \
    -H 'x-mock-content-length: 12' "$PROXY_URL/v1/x"
is "$HTTP_STATUS" 502 "conflicting upstream Content-Length answered 502"
# A request with both Content-Length and Transfer-Encoding is refused.
resp=$(printf 'POST /v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' |
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT; cat >&3; head -c 12 <&3")
like "$resp" "^HTTP/1.1 400" "request with both Content-Length and Transfer-Encoding gets 400"

done_testing
