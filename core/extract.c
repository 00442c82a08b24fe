/* Extraction: the assistant's text, tool calls, finish reason and model of one captured exchange,
 * for the scorers. Runs on an evaluator thread; pure. The body is decoded per Content-Encoding
 * (capped; a body without Content-Encoding is read in place), read as SSE events or as one JSON
 * document (load_json(): json_loadb()'s tree, faster), and each JSON object goes to the handler
 * of its API (by its shape, else the path), which adds its pieces (stream deltas) to an
 * accumulator; the accumulator becomes struct extracted at the end. Each handler summarises the
 * shape it reads. No walk here recurses: nesting is bounded by jansson's parser
 * (JSON_PARSER_MAX_DEPTH, 2048 levels; load_json() keeps its own in an array), and json_dumps
 * only sees values those parsers built. */
#include "core/extract.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <brotli/decode.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/sse.h"
#include "core/xalloc.h"

/* ---- Content-Encoding ---- */

#define SINK_FIRST_BYTES (16 * 1024)

/* A decoder's output: grows geometrically up to max bytes (plus a NUL), never past it. */
struct sink {
    char *p;
    size_t len;
    size_t alloc; /* bytes allocated, the NUL's included */
    size_t max;
};

/* Returns the room after len, growing the buffer when it is full; 0 only at max. */
static size_t sink_room(struct sink *s)
{
    if (s->len == s->max) return 0;
    if (s->p == NULL || s->alloc - 1 == s->len) {
        size_t n = s->p ? (s->alloc - 1) * 2 : SINK_FIRST_BYTES;
        if (n > s->max) n = s->max;
        s->p = xrealloc(s->p, n + 1);
        s->alloc = n + 1;
    }
    return s->alloc - 1 - s->len;
}

static void copy_capped(const char *in, size_t len, struct sink *out, bool *cut)
{
    size_t n = len < out->max ? len : out->max;
    out->p = xmalloc(n + 1);
    memcpy(out->p, in, n);
    out->len = n;
    out->alloc = n + 1;
    if (len > n) *cut = true;
}

static bool is_gzip_magic(const z_stream *z)
{
    return z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b;
}

/* window_bits: MAX_WBITS + 32 (gzip or zlib header), MAX_WBITS (zlib), -MAX_WBITS (raw).
 * Past the cap, inflate writes into a 1-byte spill: a byte there means the output went on. */
static int inflate_into(const char *name, const char *in, size_t len, int window_bits,
                        struct sink *out, bool *cut, struct err *err)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    int zr = inflateInit2(&z, window_bits);
    if (zr != Z_OK) {
        err_set(err, "%s: inflateInit2: %s", name, zError(zr));
        return -1;
    }
    int rc = -1;
    const unsigned char *next = (const unsigned char *)in;
    size_t left = len; /* bytes not yet handed to zlib, whose counters are 32-bit */
    for (;;) {
        if (z.avail_in == 0 && left > 0) {
            z.next_in = (Bytef *)next;
            z.avail_in = (uInt)(left < UINT_MAX ? left : UINT_MAX);
            next += z.avail_in;
            left -= z.avail_in;
        }
        unsigned char spill;
        size_t room = sink_room(out);
        if (room > 0) {
            z.next_out = (Bytef *)out->p + out->len;
            z.avail_out = (uInt)(room < UINT_MAX ? room : UINT_MAX);
        } else {
            z.next_out = &spill;
            z.avail_out = 1;
        }
        uInt before = z.avail_out;
        zr = inflate(&z, Z_NO_FLUSH);
        size_t produced = before - z.avail_out;
        if (room > 0) {
            out->len += produced;
        } else if (produced > 0) {
            *cut = true;
            rc = 0;
            break;
        }
        if (zr == Z_STREAM_END) {
            /* gzip members may follow one another (RFC 1952 §2.2); other trailing bytes are
             * ignored, as curl and gzip -d do. */
            if (window_bits > MAX_WBITS && is_gzip_magic(&z) && inflateReset(&z) == Z_OK) continue;
            rc = 0;
            break;
        }
        if (zr == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
            *cut = true; /* the input ended inside the stream: a cut capture */
            rc = 0;
            break;
        }
        if (zr != Z_OK) {
            err_set(err, "%s: %s", name, z.msg ? z.msg : zError(zr));
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

static bool has_zlib_header(const char *in, size_t len)
{
    if (len < 2) return false;
    unsigned b0 = (unsigned char)in[0], b1 = (unsigned char)in[1];
    return (b0 & 0x0f) == Z_DEFLATED && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 == 0;
}

/* RFC 9110 §8.4.1.2 says "deflate" is zlib-wrapped (RFC 1950), but some servers send raw
 * deflate (RFC 1951), so both are tried, the header's guess first (as curl and browsers do). */
static int inflate_deflate(const char *in, size_t len, struct sink *out, bool *cut, struct err *err)
{
    bool zlib_first = has_zlib_header(in, len);
    if (inflate_into("deflate", in, len, zlib_first ? MAX_WBITS : -MAX_WBITS, out, cut, err) == 0)
        return 0;
    struct err other;
    out->len = 0;
    *cut = false;
    if (inflate_into("deflate", in, len, zlib_first ? -MAX_WBITS : MAX_WBITS, out, cut, &other) ==
        0)
        return 0;
    return -1; /* err holds the first attempt's reason, the likelier one */
}

static int brotli_into(const char *in, size_t len, struct sink *out, bool *cut, struct err *err)
{
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (s == NULL) {
        err_set(err, "br: BrotliDecoderCreateInstance failed");
        return -1;
    }
    int rc = -1;
    const uint8_t *next_in = (const uint8_t *)in;
    size_t avail_in = len;
    for (;;) {
        uint8_t spill;
        size_t room = sink_room(out);
        uint8_t *next_out = room > 0 ? (uint8_t *)out->p + out->len : &spill;
        size_t avail_out = room > 0 ? room : 1;
        size_t before = avail_out;
        BrotliDecoderResult r =
            BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
        size_t produced = before - avail_out;
        if (room > 0) {
            out->len += produced;
        } else if (produced > 0) {
            *cut = true;
            rc = 0;
            break;
        }
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            rc = 0; /* trailing bytes ignored, as for gzip */
            break;
        }
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
            *cut = true;
            rc = 0;
            break;
        }
        if (r == BROTLI_DECODER_RESULT_ERROR) {
            err_set(err, "br: %s", BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s)));
            break;
        }
    }
    BrotliDecoderDestroyInstance(s);
    return rc;
}

