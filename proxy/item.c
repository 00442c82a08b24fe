/* Flagged items as JSON text, on an evaluator thread. Whatever came from outside (bodies, texts,
 * details) is made valid UTF-8 before jansson sees it, so an odd byte never costs the item. */
#include "proxy/item.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "core/err.h"
#include "core/xalloc.h"

/* The length of the valid UTF-8 sequence at s[0, n), or 0 when it is not one (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || len > n) return 0;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
    }
    return len;
}

/* Returns a new JSON string of at most cap bytes of s[0, len): valid UTF-8 (each byte that is not
 * becomes U+FFFD), cut at a character boundary; *cut is set when something was left out. */
static json_t *text_json(const char *s, size_t len, size_t cap, bool *cut)
{
    char *out = xmalloc(cap + 1);
    size_t o = 0, i = 0;
    *cut = false;
    while (i < len) {
        size_t n = utf8_len((const unsigned char *)s + i, len - i);
        const char *put = n ? s + i : "\xef\xbf\xbd";
        size_t put_len = n ? n : 3;
        if (o + put_len > cap) {
            *cut = true;
            break;
        }
        memcpy(out + o, put, put_len);
        o += put_len;
        i += n ? n : 1;
    }
    json_t *v = json_stringn(out, o);
    free(out);
    return v ? v : json_string("");
}

static void set_text(json_t *obj, const char *key, const char *s, size_t len, size_t cap,
                     const char *cut_key)
{
    bool cut;
    json_object_set_new(obj, key, s ? text_json(s, len, cap, &cut) : json_null());
    if (s && cut && cut_key) json_object_set_new(obj, cut_key, json_true());
}

static void set_str(json_t *obj, const char *key, const char *s)
{
    set_text(obj, key, s, s ? strlen(s) : 0, 4096, NULL);
}

static json_t *ms_json(int64_t from_us, int64_t to_us)
{
    if (from_us == 0 || to_us == 0 || to_us < from_us) return json_null();
    return json_real(round((double)(to_us - from_us)) / 1000.0);
}

/* The decoded response body, capped; or why it could not be decoded. */
static void set_raw(json_t *item, const struct exchange *ex)
{
    char *encoding = exchange_header(ex, "content-encoding");
    char *body = NULL;
    size_t len = 0;
    bool cut = false;
    struct err err = {{0}};
    if (extract_decode(encoding, ex->response_body.data ? ex->response_body.data : "",
                       ex->response_body.len, ITEM_MAX_RAW_BYTES, &body, &len, &cut, &err) == 0) {
        bool text_cut;
        json_object_set_new(item, "response_raw",
                            text_json(body, len, ITEM_MAX_RAW_BYTES, &text_cut));
        json_object_set_new(item, "response_raw_truncated",
                            json_boolean(cut || text_cut || ex->response_truncated));
    } else {
        json_object_set_new(item, "response_raw", json_null());
        set_str(item, "response_raw_error", err.msg);
    }
    free(body);
    free(encoding);
}

char *item_json(const struct exchange *ex, const struct extracted *x, const char *upstream_url,
                const struct item_score *scores, size_t n_scores)
{
    json_t *item = json_object();
    set_str(item, "id", ex->id);

    char ts[40];
    time_t secs = (time_t)(ex->start_unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(ex->start_unix_ms % 1000));
    json_object_set_new(item, "ts", json_string(ts));

    set_str(item, "route", ex->upstream);
    set_str(item, "upstream", upstream_url);
    set_str(item, "method", ex->method);
    const char *uri = ex->uri ? ex->uri : "";
    set_text(item, "path", uri, strcspn(uri, "?#"), 4096, NULL);
    set_str(item, "model", x->model);
    json_object_set_new(item, "status", json_integer(ex->status));
    set_str(item, "outcome", exchange_outcome_name(ex->outcome));
    json_object_set_new(item, "stream", json_boolean(x->stream));
    json_object_set_new(item, "latency_ms", ms_json(ex->start_us, ex->end_us));
    json_object_set_new(item, "ttft_ms",
                        x->stream ? ms_json(ex->start_us, ex->first_byte_us) : json_null());

    if (x->request && ex->request_body_len <= ITEM_MAX_REQUEST_BYTES)
        json_object_set(item, "request", x->request);
    else
        set_text(item, "request", ex->request_body, ex->request_body_len, ITEM_MAX_REQUEST_BYTES,
                 "request_truncated");
    set_text(item, "response_text", x->text, x->text_len, ITEM_MAX_TEXT_BYTES,
             "response_text_truncated");
    if (x->finish_reason) set_str(item, "finish_reason", x->finish_reason);
    set_raw(item, ex);

    json_t *list = json_array();
    for (size_t i = 0; i < n_scores; i++) {
        json_t *s = json_object();
        set_str(s, "scorer", scores[i].scorer);
        json_object_set_new(s, "defect", json_boolean(scores[i].defect));
        json_object_set_new(s, "score",
                            isfinite(scores[i].score) ? json_real(scores[i].score) : json_null());
        set_str(s, "detail", scores[i].detail ? scores[i].detail : "");
        json_array_append_new(list, s);
    }
    json_object_set_new(item, "scores", list);
    set_str(item, "sampled_by", exchange_sampled_by_name(ex->sampled_by));
    if (x->system_fingerprint) set_str(item, "system_fingerprint", x->system_fingerprint);

    char *text = json_dumps(item, JSON_COMPACT);
    json_decref(item);
    return text;
}