static bool is_token(struct slice t, const char *name)
{
    return t.len == strlen(name) && strncasecmp(t.ptr, name, t.len) == 0;
}

static int decode_one(struct slice coding, const char *in, size_t len, struct sink *out, bool *cut,
                      struct err *err)
{
    if (is_token(coding, "identity") || len == 0) {
        copy_capped(in, len, out, cut);
        return 0;
    }
    if (is_token(coding, "gzip") || is_token(coding, "x-gzip"))
        return inflate_into("gzip", in, len, MAX_WBITS + 32, out, cut, err);
    if (is_token(coding, "deflate")) return inflate_deflate(in, len, out, cut, err);
    assert(is_token(coding, "br")); /* parse_codings lets no other name through */
    return brotli_into(in, len, out, cut, err);
}

/* Splits a Content-Encoding list ("gzip, br") into known codings, in order. */
static int parse_codings(const char *ce, struct slice *codings, size_t *n, struct err *err)
{
    *n = 0;
    const char *p = ce ? ce : "";
    while (*p != '\0') {
        size_t tok = strcspn(p, ",");
        const char *a = p, *b = p + tok;
        p = *b ? b + 1 : b;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        struct slice t = {a, (size_t)(b - a)};
        if (t.len == 0) continue;
        if (!is_token(t, "gzip") && !is_token(t, "x-gzip") && !is_token(t, "deflate") &&
            !is_token(t, "br") && !is_token(t, "identity")) {
            err_set(err, "unsupported Content-Encoding \"%.*s\"", (int)(t.len < 64 ? t.len : 64),
                    t.ptr);
            return -1;
        }
        if (*n == EXTRACT_MAX_ENCODINGS) {
            err_set(err, "more than %d codings in Content-Encoding", EXTRACT_MAX_ENCODINGS);
            return -1;
        }
        codings[(*n)++] = t;
    }
    return 0;
}

int extract_decode(const char *content_encoding, const char *body, size_t len, size_t max_bytes,
                   char **out, size_t *out_len, bool *truncated, struct err *err)
{
    struct slice codings[EXTRACT_MAX_ENCODINGS];
    size_t n;
    char *owned = NULL; /* the last stage's output, the next one's input */
    const char *in = body ? body : "";
    size_t in_len = body ? len : 0;
    int rc = -1;

    *out = NULL;
    *out_len = 0;
    *truncated = false;
    if (max_bytes > SIZE_MAX / 4) max_bytes = SIZE_MAX / 4; /* sink_room doubles it */
    if (parse_codings(content_encoding, codings, &n, err) < 0) goto out;
    if (n == 0) codings[n++] = (struct slice){"identity", 8};
    /* Codings are listed in the order they were applied (RFC 9110 §8.4). */
    for (size_t i = n; i-- > 0;) {
        struct sink s = {.max = max_bytes};
        bool cut = false;
        if (decode_one(codings[i], in, in_len, &s, &cut, err) < 0) {
            free(s.p);
            goto out;
        }
        free(owned);
        owned = s.p;
        in = owned ? owned : "";
        in_len = s.len;
        if (cut) *truncated = true;
    }
    if (owned == NULL) owned = xcalloc(1, 1);
    owned[in_len] = '\0';
    *out = owned;
    *out_len = in_len;
    owned = NULL;
    rc = 0;
out:
    free(owned);
    return rc;
}

/* ---- JSON ----
 * json_loadb() reads a byte at a time through a callback and copies every token twice: it was
 * most of extract()'s cost. load_json() reads the usual document itself into the tree
 * json_loadb(flags 0) builds, with the same setters called in the same order, and leaves
 * everything else to json_loadb(), whose answer (value, or error with its text and position)
 * is then the result: any error, an integer outside json_int_t, a real that overflows,
 * underflows or is not in the form strtod() reads in the current locale, a string holding
 * \u0000, and nesting deeper than JSON_FAST_MAX_DEPTH. The grammar, as jansson reads it
 * (RFC 8259): the document is an object or an array, blanks are space, tab, CR and LF; a
 * number is -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, an integer when it has neither
 * fraction nor exponent; true, false and null are whole words; strings hold no control
 * character and valid UTF-8 only (no overlong form, surrogate or code point past U+10FFFF),
 * escapes \" \\ \/ \b \f \n \r \t and \uXXXX (a surrogate pair as two).
 * The nesting is kept in an array, not on the C stack. */

#define JSON_FAST_MAX_DEPTH 64
#define JSON_FAST_NUMBER    64   /* a longer number is left to json_loadb() */
#define JSON_FAST_SCRATCH   4096 /* decoded strings up to this long need no allocation */

struct jframe {
    json_t *container;
    const char *key; /* an object's member name read before its value */
    size_t key_len;
    char *key_owned; /* key, when it had to be decoded */
};

struct jreader {
    const char *p, *end;
    char *scratch; /* decoded strings: small, or allocated when a string outgrows it */
    size_t scratch_cap;
    char small[JSON_FAST_SCRATCH];
};

static void skip_blanks(struct jreader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* The length of the UTF-8 character at p (lead byte >= 0x80), or 0 when it is not one jansson
 * accepts (utf8_check_first() and utf8_check_full() in its utf.c). */
static size_t utf8_char(const char *p, const char *end)
{
    unsigned char u = (unsigned char)p[0];
    size_t count = u >= 0xc2 && u <= 0xdf   ? 2
                   : u >= 0xe0 && u <= 0xef ? 3
                   : u >= 0xf0 && u <= 0xf4 ? 4
                                            : 0;
    if (count == 0 || (size_t)(end - p) < count) return 0;
    uint32_t value = u & (count == 2 ? 0x1f : count == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < count; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80 || c > 0xbf) return 0;
        value = value << 6 | (c & 0x3f);
    }
    if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return 0;
    if ((count == 2 && value < 0x80) || (count == 3 && value < 0x800) ||
        (count == 4 && value < 0x10000))
        return 0;
    return count;
}

/* The value of the 4 hex digits at p, or -1. */
static long hex4(const char *p, const char *end)
{
    if (end - p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

static size_t utf8_encode(uint32_t v, char *out)
{
    if (v < 0x80) {
        out[0] = (char)v;
        return 1;
    }
    if (v < 0x800) {
        out[0] = (char)(0xc0 | v >> 6);
        out[1] = (char)(0x80 | (v & 0x3f));
        return 2;
    }
    if (v < 0x10000) {
        out[0] = (char)(0xe0 | v >> 12);
        out[1] = (char)(0x80 | (v >> 6 & 0x3f));
        out[2] = (char)(0x80 | (v & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | v >> 18);
    out[1] = (char)(0x80 | (v >> 12 & 0x3f));
    out[2] = (char)(0x80 | (v >> 6 & 0x3f));
    out[3] = (char)(0x80 | (v & 0x3f));
    return 4;
}

/* Decodes the rest of a string holding escapes, from r->p (at a backslash) to its closing
 * quote; the plain bytes before it (from start) are copied first. Returns the decoded string in
 * r->scratch (valid until the next call), or NULL when json_loadb() must decide. */
static const char *read_escaped(struct jreader *r, const char *start, size_t *len)
{
    /* Decoding never lengthens: \uXXXX is 6 bytes for at most 3, a pair 12 for 4. */
    const char *close = r->p;
    while (close < r->end && *close != '"')
        close += *close == '\\' && r->end - close > 1 ? 2 : 1;
    if (close == r->end) return NULL;
    size_t need = (size_t)(close - start) + 1;
    if (r->scratch_cap < need) {
        if (r->scratch != r->small) free(r->scratch);
        r->scratch = xmalloc(need);
        r->scratch_cap = need;
    }
    char *o = r->scratch;
    memcpy(o, start, (size_t)(r->p - start));
    o += r->p - start;
    const char *p = r->p, *end = r->end;
    for (;;) {
        if (p == end) return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c < 0x20) return NULL;
        if (c >= 0x80) {
            size_t k = utf8_char(p, end);
            if (k == 0) return NULL;
            memcpy(o, p, k);
            o += k;
            p += k;
            continue;
        }
        if (c != '\\') {
            *o++ = (char)c;
            p++;
            continue;
        }
        if (++p == end) return NULL;
        switch (*p) {
        case '"':
        case '\\':
        case '/':
            *o++ = *p;
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            long v = hex4(p + 1, end);
            if (v < 0) return NULL;
            p += 4;
            if (v >= 0xd800 && v <= 0xdbff) {
                if (end - p < 7 || p[1] != '\\' || p[2] != 'u') return NULL;
                long low = hex4(p + 3, end);
                if (low < 0xdc00 || low > 0xdfff) return NULL;
                v = ((v - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
                p += 6;
            } else if ((v >= 0xdc00 && v <= 0xdfff) || v == 0) {
                return NULL;
            }
            o += utf8_encode((uint32_t)v, o);
            break;
        }
        default:
            return NULL;
        }
        p++;
    }
    r->p = p + 1;
    *len = (size_t)(o - r->scratch);
    return r->scratch;
}

/* Does the 8-byte word hold a byte that needs a look: '"', '\\', a control character or a
 * byte >= 0x80? (A borrow can only make a byte after such a one look special too.) */
static bool has_special_byte(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t t = (x - 0x20 * ones) | ((x ^ 0x22 * ones) - ones) | ((x ^ 0x5c * ones) - ones) | x;
    return (t & highs) != 0;
}

/* Reads the string whose opening quote is at r->p. Returns it (in the input when it holds no
 * escape, else in r->scratch), or NULL when json_loadb() must decide. */
static const char *read_string(struct jreader *r, size_t *len, bool *decoded)
{
    const char *start = ++r->p, *p = start, *end = r->end;
    *decoded = false;
    for (;;) {
        /* Printable ASCII, 8 bytes at a time. */
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            if (has_special_byte(x)) break;
            p += 8;
        }
        if (p == end) return NULL;
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
        } else if (c == '"') {
            r->p = p + 1;
            *len = (size_t)(p - start);
            return start;
        } else if (c >= 0x80) {
            size_t k = utf8_char(p, end);
            if (k == 0) return NULL;
            p += k;
        } else if (c == '\\') {
            r->p = p;
            *decoded = true;
            return read_escaped(r, start, len);
        } else {
            return NULL;
        }
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads the number at r->p. Returns it, or NULL when json_loadb() must decide. */
static json_t *read_number(struct jreader *r)
{
    const char *s = r->p, *p = s, *end = r->end;
    bool real = false;
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') {
        p++;
        if (p < end && is_digit(*p)) return NULL;
    } else if (p < end && is_digit(*p)) {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p)) return NULL;
        while (p < end && is_digit(*p))
            p++;
        real = true;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || !is_digit(*p)) return NULL;
        while (p < end && is_digit(*p))
            p++;
        real = true;
    }
    char text[JSON_FAST_NUMBER];
    size_t len = (size_t)(p - s);
    if (len >= sizeof(text)) return NULL;
    memcpy(text, s, len);
    text[len] = '\0';
    char *stop;
    errno = 0;
    json_t *v;
    if (real) {
        double d = strtod(text, &stop);
        v = errno == 0 && stop == text + len ? json_real(d) : NULL;
    } else {
        long long i = strtoll(text, &stop, 10);
        v = errno == 0 && stop == text + len ? json_integer((json_int_t)i) : NULL;
    }
    r->p = p;
    return v;
}

/* Reads the word (true, false, null) at r->p. */
static json_t *read_word(struct jreader *r)
{
    static const struct {
        const char *word;
        size_t len;
    } words[] = {{"true", 4}, {"false", 5}, {"null", 4}};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t len = words[w].len;
        if ((size_t)(r->end - r->p) < len || memcmp(r->p, words[w].word, len) != 0) continue;
        /* jansson reads a run of letters, which must be the whole word. */
        char next = r->p + len < r->end ? r->p[len] : '\0';
        if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z')) return NULL;
        r->p += len;
        return w == 0 ? json_true() : w == 1 ? json_false() : json_null();
    }
    return NULL;
}

/* The fast path of load_json(): the value, or NULL when json_loadb() must decide. */
static json_t *read_document(struct jreader *r)
{
    struct jframe stack[JSON_FAST_MAX_DEPTH];
    size_t depth = 0;
    json_t *v = NULL;
    skip_blanks(r);
    if (r->p == r->end || (*r->p != '{' && *r->p != '[')) return NULL;
    for (;;) {
        /* A value starts at r->p. */
        skip_blanks(r);
        if (r->p == r->end) goto fail;
        char c = *r->p;
        if (c == '{' || c == '[') {
            if (depth == JSON_FAST_MAX_DEPTH) goto fail;
            json_t *container = c == '{' ? json_object() : json_array();
            if (container == NULL) goto fail;
            stack[depth++] = (struct jframe){.container = container};
            r->p++;
            skip_blanks(r);
            if (r->p < r->end && *r->p == (c == '{' ? '}' : ']')) {
                r->p++;
                v = stack[--depth].container;
            } else if (c == '{') {
                goto member;
            } else {
                continue;
            }
        } else if (c == '"') {
            size_t len;
            bool decoded;
            const char *s = read_string(r, &len, &decoded);
            if (s == NULL || (v = json_stringn_nocheck(s, len)) == NULL) goto fail;
        } else if (c == '-' || is_digit(c)) {
            if ((v = read_number(r)) == NULL) goto fail;
        } else if ((v = read_word(r)) == NULL) {
            goto fail;
        }
        /* v is complete: it goes into the container it is in, then what follows it. */
        for (;;) {
            if (depth == 0) {
                skip_blanks(r);
                if (r->p != r->end) goto fail;
                return v;
            }
            struct jframe *f = &stack[depth - 1];
            int rc;
            if (json_is_object(f->container)) {
                rc = json_object_setn_new_nocheck(f->container, f->key, f->key_len, v);
                free(f->key_owned);
                f->key_owned = NULL;
            } else {
                rc = json_array_append_new(f->container, v);
            }
            v = NULL; /* taken, on failure too */
            if (rc < 0) goto fail;
            skip_blanks(r);
            if (r->p == r->end) goto fail;
            c = *r->p++;
            if (c == ',') break;
            if (c != (json_is_object(f->container) ? '}' : ']')) goto fail;
            v = stack[--depth].container;
        }
        if (!json_is_object(stack[depth - 1].container)) continue;
    member:
        /* An object's member: its name, then ':' before its value. */
        {
            struct jframe *f = &stack[depth - 1];
            skip_blanks(r);
            if (r->p == r->end || *r->p != '"') goto fail;
            bool decoded;
            const char *key = read_string(r, &f->key_len, &decoded);
            if (key == NULL) goto fail;
            if (decoded) {
                /* The scratch buffer is the next string's: the name needs its own copy. */
                f->key_owned = xmalloc(f->key_len + 1);
                memcpy(f->key_owned, key, f->key_len);
                key = f->key_owned;
            }
            f->key = key;
            skip_blanks(r);
            if (r->p == r->end || *r->p != ':') goto fail;
            r->p++;
        }
    }
fail:
    json_decref(v);
    while (depth > 0) {
        depth--;
        free(stack[depth].key_owned);
        json_decref(stack[depth].container);
    }
    return NULL;
}

/* json_loadb(buf, len, 0, error), faster: see above. */
static json_t *load_json(const char *buf, size_t len, json_error_t *error)
{
    struct jreader r = {.p = buf, .end = buf + len, .scratch_cap = JSON_FAST_SCRATCH};
    r.scratch = r.small;
    json_t *v = read_document(&r);
    if (r.scratch != r.small) free(r.scratch);
    return v ? v : json_loadb(buf, len, 0, error);
}

/* ---- The response's headers and path ---- */

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static enum extract_api api_of_path(const char *uri)
{
    if (uri == NULL) return EXTRACT_API_UNKNOWN;
    size_t len = strcspn(uri, "?#");
    if (len > 1 && uri[len - 1] == '/') len--;
    if (has_suffix(uri, len, "/chat/completions")) return EXTRACT_API_OPENAI_CHAT;
    if (has_suffix(uri, len, "/completions")) return EXTRACT_API_OPENAI_COMPLETIONS;
    if (has_suffix(uri, len, "/responses")) return EXTRACT_API_OPENAI_RESPONSES;
    /* Not any ".../messages": OpenAI's /v1/threads/{id}/messages is another API. */
    if (has_suffix(uri, len, "/v1/messages") || (len == 9 && memcmp(uri, "/messages", 9) == 0))
        return EXTRACT_API_ANTHROPIC_MESSAGES;
    return EXTRACT_API_UNKNOWN;
}

/* ---- The accumulator ---- */

#define LEGACY_FUNCTION_CALL_KEY (-1) /* OpenAI's function_call, before tool_calls existed */

struct tool_slot {
    long long key; /* see extracted.tool_calls */
    char *id;
    char *name;
    char *input; /* Anthropic's input object as JSON text: the arguments when no delta came */
    struct buf args;
};

struct acc {
    struct extracted *x;
    size_t cap; /* of each text buffer: no output outgrows the decoded body it came from */
    bool prefix;
    bool api_from_body; /* x->api was set by an object's shape; the path only guessed */
    struct buf text;
    struct buf refusal;
    bool has_refusal;
    struct tool_slot *tools;
    size_t n_tools;
    bool done; /* OpenAI's "data: [DONE]" */
    size_t n_events;
    bool failed;
    char detail[sizeof(((struct extracted *)0)->parse_detail)];
};

static void fail(struct acc *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct acc *a, const char *fmt, ...)
{
    if (a->failed) return; /* the first reason is the one worth reading */
    a->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
    va_end(ap);
}

static const char *get_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool is_str(const json_t *obj, const char *key, const char *want)
{
    const char *v = get_str(obj, key);
    return v != NULL && strcmp(v, want) == 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* An array element's index field when it has one (stream deltas), else its position. */
static long long index_of(const json_t *elem, size_t position)
{
    const json_t *ix = json_object_get(elem, "index");
    return json_is_integer(ix) ? (long long)json_integer_value(ix) : (long long)position;
}

static void append(struct buf *b, const json_t *v)
{
    if (json_is_string(v)) buf_append_some(b, json_string_value(v), json_string_length(v));
}

static void keep_first(char **dst, const char *v)
{
    if (*dst == NULL && v != NULL) *dst = xstrdup(v);
}

static void keep_last(char **dst, const char *v)
{
    if (v == NULL) return;
    free(*dst);
    *dst = xstrdup(v);
}

/* Returns the slot for key, made on first use; NULL past EXTRACT_MAX_TOOL_CALLS. */
static struct tool_slot *tool_slot(struct acc *a, long long key)
{
    for (size_t i = 0; i < a->n_tools; i++)
        if (a->tools[i].key == key) return &a->tools[i];
    if (a->n_tools == EXTRACT_MAX_TOOL_CALLS) return NULL;
    a->tools = xrealloc(a->tools, (a->n_tools + 1) * sizeof(*a->tools));
    struct tool_slot *s = &a->tools[a->n_tools++];
    memset(s, 0, sizeof(*s));
    s->key = key;
    buf_init(&s->args, a->cap);
    return s;
}

static void tools_clear(struct acc *a)
{
    for (size_t i = 0; i < a->n_tools; i++) {
        free(a->tools[i].id);
        free(a->tools[i].name);
        free(a->tools[i].input);
        buf_fini(&a->tools[i].args);
    }
    free(a->tools);
    a->tools = NULL;
    a->n_tools = 0;
}

/* Arguments arrive as JSON text (OpenAI) or, from some compatible servers, as a JSON value. */
static void add_arguments(struct tool_slot *s, const json_t *v)
{
    if (json_is_string(v)) {
        append(&s->args, v);
    } else if (v != NULL && !json_is_null(v)) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text) buf_append_some(&s->args, text, strlen(text));
        free(text);
    }
}

/* Upstream error objects: OpenAI {"error": {"message", "type", "code"}} or {"error": "text"};
 * Anthropic {"type": "error", "error": {"type", "message"}}; the Responses stream's {"type":
 * "error", "code", "message"}. Returns false when obj is none of them. */
static bool take_error(struct acc *a, const json_t *obj)
{
    const json_t *e = json_object_get(obj, "error");
    const char *type = NULL, *message = NULL;
    if (json_is_object(e)) {
        type = get_str(e, "type");
        if (type == NULL) type = get_str(e, "code");
        message = get_str(e, "message");
    } else if (json_is_string(e)) {
        message = json_string_value(e);
    } else if (is_str(obj, "type", "error")) {
        type = get_str(obj, "code");
        message = get_str(obj, "message");
    } else {
        return false;
    }
    keep_first(&a->x->error_type, type);
    keep_first(&a->x->error_message, message);
    fail(a, "upstream error: %s: %s", type ? type : "-", message ? message : "-");
    return true;
}

/* ---- OpenAI chat completions and completions ----
 * JSON: {"object": "chat.completion", "model", "system_fingerprint", "choices": [{"index",
 * "message": {"content": "..." | [{"type": "text", "text"}], "refusal", "tool_calls": [{"id",
 * "function": {"name", "arguments"}}], "function_call": {"name", "arguments"}}, "finish_reason"}]}.
 * Stream: "chat.completion.chunk" objects, "delta" in place of "message", each piece to append;
 * tool_calls[] carry an "index" to merge by, id and name in the first delta of each; the usage
 * chunk has no choices; "data: [DONE]" ends. Completions: "text_completion", choices[].text.
 * Only choice 0 is read. */

static void chat_message(struct acc *a, const json_t *m)
{
    const json_t *content = json_object_get(m, "content");
    size_t i;
    const json_t *v;
    if (json_is_string(content)) {
        append(&a->text, content);
    } else if (json_is_array(content)) {
        json_array_foreach(content, i, v)
        {
            if (is_str(v, "type", "text") || is_str(v, "type", "output_text"))
                append(&a->text, json_object_get(v, "text"));
        }
    }
    const json_t *refusal = json_object_get(m, "refusal");
    if (json_is_string(refusal)) {
        a->has_refusal = true;
        append(&a->refusal, refusal);
    }
    json_array_foreach(json_object_get(m, "tool_calls"), i, v)
    {
        struct tool_slot *s = tool_slot(a, index_of(v, i));
        if (s == NULL) continue;
        const json_t *fn = json_object_get(v, "function");
        keep_first(&s->id, get_str(v, "id"));
        keep_first(&s->name, get_str(fn, "name"));
        add_arguments(s, json_object_get(fn, "arguments"));
    }
    const json_t *fc = json_object_get(m, "function_call");
    if (json_is_object(fc)) {
        struct tool_slot *s = tool_slot(a, LEGACY_FUNCTION_CALL_KEY);
        if (s) {
            keep_first(&s->name, get_str(fc, "name"));
            add_arguments(s, json_object_get(fc, "arguments"));
        }
    }
}

static void openai_object(struct acc *a, const json_t *obj, bool completions)
{
    keep_first(&a->x->model, get_str(obj, "model"));
    keep_first(&a->x->system_fingerprint, get_str(obj, "system_fingerprint"));
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(obj, "choices"), i, c)
    {
        if (index_of(c, i) != 0) continue;
        if (completions) {
            append(&a->text, json_object_get(c, "text"));
        } else {
            const json_t *m = json_object_get(c, "message");
            chat_message(a, m ? m : json_object_get(c, "delta"));
        }
        keep_last(&a->x->finish_reason, get_str(c, "finish_reason"));
    }
}

/* ---- OpenAI responses ----
 * JSON: {"object": "response", "model", "status": "completed" | "incomplete" | "failed",
 * "incomplete_details": {"reason": "max_output_tokens"}, "error": {"code", "message"}, "output":
 * [{"type": "message", "content": [{"type": "output_text", "text"} | {"type": "refusal",
 * "refusal"}]} | {"type": "function_call", "call_id", "name", "arguments"} | reasoning, ...]}.
 * Stream: typed events: response.created (the response so far), response.output_item.added
 * (function_call item: name, call_id), response.output_text.delta / response.refusal.delta /
 * response.function_call_arguments.delta ("delta", "output_index"), and a final
 * response.completed / response.incomplete / response.failed whose response replaces what the
 * deltas built, when it lists any output. */

static void responses_item(struct acc *a, const json_t *item, long long key)
{
    size_t i;
    const json_t *part;
    if (is_str(item, "type", "message")) {
        json_array_foreach(json_object_get(item, "content"), i, part)
        {
            if (is_str(part, "type", "output_text")) {
                append(&a->text, json_object_get(part, "text"));
            } else if (is_str(part, "type", "refusal")) {
                a->has_refusal = true;
                append(&a->refusal, json_object_get(part, "refusal"));
            }
        }
    } else if (is_str(item, "type", "function_call")) {
        struct tool_slot *s = tool_slot(a, key);
        if (s == NULL) return;
        keep_first(&s->id, get_str(item, "call_id"));
        keep_first(&s->id, get_str(item, "id"));
        keep_first(&s->name, get_str(item, "name"));
        if (json_is_string(json_object_get(item, "arguments"))) buf_reset(&s->args);
        add_arguments(s, json_object_get(item, "arguments"));
    }
}

static void responses_final(struct acc *a, const json_t *r)
{
    keep_first(&a->x->model, get_str(r, "model"));
    const char *reason = get_str(json_object_get(r, "incomplete_details"), "reason");
    keep_last(&a->x->finish_reason, reason ? reason : get_str(r, "status"));
    const json_t *e = json_object_get(r, "error");
    if (json_is_object(e)) {
        keep_first(&a->x->error_type, get_str(e, "code"));
        keep_first(&a->x->error_message, get_str(e, "message"));
    }
    const json_t *output = json_object_get(r, "output");
    if (json_array_size(output) == 0) return;
    buf_reset(&a->text);
    buf_reset(&a->refusal);
    a->has_refusal = false;
    tools_clear(a);
    size_t i;
    const json_t *item;
    json_array_foreach(output, i, item) responses_item(a, item, (long long)i);
}

static void responses_object(struct acc *a, const json_t *obj)
{
    const char *type = get_str(obj, "type");
    const json_t *ix = json_object_get(obj, "output_index");
    long long key = json_is_integer(ix) ? (long long)json_integer_value(ix) : 0;
    if (type == NULL) {
        if (is_str(obj, "object", "response")) responses_final(a, obj);
    } else if (strcmp(type, "response.output_text.delta") == 0) {
        append(&a->text, json_object_get(obj, "delta"));
    } else if (strcmp(type, "response.refusal.delta") == 0) {
        a->has_refusal = true;
        append(&a->refusal, json_object_get(obj, "delta"));
    } else if (strcmp(type, "response.output_item.added") == 0) {
        responses_item(a, json_object_get(obj, "item"), key);
    } else if (strcmp(type, "response.function_call_arguments.delta") == 0) {
        struct tool_slot *s = tool_slot(a, key);
        if (s) append(&s->args, json_object_get(obj, "delta"));
    } else if (strcmp(type, "response.created") == 0 || strcmp(type, "response.in_progress") == 0) {
        keep_first(&a->x->model, get_str(json_object_get(obj, "response"), "model"));
    } else if (strcmp(type, "response.completed") == 0 ||
               strcmp(type, "response.incomplete") == 0 || strcmp(type, "response.failed") == 0) {
        responses_final(a, json_object_get(obj, "response"));
    }
}

/* ---- Anthropic messages ----
 * JSON: {"type": "message", "model", "content": [{"type": "text", "text"} | {"type": "tool_use",
 * "id", "name", "input": {...}} | thinking, ...], "stop_reason"}. Stream: message_start
 * {"message": {"model"}}, content_block_start {"index", "content_block"}, content_block_delta
 * {"index", "delta": {"type": "text_delta", "text"} | {"type": "input_json_delta",
 * "partial_json"}}, content_block_stop, message_delta {"delta": {"stop_reason"}}, message_stop,
 * ping, error. Tool blocks are server_tool_use and mcp_tool_use too. */

static void anthropic_block(struct acc *a, const json_t *block, long long key)
{
    const char *type = get_str(block, "type");
    size_t len = type ? strlen(type) : 0;
    if (type && strcmp(type, "text") == 0) {
        append(&a->text, json_object_get(block, "text"));
    } else if (len >= 8 && strcmp(type + len - 8, "tool_use") == 0) {
        struct tool_slot *s = tool_slot(a, key);
        if (s == NULL) return;
        keep_first(&s->id, get_str(block, "id"));
        keep_first(&s->name, get_str(block, "name"));
        const json_t *input = json_object_get(block, "input");
        if (input && s->input == NULL) s->input = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
    }
}

static void anthropic_object(struct acc *a, const json_t *obj)
{
    const char *type = get_str(obj, "type");
    const json_t *ix = json_object_get(obj, "index");
    long long key = json_is_integer(ix) ? (long long)json_integer_value(ix) : 0;
    if (type == NULL) return;
    if (strcmp(type, "message") == 0) {
        keep_first(&a->x->model, get_str(obj, "model"));
        size_t i;
        const json_t *block;
        json_array_foreach(json_object_get(obj, "content"), i, block)
            anthropic_block(a, block, (long long)i);
        keep_last(&a->x->finish_reason, get_str(obj, "stop_reason"));
    } else if (strcmp(type, "message_start") == 0) {
        keep_first(&a->x->model, get_str(json_object_get(obj, "message"), "model"));
    } else if (strcmp(type, "content_block_start") == 0) {
        anthropic_block(a, json_object_get(obj, "content_block"), key);
    } else if (strcmp(type, "content_block_delta") == 0) {
        const json_t *d = json_object_get(obj, "delta");
        if (is_str(d, "type", "text_delta")) {
            append(&a->text, json_object_get(d, "text"));
        } else if (is_str(d, "type", "input_json_delta")) {
            struct tool_slot *s = tool_slot(a, key);
            if (s) append(&s->args, json_object_get(d, "partial_json"));
        }
    } else if (strcmp(type, "message_delta") == 0) {
        keep_last(&a->x->finish_reason, get_str(json_object_get(obj, "delta"), "stop_reason"));
    }
}

/* ---- Dispatch ---- */

static enum extract_api shape_of(const json_t *obj)
{
    const char *object = get_str(obj, "object");
    if (object) {
        if (strcmp(object, "chat.completion") == 0 || strcmp(object, "chat.completion.chunk") == 0)
            return EXTRACT_API_OPENAI_CHAT;
        if (strcmp(object, "text_completion") == 0) return EXTRACT_API_OPENAI_COMPLETIONS;
        if (strcmp(object, "response") == 0) return EXTRACT_API_OPENAI_RESPONSES;
    }
    const char *type = get_str(obj, "type");
    if (type) {
        if (strcmp(type, "message") == 0 || has_prefix(type, "message_") ||
            has_prefix(type, "content_block_"))
            return EXTRACT_API_ANTHROPIC_MESSAGES;
        if (has_prefix(type, "response.")) return EXTRACT_API_OPENAI_RESPONSES;
    }
    /* OpenAI-compatible servers that leave "object" out. */
    const json_t *choices = json_object_get(obj, "choices");
    if (json_is_array(choices)) {
        const json_t *c = json_array_get(choices, 0);
        if (json_object_get(c, "text") && !json_object_get(c, "message") &&
            !json_object_get(c, "delta"))
            return EXTRACT_API_OPENAI_COMPLETIONS;
        return EXTRACT_API_OPENAI_CHAT;
    }
    return EXTRACT_API_UNKNOWN;
}

static void handle_object(struct acc *a, const json_t *obj, bool in_stream)
{
    enum extract_api api = shape_of(obj);
    if (api == EXTRACT_API_UNKNOWN) {
        if (take_error(a, obj)) return;
        /* Unknown stream events (Anthropic's ping, vendor extras) are skipped. */
        if (!in_stream) fail(a, "JSON body of no known API shape");
    } else if (!a->api_from_body) {
        a->x->api = api; /* the body's word over the path's */
        a->api_from_body = true;
    }
    switch (api != EXTRACT_API_UNKNOWN ? api : a->x->api) {
    case EXTRACT_API_OPENAI_CHAT:
        openai_object(a, obj, false);
        break;
    case EXTRACT_API_OPENAI_COMPLETIONS:
        openai_object(a, obj, true);
        break;
    case EXTRACT_API_OPENAI_RESPONSES:
        responses_object(a, obj);
        break;
    case EXTRACT_API_ANTHROPIC_MESSAGES:
        anthropic_object(a, obj);
        break;
    case EXTRACT_API_UNKNOWN:
        break;
    }
}

/* A JSON text that failed at its very end was cut short, not malformed. */
static bool is_cut_json(const struct acc *a, const json_error_t *je, size_t len)
{
    return a->prefix && (size_t)je->position >= len;
}

static void parse_json_body(struct acc *a, const char *body, size_t len)
{
    if (len == 0) {
        if (!a->prefix) fail(a, "empty body");
        return;
    }
    json_error_t je;
    json_t *root = load_json(body, len, &je);
    if (root == NULL) {
        if (!is_cut_json(a, &je, len))
            fail(a, "body is not JSON: %d:%d: %s", je.line, je.column, je.text);
        return;
    }
    if (json_is_object(root))
        handle_object(a, root, false);
    else
        fail(a, "JSON body is not an object");
    json_decref(root);
}

static void handle_event(struct acc *a, const struct sse_event *ev, bool unterminated)
{
    a->n_events++;
    if (ev->data.len == 6 && memcmp(ev->data.ptr, "[DONE]", 6) == 0) {
        a->done = true;
        return;
    }
    json_error_t je;
    json_t *obj = load_json(ev->data.ptr, ev->data.len, &je);
    if (obj == NULL) {
        if (!(unterminated && is_cut_json(a, &je, ev->data.len)))
            fail(a, "SSE event %zu: data is not JSON: %d:%d: %s", a->n_events, je.line, je.column,
                 je.text);
        return;
    }
    if (json_is_object(obj))
        handle_object(a, obj, true);
    else
        fail(a, "SSE event %zu: data is not a JSON object", a->n_events);
    json_decref(obj);
}

static void parse_sse_body(struct acc *a, const char *body, size_t len)
{
    struct sse_parser p;
    struct sse_event ev;
    struct err err = {{0}};
    size_t off = 0;
    sse_parser_init(&p, len); /* no event outgrows the body: the cap is for other callers */
    while (!a->done) {
        ssize_t n = sse_parse(&p, body + off, len - off, &ev, &err);
        if (n == SSE_PARTIAL) break;
        if (n == SSE_ERROR) {
            fail(a, "%s", err.msg);
            goto out;
        }
        off += (size_t)n;
        handle_event(a, &ev, false);
    }
    /* The spec drops an event the stream ends inside; a cut capture's last one is worth a try. */
    if (!a->done && sse_parser_flush(&p, &ev)) handle_event(a, &ev, true);
    if (a->n_events == 0 && !a->prefix) fail(a, "SSE stream without events");
out:
    sse_parser_fini(&p);
}

static bool looks_like_sse(const char *b, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < len && (b[i] == '\r' || b[i] == '\n'))
        i++;
    static const char *const starts[] = {"data:", "event:", "id:", "retry:", ":"};
    for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
        size_t n = strlen(starts[k]);
        if (len - i >= n && memcmp(b + i, starts[k], n) == 0) return true;
    }
    return false;
}

static bool is_event_stream(const char *content_type)
{
    return content_type && strncasecmp(content_type, "text/event-stream", 17) == 0;
}

static bool starts_like_json(const char *b, size_t len)
{
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    return i < len && (b[i] == '{' || b[i] == '[');
}

/* ---- extract ---- */

static int by_key(const void *l, const void *r)
{
    long long a = ((const struct tool_slot *)l)->key, b = ((const struct tool_slot *)r)->key;
    return (a > b) - (a < b);
}

static char *steal_or_empty(struct buf *b, size_t *len)
{
    char *s = buf_steal(b, len);
    return s ? s : xstrdup("");
}

static void finish(struct acc *a)
{
    struct extracted *x = a->x;
    x->text = steal_or_empty(&a->text, &x->text_len);
    if (a->has_refusal) {
        size_t len;
        x->refusal = steal_or_empty(&a->refusal, &len);
    }
    if (a->n_tools > 0) {
        qsort(a->tools, a->n_tools, sizeof(*a->tools), by_key); /* keys are unique */
        x->tool_calls = xcalloc(a->n_tools, sizeof(*x->tool_calls));
    }
    for (size_t i = 0; i < a->n_tools; i++) {
        struct tool_slot *s = &a->tools[i];
        struct extract_tool_call *t = &x->tool_calls[x->n_tool_calls++];
        size_t len;
        t->id = s->id;
        t->name = s->name;
        s->id = s->name = NULL;
        if (s->args.len == 0 && s->input != NULL) {
            t->arguments = s->input;
            s->input = NULL;
        } else {
            t->arguments = steal_or_empty(&s->args, &len);
        }
    }
    if (x->model == NULL) keep_first(&x->model, get_str(x->request, "model"));
}

int extract(const struct exchange *ex, size_t max_decoded_bytes, struct extracted *out)
{
    struct acc a;
    struct err err = {{0}};
    char *decoded_body = NULL;
    const char *body;
    size_t len = 0;
    bool cut = false;
    char *encoding = exchange_header(ex, "content-encoding");
    char *content_type = exchange_header(ex, "content-type");

    memset(out, 0, sizeof(*out));
    memset(&a, 0, sizeof(a));
    a.x = out;
    if (ex->request_body && ex->request_body_len > 0)
        out->request = load_json(ex->request_body, ex->request_body_len, NULL);
    out->api = api_of_path(ex->uri);
    bool decoded = true;
    if (encoding == NULL) {
        /* Nothing to decode: the captured bytes are read in place (the parsers take lengths). */
        body = ex->response_body.data ? ex->response_body.data : "";
        len = ex->response_body.len;
        cut = len > max_decoded_bytes;
        if (cut) len = max_decoded_bytes;
    } else {
        decoded = extract_decode(encoding, ex->response_body.data, ex->response_body.len,
                                 max_decoded_bytes, &decoded_body, &len, &cut, &err) == 0;
        body = decoded_body;
    }
    a.cap = len + 1;
    buf_init(&a.text, a.cap);
    buf_init(&a.refusal, a.cap);
    if (!decoded) {
        fail(&a, "%s", err.msg);
    } else {
        /* EXCHANGE_REFUSED bodies are the proxy's own, whole. */
        a.prefix = cut || ex->response_truncated ||
                   (ex->outcome != EXCHANGE_COMPLETE && ex->outcome != EXCHANGE_REFUSED);
        out->decoded_truncated = a.prefix;
        out->stream = looks_like_sse(body, len) ||
                      (is_event_stream(content_type) && !starts_like_json(body, len));
        if (out->stream)
            parse_sse_body(&a, body, len);
        else
            parse_json_body(&a, body, len);
    }
    finish(&a);
    /* An undecodable body is broken whatever its API; a known API's body must parse as it. */
    if (ex->status < 400 && a.failed && (!decoded || out->api != EXTRACT_API_UNKNOWN)) {
        out->parse_error = true;
        snprintf(out->parse_detail, sizeof(out->parse_detail), "%s", a.detail);
    }
    tools_clear(&a);
    buf_fini(&a.text);
    buf_fini(&a.refusal);
    free(decoded_body);
    free(encoding);
    free(content_type);
    return 0;
}

void extracted_fini(struct extracted *x)
{
    free(x->text);
    for (size_t i = 0; i < x->n_tool_calls; i++) {
        free(x->tool_calls[i].id);
        free(x->tool_calls[i].name);
        free(x->tool_calls[i].arguments);
    }
    free(x->tool_calls);
    free(x->finish_reason);
    free(x->refusal);
    free(x->model);
    free(x->system_fingerprint);
    free(x->error_type);
    free(x->error_message);
    json_decref(x->request);
    memset(x, 0, sizeof(*x));
}
