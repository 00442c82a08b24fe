/* `sigmaproxy triage`: one command per run, on main's thread, before any config or thread. Each
 * command is a few blocking Redis calls with timeouts (hiredis 0.14: a context whose err is set
 * is dead; every reply is checked, then freed), then text for a person (aligned columns cut to
 * the terminal, wrapped text, control characters as '?') or, with --json, one JSON document.
 * Items are outside input: a field may be missing or odd, an item not JSON; each is shown as such.
 */
#include "triage/cli.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/sigma.h"
#include "core/xalloc.h"
#include "triage/redis.h"

#define CLI_STREAM             "sigmaproxy:flagged"
#define CLI_GROUP              "reviewers"
#define CLI_REDIS_URL          "redis://127.0.0.1:6379"
#define CLI_CONNECT_TIMEOUT_MS 2000
#define CLI_COMMAND_TIMEOUT_MS 10000
#define CLI_PAGE               200 /* entries per XRANGE / XREVRANGE call */
#define CLI_LIST_LIMIT         50
#define CLI_CLAIM_COUNT        10
#define CLI_MIN_PREFIX         4 /* the shortest request-id prefix that show and label accept */
/* --since compares each item's own ts but reads no entry older than since minus this: a spooled
 * item reaches the stream after its ts, and a sidecar's clock may be off Redis's a little. */
#define CLI_SKEW_MS         (60LL * 60 * 1000)
#define CLI_WIDTH           100 /* columns when neither $COLUMNS nor the terminal says */
#define CLI_CELL_BYTES      512
#define CLI_TEXT_BYTES      (4 * 1024 * 1024) /* cap on a joined text (last user message, list) */
#define CLI_RAW_SHOWN_BYTES 4000              /* of a malformed item, by show */
#define CLI_NAME_BYTES      64                /* --as */
#define CLI_NOTE_BYTES      4096
#define TABLE_MAX_COLS      8

struct cli {
    const char *stream;
    const char *group;
    bool json;
    int width;            /* columns for text output */
    struct redis_url url; /* parsed before any command runs: a bad URL is a usage error */
    redisContext *c;      /* NULL until the first command, and again once it died */
};

/* Options of every command, as given (NULL or false when absent). */
struct opts {
    const char *redis, *stream, *group, *scorer, *model, *route, *since, *limit, *count, *as, *note,
        *out;
    bool json, help, labelled_only;
    const char *args[3]; /* positional arguments after the command */
    int n_args;
};

/* One stream entry, borrowed from its reply. */
struct entry {
    const char *id; /* "ms-seq" */
    uint64_t ms, seq;
    const redisReply *fields; /* field, value, ... (all strings); NULL when the entry was deleted */
};

/* Called for each entry of a scan; returns false to stop it. */
typedef bool (*visit_fn)(const struct entry *e, void *arg);

/* ---- Text for a terminal -------------------------------------------------------------------- */

/* Decodes the UTF-8 sequence at s (n > 0 bytes). Returns its length; *cp is -1 for a malformed
 * sequence, of which one byte is consumed. */
static size_t utf8_next(const unsigned char *s, size_t n, int32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    int32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = -1;
        return 1;
    }
    if (n < len) {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    *cp = v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ? -1 : v;
    return *cp < 0 ? 1 : len;
}

/* Terminal columns of a code point, without the locale (tests and pipes run in "C"): 0 for
 * combining marks, 2 for wide East Asian and emoji, else 1. -1 for what must not reach a terminal
 * raw (malformed, C0/C1 controls, DEL, bidi overrides that reorder the line): printed as '?'. */
static int cp_width(int32_t cp)
{
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) return -1;
    if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) return -1;
    if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) ||
        (cp >= 0xfe00 && cp <= 0xfe0f))
        return 0;
    if (cp >= 0x1100 && (cp <= 0x115f || cp == 0x2329 || cp == 0x232a ||
                         (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f) ||
                         (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
                         (cp >= 0xfe30 && cp <= 0xfe6f) || (cp >= 0xff00 && cp <= 0xff60) ||
                         (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
                         (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)))
        return 2;
    return 1;
}

static int text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    int cols = 0;
    while (p < end) {
        int32_t cp;
        p += utf8_next(p, (size_t)(end - p), &cp);
        int w = cp_width(cp);
        cols += w < 0 ? 1 : w;
    }
    return cols;
}

/* Prints one code point (k bytes at p) as it may reach a terminal. */
static void put_cp(FILE *out, const unsigned char *p, size_t k, int32_t cp)
{
    if (cp_width(cp) >= 0)
        fwrite(p, 1, k, out);
    else
        fputc(cp == '\t' || cp == '\n' || cp == '\r' ? ' ' : '?', out);
}

/* Prints s in at most cols columns, cut with "…" when longer; pads with spaces to cols when pad. */
static void put_cell(FILE *out, const char *s, int cols, bool pad)
{
    int total = text_width(s);
    int room = total > cols ? cols - 1 : cols; /* one column for the ellipsis */
    int used = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    while (p < end) {
        int32_t cp;
        size_t k = utf8_next(p, (size_t)(end - p), &cp);
        int w = cp_width(cp) < 0 ? 1 : cp_width(cp);
        if (used + w > room) break;
        put_cp(out, p, k, cp);
        used += w;
        p += k;
    }
    if (total > cols && cols > 0) {
        fputs("…", out);
        used++;
    }
    for (; pad && used < cols; used++)
        fputc(' ', out);
}

/* One line of put_wrapped (no '\n' inside). */
static void put_line(FILE *out, const unsigned char *p, const unsigned char *end, int indent,
                     int room)
{
    int col = 0;
    bool has_word = false;
    fprintf(out, "%*s", indent, "");
    for (; p < end && (*p == ' ' || *p == '\t'); p++) { /* keep indentation (code, lists) */
        if (col < room / 2) {
            fputc(' ', out);
            col++;
        }
    }
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p == end) break;
        const unsigned char *word = p;
        int word_cols = 0;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r') {
            int32_t cp;
            p += utf8_next(p, (size_t)(end - p), &cp);
            word_cols += cp_width(cp) < 0 ? 1 : cp_width(cp);
        }
        if (has_word && col + 1 + word_cols > room) {
            fprintf(out, "\n%*s", indent, "");
            col = 0;
        } else if (has_word) {
            fputc(' ', out);
            col++;
        }
        for (const unsigned char *q = word; q < p;) { /* a word longer than a line is cut */
            int32_t cp;
            size_t k = utf8_next(q, (size_t)(p - q), &cp);
            int w = cp_width(cp) < 0 ? 1 : cp_width(cp);
            if (col > 0 && col + w > room) {
                fprintf(out, "\n%*s", indent, "");
                col = 0;
            }
            put_cp(out, q, k, cp);
            col += w;
            q += k;
        }
        has_word = true;
    }
    fputc('\n', out);
}

/* Prints text wrapped to width, each line indented: words move whole to the next line; '\n'
 * starts a new line. */
static void put_wrapped(FILE *out, const char *s, size_t len, int indent, int width)
{
    int room = width - indent < 20 ? 20 : width - indent;
    while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
        len--;
    if (len == 0) {
        fprintf(out, "%*s(empty)\n", indent, "");
        return;
    }
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    for (;;) {
        const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));
        put_line(out, p, eol ? eol : end, indent, room);
        if (eol == NULL) break;
        p = eol + 1;
    }
}

/* Rows of cells printed in aligned columns that fit a width. */
struct table {
    size_t n_cols;
    const char *head[TABLE_MAX_COLS];
    int min_cols[TABLE_MAX_COLS]; /* a too-wide table shrinks this column down to it; 0: never */
    bool right[TABLE_MAX_COLS];   /* right-aligned (numbers) */
    char **cells;                 /* n_rows * n_cols, owned */
    size_t n_rows;
};

static void table_add(struct table *tb, const char *const *cells)
{
    tb->cells = xrealloc(tb->cells, (tb->n_rows + 1) * tb->n_cols * sizeof(*tb->cells));
    for (size_t i = 0; i < tb->n_cols; i++)
        tb->cells[tb->n_rows * tb->n_cols + i] = xstrdup(cells[i]);
    tb->n_rows++;
}

static void table_fini(struct table *tb)
{
    for (size_t i = 0; i < tb->n_rows * tb->n_cols; i++)
        free(tb->cells[i]);
    free(tb->cells);
    tb->cells = NULL;
    tb->n_rows = 0;
}

static void table_row(const struct table *tb, FILE *out, const int *w, const char *const *cells)
{
    for (size_t c = 0; c < tb->n_cols; c++) {
        if (c > 0) fputs("  ", out);
        if (tb->right[c]) {
            for (int pad = w[c] - text_width(cells[c]); pad > 0; pad--)
                fputc(' ', out);
        }
        put_cell(out, cells[c], w[c], !tb->right[c] && c + 1 < tb->n_cols);
    }
    fputc('\n', out);
}

static void table_print(const struct table *tb, FILE *out, int width)
{
    int w[TABLE_MAX_COLS];
    int total = 0;
    for (size_t c = 0; c < tb->n_cols; c++) {
        w[c] = text_width(tb->head[c]);
        for (size_t r = 0; r < tb->n_rows; r++) {
            int cw = text_width(tb->cells[r * tb->n_cols + c]);
            if (cw > w[c]) w[c] = cw;
        }
        total += w[c] + (c > 0 ? 2 : 0);
    }
    /* Too wide: the last columns give way first, since the long free text sits there; on a very
     * narrow terminal they all go down to a few columns. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t c = tb->n_cols; c-- > 0 && total > width;) {
            int floor = pass == 0 ? tb->min_cols[c] : 4;
            if (tb->min_cols[c] == 0 || w[c] <= floor) continue;
            int cut = total - width < w[c] - floor ? total - width : w[c] - floor;
            w[c] -= cut;
            total -= cut;
        }
    }
    table_row(tb, out, w, tb->head);
    for (size_t r = 0; r < tb->n_rows; r++)
        table_row(tb, out, w, (const char *const *)&tb->cells[r * tb->n_cols]);
}

/* $COLUMNS, else the terminal's width when stdout is one, else CLI_WIDTH; at least 20. */
static int term_width(void)
{
    const char *env = getenv("COLUMNS");
    if (env != NULL && *env != '\0') {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0) return v < 20 ? 20 : v > 1000 ? 1000 : (int)v;
    }
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return CLI_WIDTH;
}

/* ---- Time -------------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool lit(const char **p, char c)
{
    if (**p != c) return false;
    (*p)++;
    return true;
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* ISO 8601 as people and programs write it: 2026-11-29, 2026-11-29T10:16, 2026-11-29 10:16:00,
 * 2026-11-29T10:16:00.123Z, ...+01:00. Without a zone the time is UTC. */
static bool parse_iso_ms(const char *s, int64_t *out)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, zh = 0, zm = 0, sign = 0;
    if (!digits(&p, 4, &y) || !lit(&p, '-') || !digits(&p, 2, &mo) || !lit(&p, '-') ||
        !digits(&p, 2, &d))
        return false;
    if (lit(&p, 'T') || lit(&p, 't') || lit(&p, ' ')) {
        if (!digits(&p, 2, &h) || !lit(&p, ':') || !digits(&p, 2, &mi)) return false;
        if (lit(&p, ':')) {
            if (!digits(&p, 2, &sec)) return false;
            if (lit(&p, '.') || lit(&p, ',')) {
                if (!isdigit((unsigned char)*p)) return false;
                for (int scale = 100; isdigit((unsigned char)*p); p++, scale /= 10)
                    ms += (*p - '0') * scale;
            }
        }
    }
    if (!lit(&p, 'Z') && !lit(&p, 'z') && (*p == '+' || *p == '-')) {
        sign = *p++ == '-' ? -1 : 1;
        if (!digits(&p, 2, &zh)) return false;
        lit(&p, ':');
        if (*p != '\0' && !digits(&p, 2, &zm)) return false;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
        zh > 23 || zm > 59)
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *out = (int64_t)timegm(&tm) * 1000 + ms - (int64_t)sign * (zh * 60 + zm) * 60000;
    return true;
}

/* A duration: one or more NUMBER UNIT, units ms s m h d w (90s, 15m, 1h30m, 7d). */
static bool parse_duration_ms(const char *s, int64_t *out)
{
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                 {"h", 3600000}, {"d", 86400000}, {"w", 604800000}};
    int64_t total = 0;
    if (*s == '\0') return false;
    while (*s != '\0') {
        if (!isdigit((unsigned char)*s)) return false;
        int64_t v = 0;
        for (; isdigit((unsigned char)*s); s++) {
            v = v * 10 + (*s - '0');
            if (v > 1000000000) return false;
        }
        size_t u = 0;
        while (u < sizeof(units) / sizeof(units[0]) &&
               strncmp(s, units[u].name, strlen(units[u].name)) != 0)
            u++;
        if (u == sizeof(units) / sizeof(units[0])) return false;
        s += strlen(units[u].name);
        total += v * units[u].ms;
    }
    *out = total;
    return true;
}

/* "2026-11-29 10:16:00" in UTC; with iso "2026-11-29T10:16:00.123Z". */
static void fmt_time(int64_t ms, bool iso, char *out, size_t n)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    size_t k = gmtime_r(&secs, &tm) ? strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) : 0;
    if (k == 0) {
        snprintf(out, n, "?");
        return;
    }
    if (iso) {
        if (k >= 19 && out[10] == ' ') out[10] = 'T';
        snprintf(out + k, n - k, ".%03dZ", (int)(ms - (int64_t)secs * 1000));
    }
}

/* ---- JSON helpers ------------------------------------------------------------------------ */

/* The string at key, or "" when it is missing or not a string. Borrowed from o. */
static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* 1234.5, 0.97, 1: three decimals at most, no trailing zeros (latencies, scores). */
static void fmt_real(double v, char *out, size_t n)
{
    snprintf(out, n, "%.3f", v);
    char *dot = strchr(out, '.');
    if (dot == NULL) return;
    char *end = out + strlen(out);
    while (end > dot + 1 && end[-1] == '0')
        *--end = '\0';
    if (end == dot + 1) *dot = '\0';
}

/* A scalar at key as text into out ("-" when missing, null or not a scalar). Returns out. */
static const char *jtext(const json_t *o, const char *key, char *out, size_t n)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v) && fabs(json_real_value(v)) < 1e15)
        fmt_real(json_real_value(v), out, n);
    else if (json_is_real(v))
        snprintf(out, n, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(out, n, "-");
    return out;
}

/* A JSON string of len bytes from Redis; bytes that are not UTF-8 become '?'. Returns new. */
static json_t *jstring_safe(const char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    if (v != NULL) return v;
    char *copy = xmalloc(len + 1);
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    size_t n = 0;
    while (p < end) {
        int32_t cp;
        size_t k = utf8_next(p, (size_t)(end - p), &cp);
        if (cp < 0) {
            copy[n++] = '?';
        } else {
            memcpy(copy + n, p, k);
            n += k;
        }
        p += k;
    }
    v = json_stringn(copy, n);
    free(copy);
    return v;
}

/* Replaces what is not printable ASCII by '?' (library messages that quote the bad input). */
static void ascii_safe(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) *s = '?';
    }
}

static bool has_string(const json_t *array, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(array, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
    }
    return false;
}

/* The strings of array joined by sep into b (capped). */
static void join(const json_t *array, const char *sep, struct buf *b)
{
    size_t i;
    const json_t *v;
    json_array_foreach(array, i, v)
    {
        if (!json_is_string(v)) continue;
        if (b->len > 0) buf_append_some(b, sep, strlen(sep));
        buf_append_some(b, json_string_value(v), json_string_length(v));
    }
    if (b->data == NULL) buf_append_some(b, "", 0);
}

/* ---- Items (SPEC.md "Triage queue") ------------------------------------------------------ */

/* The names of the scorers that found a defect in item ({"scorer", "defect": true} in
 * "scores"). Returns a new array. */
static json_t *item_flagged(const json_t *item)
{
    json_t *out = json_array();
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(item, "scores"), i, s)
    {
        const char *name = jstr(s, "scorer");
        if (*name && json_is_true(json_object_get(s, "defect")) && !has_string(out, name))
            json_array_append_new(out, json_string(name));
    }
    return out;
}

/* The item's time: ts as Unix ms or s (a number), or ISO 8601; else the entry's time. */
static int64_t item_ms(const json_t *item, uint64_t entry_ms)
{
    const json_t *ts = json_object_get(item, "ts");
    int64_t ms;
    if (json_is_number(ts)) {
        double v = json_number_value(ts);
        if (v > -1e15 && v < 1e15) return v > 1e11 ? (int64_t)v : (int64_t)(v * 1000);
    }
    if (json_is_string(ts) && parse_iso_ms(json_string_value(ts), &ms)) return ms;
    return (int64_t)entry_ms;
}

/* The model: the item's, else the one the request asked for. Borrowed. */
static const char *item_model(const json_t *item)
{
    const char *m = jstr(item, "model");
    return *m ? m : jstr(json_object_get(item, "request"), "model");
}

/* What joins an item to its labels: its request id, or "entry:ID" for an item without one. */
static void item_key(const json_t *item, const char *entry, char *out, size_t n)
{
    const char *id = jstr(item, "id");
    if (*id)
        snprintf(out, n, "%s", id);
    else
        snprintf(out, n, "entry:%s", entry);
}

/* Appends the text of a message's content to b: a string, or the "text" of each part. */
static void content_text(const json_t *content, struct buf *b)
{
    if (json_is_string(content)) {
        buf_append_some(b, json_string_value(content), json_string_length(content));
        return;
    }
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const json_t *text = json_is_string(part) ? part : json_object_get(part, "text");
        if (b->len > 0) buf_append_some(b, "\n", 1);
        if (json_is_string(text)) {
            buf_append_some(b, json_string_value(text), json_string_length(text));
        } else if (*jstr(part, "type")) {
            buf_append_some(b, "[", 1);
            buf_append_some(b, jstr(part, "type"), strlen(jstr(part, "type")));
            buf_append_some(b, "]", 1);
        }
    }
}

/* The last user turn of a request body: chat completions' and Anthropic's "messages", the
 * Responses API's "input", completions' "prompt"; a body that was not JSON is shown whole.
 * Returns a new string (free it), or NULL when there is none. */
static char *last_user_text(const json_t *req)
{
    struct buf b;
    buf_init(&b, CLI_TEXT_BYTES);
    const json_t *turns = json_object_get(req, "messages");
    if (turns == NULL) turns = json_object_get(req, "input");
    if (json_is_string(req)) {
        content_text(req, &b);
    } else if (json_is_string(turns)) {
        content_text(turns, &b);
    } else if (json_is_array(turns)) {
        for (size_t i = json_array_size(turns); i-- > 0;) {
            const json_t *m = json_array_get(turns, i);
            if (strcmp(jstr(m, "role"), "user") == 0 || json_is_string(m)) {
                content_text(json_is_string(m) ? m : json_object_get(m, "content"), &b);
                break;
            }
        }
    } else {
        const json_t *prompt = json_object_get(req, "prompt");
        if (json_is_array(prompt)) prompt = json_array_get(prompt, json_array_size(prompt) - 1);
        if (json_is_string(prompt)) content_text(prompt, &b);
    }
    size_t len;
    return buf_steal(&b, &len);
}

/* ---- Redis -------------------------------------------------------------------------------- */

/* Runs one command on a live context: the reply (freeReplyObject it), or NULL with err. An error
 * reply is NULL too, with its text in err; a failed call leaves the context dead and freed. */
static redisReply *exec(struct cli *t, struct err *err, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(t->c, argc, argv, NULL);
    if (r == NULL) {
        err_set(err, "Redis at %s:%d, %s: %s", t->url.host, t->url.port, argv[0],
                t->c->errstr[0] ? t->c->errstr : "no reply");
        redisFree(t->c);
        t->c = NULL;
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        err_set(err, "Redis %s: %s", argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int cli_connect(struct cli *t, struct err *err)
{
    struct timeval connect_tv = {CLI_CONNECT_TIMEOUT_MS / 1000,
                                 (CLI_CONNECT_TIMEOUT_MS % 1000) * 1000};
    struct timeval tv = {CLI_COMMAND_TIMEOUT_MS / 1000, (CLI_COMMAND_TIMEOUT_MS % 1000) * 1000};
    t->c = redisConnectWithTimeout(t->url.host, t->url.port, connect_tv);
    if (t->c == NULL || t->c->err) {
        err_set(err, "cannot reach Redis at %s:%d: %s", t->url.host, t->url.port,
                t->c ? t->c->errstr : "cannot allocate a context");
        if (t->c) redisFree(t->c);
        t->c = NULL;
        return -1;
    }
    redisSetTimeout(t->c, tv);
    redisReply *r = NULL;
    if (t->url.password[0]) {
        const char *argv[3] = {"AUTH", t->url.user[0] ? t->url.user : t->url.password,
                               t->url.password};
        if ((r = exec(t, err, t->url.user[0] ? 3 : 2, argv)) == NULL) goto fail;
        freeReplyObject(r);
    }
    if (t->url.db != 0) {
        char db[12];
        snprintf(db, sizeof(db), "%d", t->url.db);
        const char *argv[2] = {"SELECT", db};
        if ((r = exec(t, err, 2, argv)) == NULL) goto fail;
        freeReplyObject(r);
    }
    return 0;
fail:
    if (t->c) redisFree(t->c);
    t->c = NULL;
    return -1;
}

/* Connects on first use, then runs the command (see exec). */
static redisReply *command(struct cli *t, struct err *err, int argc, const char **argv)
{
    if (t->c == NULL && cli_connect(t, err) < 0) return NULL;
    return exec(t, err, argc, argv);
}

/* "ms-seq", both parts decimal and within 64 bits. */
static bool entry_id_parse(const char *s, uint64_t *ms, uint64_t *seq)
{
    char *end;
    if (!isdigit((unsigned char)s[0])) return false;
    errno = 0;
    *ms = strtoull(s, &end, 10);
    if (errno != 0 || *end != '-' || !isdigit((unsigned char)end[1])) return false;
    *seq = strtoull(end + 1, &end, 10);
    return errno == 0 && *end == '\0';
}

/* One entry of an XRANGE or XREADGROUP reply: [id, [field, value, ...] or nil]. */
static bool entry_parse(const redisReply *r, struct entry *e)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return false;
    const redisReply *id = r->element[0], *f = r->element[1];
    if (id->type != REDIS_REPLY_STRING || !entry_id_parse(id->str, &e->ms, &e->seq)) return false;
    e->id = id->str;
    e->fields = NULL;
    if (f->type == REDIS_REPLY_NIL) return true;
    if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 != 0) return false;
    for (size_t i = 0; i < f->elements; i++) {
        if (f->element[i]->type != REDIS_REPLY_STRING) return false;
    }
    e->fields = f;
    return true;
}

/* The value of a field (NUL-terminated, borrowed from the reply), or NULL. */
static const redisReply *entry_field(const struct entry *e, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; e->fields != NULL && i + 1 < e->fields->elements; i += 2) {
        const redisReply *k = e->fields->element[i];
        if (k->len == len && memcmp(k->str, name, len) == 0) return e->fields->element[i + 1];
    }
    return NULL;
}

static const char *entry_str(const struct entry *e, const char *name)
{
    const redisReply *v = entry_field(e, name);
    return v ? v->str : "";
}

/* The item of a flagged entry: returns a new object, or NULL with the reason in why. */
static json_t *item_load(const struct entry *e, char *why, size_t n)
{
    const redisReply *v = entry_field(e, "item");
    json_error_t je;
    if (e->fields == NULL) {
        snprintf(why, n, "the entry was deleted");
        return NULL;
    }
    if (v == NULL) {
        snprintf(why, n, "no \"item\" field");
        return NULL;
    }
    json_t *item = json_loadb(v->str, v->len, 0, &je);
    if (item == NULL) {
        snprintf(why, n, "not JSON (line %d, column %d: %s)", je.line, je.column, je.text);
        ascii_safe(why);
        return NULL;
    }
    if (!json_is_object(item)) {
        json_decref(item);
        snprintf(why, n, "not a JSON object");
        return NULL;
    }
    return item;
}

/* The entry id just before / after ms-seq, into out; false when there is none. */
static bool id_step(uint64_t ms, uint64_t seq, bool before, char *out, size_t n)
{
    if (before && seq > 0)
        snprintf(out, n, "%" PRIu64 "-%" PRIu64, ms, seq - 1);
    else if (before && ms > 0)
        snprintf(out, n, "%" PRIu64 "-%" PRIu64, ms - 1, UINT64_MAX);
    else if (!before && seq < UINT64_MAX)
        snprintf(out, n, "%" PRIu64 "-%" PRIu64, ms, seq + 1);
    else if (!before && ms < UINT64_MAX)
        snprintf(out, n, "%" PRIu64 "-0", ms + 1);
    else
        return false;
    return true;
}

/* Calls visit for each entry of stream with an id at or after min_ms (0: all), newest or oldest
 * first, a page at a time, until visit returns false. Returns 0, or -1 with err. */
static int scan(struct cli *t, const char *stream, bool newest_first, uint64_t min_ms,
                visit_fn visit, void *arg, struct err *err)
{
    char lo[48] = "-", hi[48] = "+", count[16];
    if (min_ms > 0) snprintf(lo, sizeof(lo), "%" PRIu64, min_ms);
    snprintf(count, sizeof(count), "%d", CLI_PAGE);
    for (;;) {
        const char *argv[6] = {newest_first ? "XREVRANGE" : "XRANGE",
                               stream,
                               newest_first ? hi : lo,
                               newest_first ? lo : hi,
                               "COUNT",
                               count};
        redisReply *r = command(t, err, 6, argv);
        if (r == NULL) return -1;
        if (r->type != REDIS_REPLY_ARRAY) {
            err_set(err, "Redis %s %s: unexpected reply", argv[0], stream);
            freeReplyObject(r);
            return -1;
        }
        bool go_on = true;
        struct entry e = {0};
        for (size_t i = 0; i < r->elements && go_on; i++) {
            if (!entry_parse(r->element[i], &e)) {
                err_set(err, "Redis %s %s: unexpected reply", argv[0], stream);
                freeReplyObject(r);
                return -1;
            }
            go_on = visit(&e, arg);
        }
        bool more = go_on && r->elements == CLI_PAGE &&
                    id_step(e.ms, e.seq, newest_first, newest_first ? hi : lo, sizeof(hi));
        freeReplyObject(r);
        if (!more) return 0;
    }
}

static int ack(struct cli *t, const char *entry, struct err *err)
{
    const char *argv[4] = {"XACK", t->stream, t->group, entry};
    redisReply *r = command(t, err, 4, argv);
    if (r == NULL) return -1;
    int n = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return n;
}

/* ---- Labels ------------------------------------------------------------------------------- */

struct labels_ctx {
    json_t *map; /* item key -> [label, ...] oldest first */
    json_t *reviewers;
    size_t n;
};

static bool labels_visit(const struct entry *e, void *arg)
{
    struct labels_ctx *l = arg;
    const char *verdict = entry_str(e, "label");
    const char *id = entry_str(e, "id"), *entry = entry_str(e, "entry");
    if ((strcmp(verdict, "good") != 0 && strcmp(verdict, "bad") != 0) || (!*id && !*entry))
        return true; /* not a verdict of ours */
    char key[CLI_CELL_BYTES];
    if (*id)
        snprintf(key, sizeof(key), "%s", id);
    else
        snprintf(key, sizeof(key), "entry:%s", entry);
    json_t *list = json_object_get(l->map, key);
    if (list == NULL) {
        if (json_object_set_new(l->map, key, json_array()) < 0) return true; /* key not UTF-8 */
        list = json_object_get(l->map, key);
    }
    json_t *label = json_object();
    json_object_set_new(label, "label", json_string(verdict));
    const char *fields[] = {"scorer", "note", "by"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const redisReply *v = entry_field(e, fields[i]);
        json_object_set_new(label, fields[i],
                            v && v->len ? jstring_safe(v->str, v->len) : json_null());
    }
    int64_t ts;
    char *end;
    const char *ts_text = entry_str(e, "ts");
    errno = 0;
    ts = strtoll(ts_text, &end, 10);
    if (errno != 0 || end == ts_text || *end != '\0') {
        if (!parse_iso_ms(ts_text, &ts)) ts = (int64_t)e->ms;
    }
    json_object_set_new(label, "ts", json_integer(ts));
    json_object_set_new(label, "entry", jstring_safe(entry, strlen(entry)));
    const redisReply *flagged = entry_field(e, "flagged");
    if (flagged != NULL) {
        json_t *names = json_array();
        for (const char *p = flagged->str; *p;) {
            size_t k = strcspn(p, ",");
            if (k > 0) json_array_append_new(names, jstring_safe(p, k));
            p += k + (p[k] == ',');
        }
        json_object_set_new(label, "flagged", names);
    }
    const char *by = jstr(label, "by");
    if (*by) json_object_set_new(l->reviewers, by, json_true());
    json_array_append_new(list, label);
    l->n++;
    return true;
}

/* Reads the whole labels stream (people write it: it stays small). Returns a new object, item
 * key -> array of labels oldest first, or NULL with err. */
static json_t *labels_load(struct cli *t, size_t *n_labels, size_t *n_reviewers, struct err *err)
{
    struct labels_ctx l = {json_object(), json_object(), 0};
    if (scan(t, TRIAGE_CLI_LABELS_STREAM, false, 0, labels_visit, &l, err) < 0) {
        json_decref(l.map);
        l.map = NULL;
    }
    if (n_labels) *n_labels = l.n;
    if (n_reviewers) *n_reviewers = json_object_size(l.reviewers);
    json_decref(l.reviewers);
    return l.map;
}

/* The human verdict per scorer for one item (the rule of `stats --help`): a label naming a scorer
 * judges that scorer alone, a label naming none judges every scorer in flagged; for each scorer
 * the latest label naming it wins, else the latest label naming none. Returns a new object
 * {scorer: "good"|"bad"}, holding the scorers in flagged that have a verdict and any other scorer
 * a label named. */
static json_t *verdicts_of(const json_t *labels, const json_t *flagged)
{
    json_t *v = json_object();
    const json_t *general = NULL, *l, *name;
    size_t i;
    json_array_foreach(labels, i, l)
    {
        const char *scorer = jstr(l, "scorer");
        if (*scorer)
            json_object_set(v, scorer, json_object_get(l, "label"));
        else
            general = json_object_get(l, "label");
    }
    json_array_foreach(flagged, i, name)
    {
        if (general && json_is_string(name) && !json_object_get(v, json_string_value(name)))
            json_object_set(v, json_string_value(name), (json_t *)general);
    }
    return v;
}

/* ---- Finding one item ----------------------------------------------------------------------- */

struct found {
    char entry[48];
    uint64_t ms;
    json_t *item;  /* NULL when the entry holds no item we can read */
    char why[256]; /* then: why */
    char *raw;     /* then: the bytes of its "item" field, if any */
    size_t raw_len;
};

static void found_clear(struct found *f)
{
    json_decref(f->item);
    free(f->raw);
    memset(f, 0, sizeof(*f));
}

/* Takes ownership of item. */
static void found_set(struct found *f, const struct entry *e, json_t *item, const char *why)
{
    found_clear(f);
    snprintf(f->entry, sizeof(f->entry), "%s", e->id);
    f->ms = e->ms;
    f->item = item;
    snprintf(f->why, sizeof(f->why), "%s", why);
    const redisReply *raw = entry_field(e, "item");
    if (item == NULL && raw != NULL) {
        f->raw = xstrndup(raw->str, raw->len);
        f->raw_len = raw->len;
    }
}

struct find_ctx {
    const char *want;
    struct found *f;
    bool exact;
    int n_prefix; /* distinct ids starting with want: 0, 1 or 2 (several) */
    char prefix_id[CLI_CELL_BYTES];
};

static bool find_visit(const struct entry *e, void *arg)
{
    struct find_ctx *x = arg;
    char why[256];
    json_t *item = item_load(e, why, sizeof(why));
    const char *id = jstr(item, "id");
    size_t want_len = strlen(x->want);
    if (*id && strcmp(id, x->want) == 0) {
        found_set(x->f, e, item, "");
        x->exact = true;
        return false;
    }
    if (*id && want_len >= CLI_MIN_PREFIX && strncmp(id, x->want, want_len) == 0) {
        if (x->n_prefix == 0) {
            snprintf(x->prefix_id, sizeof(x->prefix_id), "%s", id);
            x->n_prefix = 1;
            found_set(x->f, e, item, ""); /* the newest delivery of that id */
            return true;
        }
        if (strcmp(x->prefix_id, id) != 0) x->n_prefix = 2;
    }
    json_decref(item);
    /* Ambiguous already: stop reading (an older item whose id is exactly want is not looked
     * for; generated ids are all 32 characters, so one cannot be a prefix of another). */
    return x->n_prefix < 2;
}

/* Finds the item that ID names: a stream entry id, else a request id (the newest delivery),
 * else a unique prefix of one. Returns TRIAGE_CLI_OK with *f filled (found_clear it), or another
 * status with err. */
static int find_item(struct cli *t, const char *want, struct found *f, struct err *err)
{
    uint64_t ms, seq;
    memset(f, 0, sizeof(*f));
    if (entry_id_parse(want, &ms, &seq)) {
        const char *argv[6] = {"XRANGE", t->stream, want, want, "COUNT", "1"};
        redisReply *r = command(t, err, 6, argv);
        if (r == NULL) return TRIAGE_CLI_REDIS;
        struct entry e;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && entry_parse(r->element[0], &e)) {
            char why[256] = "";
            json_t *item = item_load(&e, why, sizeof(why));
            found_set(f, &e, item, why);
            freeReplyObject(r);
            return TRIAGE_CLI_OK;
        }
        freeReplyObject(r); /* a request id may look like an entry id too */
    }
    struct find_ctx x = {.want = want, .f = f};
    if (scan(t, t->stream, true, 0, find_visit, &x, err) < 0) {
        found_clear(f);
        return TRIAGE_CLI_REDIS;
    }
    if (x.exact || x.n_prefix == 1) return TRIAGE_CLI_OK;
    found_clear(f);
    if (x.n_prefix > 1) {
        err_set(err, "%s is the start of several request ids: give more of it", want);
        return TRIAGE_CLI_USAGE;
    }
    err_set(err, "no flagged item with id %s in %s", want, t->stream);
    return TRIAGE_CLI_NOTHING;
}

/* ---- list and claim ------------------------------------------------------------------------ */

/* A row of list and claim: the item's summary, for the table and for --json alike. Returns new. */
static json_t *row_new(const struct entry *e, const json_t *item, const char *why)
{
    static const char *const keys[] = {"id",     "route",      "upstream",   "status",
                                       "stream", "sampled_by", "latency_ms", "ttft_ms"};
    char when[48];
    fmt_time(item ? item_ms(item, e->ms) : (int64_t)e->ms, true, when, sizeof(when));
    json_t *row = json_object();
    json_object_set_new(row, "entry", json_string(e->id));
    json_object_set_new(row, "time", json_string(when));
    if (item == NULL) {
        json_object_set_new(row, "error", json_string(why));
        return row;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(item, keys[i]);
        if (v != NULL) json_object_set(row, keys[i], v);
    }
    if (*item_model(item)) json_object_set_new(row, "model", json_string(item_model(item)));
    json_object_set_new(row, "flagged", item_flagged(item));
    return row;
}

static void rows_print(const json_t *rows, int width)
{
    struct table tb = {.n_cols = 6,
                       .head = {"ID", "TIME (UTC)", "ROUTE", "MODEL", "STATUS", "FLAGGED"},
                       .min_cols = {12, 0, 6, 8, 0, 10}};
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        char id[CLI_CELL_BYTES], when[32], route[CLI_CELL_BYTES], model[CLI_CELL_BYTES], status[32],
            flagged[CLI_CELL_BYTES];
        struct buf b;
        buf_init(&b, CLI_CELL_BYTES);
        snprintf(id, sizeof(id), "%s", *jstr(row, "id") ? jstr(row, "id") : jstr(row, "entry"));
        snprintf(when, sizeof(when), "%.19s", jstr(row, "time"));
        if (strlen(when) > 10) when[10] = ' ';
        jtext(row, *jstr(row, "route") ? "route" : "upstream", route, sizeof(route));
        jtext(row, "model", model, sizeof(model));
        jtext(row, "status", status, sizeof(status));
        join(json_object_get(row, "flagged"), ",", &b);
        if (json_object_get(row, "error")) { /* the short reason; show gives the rest */
            const char *why = jstr(row, "error"), *more = strstr(why, " (");
            snprintf(flagged, sizeof(flagged), "(malformed: %.*s)",
                     (int)(more ? (size_t)(more - why) : strlen(why)), why);
        } else {
            snprintf(flagged, sizeof(flagged), "%s", b.len ? b.data : "-");
        }
        buf_fini(&b);
        const char *cells[6] = {id, when, route, model, status, flagged};
        table_add(&tb, cells);
    }
    table_print(&tb, stdout, width);
    table_fini(&tb);
}

static bool matches(const char *pattern, const char *value)
{
    return pattern == NULL || fnmatch(pattern, value, 0) == 0;
}

struct list_ctx {
    const struct opts *o;
    bool has_since;
    int64_t since_ms;
    long limit; /* 0: all */
    json_t *rows;
    json_t *seen; /* request ids listed: a duplicate delivery is listed once, the newest */
};

static bool list_visit(const struct entry *e, void *arg)
{
    struct list_ctx *l = arg;
    const struct opts *o = l->o;
    char why[256];
    json_t *item = item_load(e, why, sizeof(why));
    bool keep;
    if (item == NULL) { /* shown as such unless a filter asks for a field it lacks */
        keep = !o->scorer && !o->model && !o->route &&
               (!l->has_since || (int64_t)e->ms >= l->since_ms);
    } else {
        const char *id = jstr(item, "id");
        json_t *flagged = item_flagged(item);
        keep =
            !(*id && json_object_get(l->seen, id)) &&
            (o->scorer == NULL || has_string(flagged, o->scorer)) &&
            matches(o->model, item_model(item)) &&
            (matches(o->route, jstr(item, "route")) || matches(o->route, jstr(item, "upstream"))) &&
            (!l->has_since || item_ms(item, e->ms) >= l->since_ms);
        if (*id) json_object_set_new(l->seen, id, json_true());
        json_decref(flagged);
    }
    if (keep) json_array_append_new(l->rows, row_new(e, item, why));
    json_decref(item);
    return l->limit == 0 || (long)json_array_size(l->rows) < l->limit;
}

static int parse_long(const char *opt, const char *s, long min, long max, long *out,
                      struct err *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        err_set(err, "%s %s: expected a whole number from %ld to %ld", opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static void print_json(const json_t *doc)
{
    json_dumpf(doc, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

static int cmd_list(struct cli *t, const struct opts *o, struct err *err)
{
    struct list_ctx l = {.o = o, .limit = CLI_LIST_LIMIT};
    if (o->limit && parse_long("--limit", o->limit, 0, 1000000000, &l.limit, err) < 0)
        return TRIAGE_CLI_USAGE;
    if (o->since) {
        int64_t d;
        if (parse_duration_ms(o->since, &d)) {
            l.since_ms = now_ms() - d;
        } else if (!parse_iso_ms(o->since, &l.since_ms)) {
            err_set(err,
                    "--since %s: expected a duration (30m, 2h, 7d, 1h30m) or a time "
                    "(2026-11-29, 2026-11-29T10:16:00Z)",
                    o->since);
            return TRIAGE_CLI_USAGE;
        }
        l.has_since = true;
    }
    uint64_t min_ms =
        l.has_since && l.since_ms > CLI_SKEW_MS ? (uint64_t)(l.since_ms - CLI_SKEW_MS) : 0;
    l.rows = json_array();
    l.seen = json_object();
    int rc = TRIAGE_CLI_REDIS;
    if (scan(t, t->stream, true, min_ms, list_visit, &l, err) < 0) goto out;
    if (t->json)
        print_json(l.rows);
    else if (json_array_size(l.rows) > 0)
        rows_print(l.rows, t->width);
    rc = TRIAGE_CLI_OK;
    if (json_array_size(l.rows) == 0) {
        bool filtered = o->scorer || o->model || o->route || o->since;
        err_set(err, filtered ? "no flagged item in %s matches" : "no flagged items in %s",
                t->stream);
        rc = TRIAGE_CLI_NOTHING;
    }
out:
    json_decref(l.rows);
    json_decref(l.seen);
    return rc;
}

/* Who is reviewing: --as, else $SIGMAPROXY_REVIEWER, $USER, $LOGNAME. NULL with err when bad. */
static const char *reviewer(const char *as, struct err *err)
{
    const char *env[] = {"SIGMAPROXY_REVIEWER", "USER", "LOGNAME"};
    for (size_t i = 0; as == NULL && i < sizeof(env) / sizeof(env[0]); i++) {
        const char *v = getenv(env[i]);
        if (v != NULL && *v != '\0') as = v;
    }
    if (as == NULL) as = "reviewer";
    bool ok = *as != '\0' && strlen(as) <= CLI_NAME_BYTES;
    for (const char *p = as; ok && *p; p++)
        ok = (unsigned char)*p >= 0x20 && *p != 0x7f;
    if (!ok) {
        err_set(err, "--as: a reviewer's name is 1 to %d printable characters", CLI_NAME_BYTES);
        return NULL;
    }
    return as;
}

/* The entries of an XREADGROUP reply for our one stream ([[name, [entry, ...]]], or nil for
 * none: *entries is then NULL). Returns -1 for any other shape. */
static int xread_entries(const redisReply *r, const redisReply **entries)
{
    *entries = NULL;
    if (r->type == REDIS_REPLY_NIL) return 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) return -1;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
        s->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    *entries = s->element[1];
    return 0;
}

static int cmd_claim(struct cli *t, const struct opts *o, struct err *err)
{
    long count = CLI_CLAIM_COUNT;
    if (o->count && parse_long("--count", o->count, 1, 1000, &count, err) < 0)
        return TRIAGE_CLI_USAGE;
    const char *me = reviewer(o->as, err);
    if (me == NULL) return TRIAGE_CLI_USAGE;
    const char *create[6] = {"XGROUP", "CREATE", t->stream, t->group, "0", "MKSTREAM"};
    redisReply *r = command(t, err, 6, create);
    if (r == NULL && (t->c == NULL || strstr(err->msg, "BUSYGROUP") == NULL))
        return TRIAGE_CLI_REDIS;
    if (r != NULL) freeReplyObject(r);
    r = NULL;
    err->msg[0] = '\0'; /* BUSYGROUP: the group exists, as wanted */
    json_t *labels = labels_load(t, NULL, NULL, err);
    if (labels == NULL) return TRIAGE_CLI_REDIS;
    json_t *rows = json_array();
    size_t n_new = 0, n_mine = 0;
    int rc = TRIAGE_CLI_REDIS;
    /* First what this reviewer claimed before and has not labelled (its pending entries, read from
     * a cursor), then new entries (">"): the group hands each of those to one consumer only. */
    for (int fresh = 0; fresh < 2; fresh++) {
        char cursor[48] = "0";
        for (;;) {
            if ((long)json_array_size(rows) >= count) break;
            char want[24];
            snprintf(want, sizeof(want), "%ld", count - (long)json_array_size(rows));
            const char *argv[9] = {"XREADGROUP", "GROUP",   t->group,
                                   me,           "COUNT",   want,
                                   "STREAMS",    t->stream, fresh ? ">" : cursor};
            const redisReply *entries;
            if ((r = command(t, err, 9, argv)) == NULL) goto out;
            if (xread_entries(r, &entries) < 0) {
                err_set(err, "Redis XREADGROUP %s: unexpected reply", t->stream);
                goto out;
            }
            if (entries == NULL || entries->elements == 0) {
                freeReplyObject(r);
                r = NULL;
                break;
            }
            for (size_t i = 0; i < entries->elements; i++) {
                struct entry e;
                char why[256], key[CLI_CELL_BYTES];
                if (!entry_parse(entries->element[i], &e)) {
                    err_set(err, "Redis XREADGROUP %s: unexpected reply", t->stream);
                    goto out;
                }
                snprintf(cursor, sizeof(cursor), "%s", e.id);
                json_t *item = item_load(&e, why, sizeof(why));
                item_key(item, e.id, key, sizeof(key));
                if (e.fields == NULL || json_object_get(labels, key) != NULL) {
                    /* Trimmed away, or labelled already (a duplicate delivery): no review left. */
                    json_decref(item);
                    if (ack(t, e.id, err) < 0) goto out;
                    continue;
                }
                json_t *row = row_new(&e, item, why);
                json_object_set_new(row, "new", json_boolean(fresh));
                json_array_append_new(rows, row);
                *(fresh ? &n_new : &n_mine) += 1;
                json_decref(item);
            }
            freeReplyObject(r);
            r = NULL;
        }
    }
    rc = TRIAGE_CLI_OK;
    if (t->json) {
        print_json(rows);
    } else if (json_array_size(rows) > 0) {
        printf("%s: %zu to review in group %s (%zu new, %zu claimed earlier)\n", me,
               json_array_size(rows), t->group, n_new, n_mine);
        rows_print(rows, t->width);
    }
    if (json_array_size(rows) == 0) {
        err_set(err, "nothing to claim in %s: every item is claimed or labelled", t->stream);
        rc = TRIAGE_CLI_NOTHING;
    }
out:
    if (r != NULL) freeReplyObject(r);
    json_decref(rows);
    json_decref(labels);
    return rc;
}

/* ---- show ----------------------------------------------------------------------------------- */

/* "  key         value" cut to the width. */
static void put_kv(const char *key, const char *value, int width)
{
    printf("  %-12s", key);
    put_cell(stdout, value, width - 14, false);
    fputc('\n', stdout);
}

static void labels_print(const json_t *labels, int width)
{
    size_t i;
    const json_t *l;
    if (json_array_size(labels) == 0) {
        printf("  none yet (sigmaproxy triage label ID good|bad [--scorer S] [--note TEXT])\n");
        return;
    }
    json_array_foreach(labels, i, l)
    {
        char when[48], line[CLI_NOTE_BYTES + 256];
        fmt_time(json_integer_value(json_object_get(l, "ts")), false, when, sizeof(when));
        snprintf(line, sizeof(line), "%s  %-4s  by %s%s%s%s%s%s", when, jstr(l, "label"),
                 *jstr(l, "by") ? jstr(l, "by") : "?", *jstr(l, "scorer") ? "  for " : "",
                 jstr(l, "scorer"), *jstr(l, "note") ? "  \"" : "", jstr(l, "note"),
                 *jstr(l, "note") ? "\"" : "");
        fputs("  ", stdout);
        put_cell(stdout, line, width - 2, false);
        fputc('\n', stdout);
    }
}

static void show_text(struct cli *t, const struct found *f, const json_t *labels)
{
    const json_t *it = f->item;
    char a[CLI_CELL_BYTES], b[CLI_CELL_BYTES], line[3 * CLI_CELL_BYTES];
    if (it == NULL) {
        printf("Entry %s of %s: malformed item: %s\n", f->entry, t->stream, f->why);
        if (f->raw != NULL) {
            size_t shown = f->raw_len < CLI_RAW_SHOWN_BYTES ? f->raw_len : CLI_RAW_SHOWN_BYTES;
            printf("\nRaw item (%zu bytes%s)\n", f->raw_len,
                   shown < f->raw_len ? ", the start" : "");
            put_wrapped(stdout, f->raw, shown, 2, t->width);
        }
        printf("\nLabels\n");
        labels_print(labels, t->width);
        return;
    }
    snprintf(line, sizeof(line), "Item %s  (entry %s)", *jstr(it, "id") ? jstr(it, "id") : "-",
             f->entry);
    put_cell(stdout, line, t->width, false);
    fputc('\n', stdout);
    fmt_time(item_ms(it, f->ms), false, a, sizeof(a));
    snprintf(line, sizeof(line), "%s UTC", a);
    put_kv("time", line, t->width);
    const char *route = jstr(it, "route"), *upstream = jstr(it, "upstream");
    snprintf(line, sizeof(line), "%s%s%s", *route ? route : "-",
             *upstream && strcmp(upstream, route) ? " -> upstream " : "",
             *upstream && strcmp(upstream, route) ? upstream : "");
    put_kv("route", line, t->width);
    if (*jstr(it, "method") || *jstr(it, "path")) {
        snprintf(line, sizeof(line), "%s %s", jstr(it, "method"), jstr(it, "path"));
        put_kv("request", line, t->width);
    }
    put_kv("model", *item_model(it) ? item_model(it) : "-", t->width);
    if (*jstr(it, "system_fingerprint"))
        put_kv("fingerprint", jstr(it, "system_fingerprint"), t->width);
    snprintf(line, sizeof(line), "%s%s%s%s%s%s, sampled by %s", jtext(it, "status", a, sizeof(a)),
             *jstr(it, "outcome") ? " " : "", jstr(it, "outcome"),
             json_is_true(json_object_get(it, "stream")) ? ", streamed" : "",
             *jstr(it, "finish_reason") ? ", finish reason " : "", jstr(it, "finish_reason"),
             *jstr(it, "sampled_by") ? jstr(it, "sampled_by") : "-");
    put_kv("status", line, t->width);
    jtext(it, "latency_ms", a, sizeof(a));
    snprintf(line, sizeof(line), "latency %s%s", a, strcmp(a, "-") ? " ms" : "");
    if (json_object_get(it, "ttft_ms") && !json_is_null(json_object_get(it, "ttft_ms")))
        snprintf(line + strlen(line), sizeof(line) - strlen(line), ", first token %s ms",
                 jtext(it, "ttft_ms", b, sizeof(b)));
    put_kv("timings", line, t->width);

    printf("\nDefects\n");
    size_t i, n_defects = 0;
    const json_t *s;
    struct buf others;
    buf_init(&others, CLI_TEXT_BYTES);
    json_array_foreach(json_object_get(it, "scores"), i, s)
    {
        const char *name = *jstr(s, "scorer") ? jstr(s, "scorer") : "?";
        if (!json_is_true(json_object_get(s, "defect"))) {
            snprintf(line, sizeof(line), "%s%s %s", others.len ? ", " : "", name,
                     jtext(s, "score", a, sizeof(a)));
            buf_append_some(&others, line, strlen(line));
            continue;
        }
        n_defects++;
        snprintf(line, sizeof(line), "%s (score %s)", name, jtext(s, "score", a, sizeof(a)));
        fputs("  ", stdout);
        put_cell(stdout, line, t->width - 2, false);
        fputc('\n', stdout);
        const char *detail = jstr(s, "detail");
        if (*detail) put_wrapped(stdout, detail, strlen(detail), 6, t->width);
    }
    if (n_defects == 0) printf("  none reported\n");
    if (others.len > 0) {
        printf("\nOther scores\n");
        put_wrapped(stdout, others.data, others.len, 2, t->width);
    }
    buf_fini(&others);

    char *user = last_user_text(json_object_get(it, "request"));
    printf("\nLast user message\n");
    if (user != NULL)
        put_wrapped(stdout, user, strlen(user), 2, t->width);
    else
        printf("  (none found in the request)\n");
    free(user);

    const json_t *text = json_object_get(it, "response_text");
    const json_t *raw = json_object_get(it, "response_raw");
    if (json_is_string(text)) {
        printf("\nResponse (%zu bytes%s)\n", json_string_length(text),
               json_is_true(json_object_get(it, "response_text_truncated")) ? ", cut by the proxy"
                                                                            : "");
        put_wrapped(stdout, json_string_value(text), json_string_length(text), 2, t->width);
    } else {
        printf("\nResponse\n  (no response_text)\n");
    }
    /* No text to read (an error, a body we could not parse): the body itself tells more. */
    if (json_string_length(text) == 0 && json_string_length(raw) > 0) {
        size_t len = json_string_length(raw);
        size_t shown = len < CLI_RAW_SHOWN_BYTES ? len : CLI_RAW_SHOWN_BYTES;
        printf("\nResponse body (%zu bytes%s)\n", len, shown < len ? ", the start" : "");
        put_wrapped(stdout, json_string_value(raw), shown, 2, t->width);
    }
    printf("\nLabels\n");
    labels_print(labels, t->width);
}

static int cmd_show(struct cli *t, const struct opts *o, struct err *err)
{
    struct found f;
    int rc = find_item(t, o->args[0], &f, err);
    if (rc != TRIAGE_CLI_OK) return rc;
    json_t *all = labels_load(t, NULL, NULL, err);
    if (all == NULL) {
        found_clear(&f);
        return TRIAGE_CLI_REDIS;
    }
    char key[CLI_CELL_BYTES];
    item_key(f.item, f.entry, key, sizeof(key));
    json_t *labels = json_object_get(all, key);
    if (t->json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "entry", json_string(f.entry));
        json_object_set(doc, "item", f.item ? f.item : json_null());
        if (f.item == NULL) {
            json_object_set_new(doc, "error", json_string(f.why));
            if (f.raw) json_object_set_new(doc, "raw", jstring_safe(f.raw, f.raw_len));
        }
        json_object_set_new(doc, "labels", labels ? json_incref(labels) : json_array());
        print_json(doc);
        json_decref(doc);
    } else {
        show_text(t, &f, labels);
    }
    json_decref(all);
    found_clear(&f);
    return TRIAGE_CLI_OK;
}

/* ---- label ---------------------------------------------------------------------------------- */

static int cmd_label(struct cli *t, const struct opts *o, struct err *err)
{
    const char *verdict = o->args[1];
    if (strcmp(verdict, "good") != 0 && strcmp(verdict, "bad") != 0) {
        err_set(err, "verdict %s: expected good or bad", verdict);
        return TRIAGE_CLI_USAGE;
    }
    const char *by = reviewer(o->as, err);
    if (by == NULL) return TRIAGE_CLI_USAGE;
    if (o->note && strlen(o->note) > CLI_NOTE_BYTES) {
        err_set(err, "--note: at most %d bytes", CLI_NOTE_BYTES);
        return TRIAGE_CLI_USAGE;
    }
    if (o->scorer && *o->scorer == '\0') {
        err_set(err, "--scorer: give a scorer's name");
        return TRIAGE_CLI_USAGE;
    }
    struct found f;
    int rc = find_item(t, o->args[0], &f, err);
    if (rc != TRIAGE_CLI_OK) return rc;
    json_t *flagged = item_flagged(f.item);
    struct buf names, scored;
    buf_init(&names, CLI_TEXT_BYTES);
    buf_init(&scored, CLI_TEXT_BYTES);
    join(flagged, ",", &names);
    const json_t *scores = json_object_get(f.item, "scores"), *s;
    size_t i;
    bool scored_by = false;
    json_array_foreach(scores, i, s)
    {
        if (scored.len) buf_append_some(&scored, ", ", 2);
        buf_append_some(&scored, jstr(s, "scorer"), strlen(jstr(s, "scorer")));
        scored_by = scored_by || (o->scorer && strcmp(jstr(s, "scorer"), o->scorer) == 0);
    }
    rc = TRIAGE_CLI_USAGE;
    if (o->scorer && json_array_size(scores) > 0 && !scored_by) {
        err_set(err, "--scorer %s did not score this item (%s did)", o->scorer, scored.data);
        goto out;
    }
    char ts[24];
    snprintf(ts, sizeof(ts), "%" PRId64, now_ms());
    const char *id = jstr(f.item, "id");
    const char *argv[19] = {"XADD",
                            TRIAGE_CLI_LABELS_STREAM,
                            "*",
                            "id",
                            id,
                            "entry",
                            f.entry,
                            "label",
                            verdict,
                            "scorer",
                            o->scorer ? o->scorer : "",
                            "note",
                            o->note ? o->note : "",
                            "by",
                            by,
                            "ts",
                            ts,
                            "flagged",
                            names.data};
    rc = TRIAGE_CLI_REDIS;
    redisReply *r = command(t, err, 19, argv);
    if (r == NULL) goto out;
    freeReplyObject(r);
    /* Stored first, acknowledged second: a failed XACK leaves the entry pending, and the next
     * claim drops it as labelled. */
    int acked = ack(t, f.entry, err);
    if (acked < 0) goto out;
    rc = TRIAGE_CLI_OK;
    if (t->json) {
        json_t *doc = json_pack(
            "{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:O, s:b}", "id", id, "entry", f.entry, "label",
            verdict, "scorer", o->scorer ? jstring_safe(o->scorer, strlen(o->scorer)) : json_null(),
            "note", o->note ? jstring_safe(o->note, strlen(o->note)) : json_null(), "by",
            jstring_safe(by, strlen(by)), "ts", (json_int_t)strtoll(ts, NULL, 10), "flagged",
            flagged, "acked", acked > 0);
        if (doc) print_json(doc);
        json_decref(doc);
    } else {
        printf("%s %s: %s%s%s by %s (%s)\n", *id ? "item" : "entry", *id ? id : f.entry, verdict,
               o->scorer ? " for " : "", o->scorer ? o->scorer : "", by,
               acked > 0 ? "taken off the queue" : "it was not pending in the group");
    }
out:
    buf_fini(&names);
    buf_fini(&scored);
    json_decref(flagged);
    found_clear(&f);
    return rc;
}

/* ---- export --------------------------------------------------------------------------------- */

struct export_ctx {
    FILE *f;
    const json_t *labels;
    bool labelled_only;
    json_t *seen;
    size_t n, n_labelled, n_malformed, n_duplicates;
};

static bool export_visit(const struct entry *e, void *arg)
{
    struct export_ctx *x = arg;
    char why[256], key[CLI_CELL_BYTES], when[48];
    json_t *item = item_load(e, why, sizeof(why));
    if (item == NULL) {
        x->n_malformed += e->fields != NULL;
        return true;
    }
    item_key(item, e->id, key, sizeof(key));
    if (json_object_get(x->seen, key)) { /* at-least-once delivery: the first copy stands */
        x->n_duplicates++;
        json_decref(item);
        return true;
    }
    json_object_set_new(x->seen, key, json_true());
    const json_t *labels = json_object_get(x->labels, key);
    if (labels == NULL && x->labelled_only) {
        json_decref(item);
        return true;
    }
    json_t *flagged = item_flagged(item);
    json_t *line = json_object();
    static const char *const keys[] = {"id", "route", "upstream", "status", "ts"};
    json_object_set_new(line, "entry", json_string(e->id));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(item, keys[i]);
        if (v != NULL) json_object_set(line, keys[i], v);
    }
    fmt_time(item_ms(item, e->ms), true, when, sizeof(when));
    json_object_set_new(line, "time", json_string(when));
    json_object_set_new(line, "model",
                        *item_model(item) ? json_string(item_model(item)) : json_null());
    json_t *v = json_object_get(item, "request");
    json_object_set(line, "prompt", v ? v : json_null());
    v = json_object_get(item, "response_text");
    json_object_set(line, "response", v ? v : json_null());
    v = json_object_get(item, "scores");
    json_object_set_new(line, "scores", json_is_array(v) ? json_incref(v) : json_array());
    json_object_set_new(line, "flagged", json_incref(flagged));
    json_object_set_new(line, "labels", labels ? json_incref((json_t *)labels) : json_array());
    json_object_set_new(line, "human", verdicts_of(labels, flagged));
    json_dumpf(line, x->f, JSON_COMPACT);
    fputc('\n', x->f);
    x->n++;
    x->n_labelled += labels != NULL;
    json_decref(line);
    json_decref(flagged);
    json_decref(item);
    return true;
}

static int cmd_export(struct cli *t, const struct opts *o, struct err *err)
{
    if (o->out == NULL || *o->out == '\0') {
        err_set(err, "--out FILE is required (- for stdout)");
        return TRIAGE_CLI_USAGE;
    }
    struct export_ctx x = {.labelled_only = o->labelled_only};
    json_t *labels = labels_load(t, NULL, NULL, err);
    if (labels == NULL) return TRIAGE_CLI_REDIS;
    x.labels = labels;
    x.seen = json_object();
    bool to_stdout = strcmp(o->out, "-") == 0;
    char *tmp = NULL;
    int rc = TRIAGE_CLI_IO;
    x.f = stdout;
    if (!to_stdout) { /* written aside, renamed when complete: never half a dataset */
        size_t n = strlen(o->out) + 32;
        tmp = xmalloc(n);
        snprintf(tmp, n, "%s.tmp.%d", o->out, (int)getpid());
        if ((x.f = fopen(tmp, "w")) == NULL) {
            err_set(err, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
    }
    if (scan(t, t->stream, false, 0, export_visit, &x, err) < 0) {
        rc = TRIAGE_CLI_REDIS;
        goto out;
    }
    if (!to_stdout) {
        bool bad = ferror(x.f) != 0;
        bad = fclose(x.f) != 0 || bad;
        x.f = NULL;
        if (bad || rename(tmp, o->out) != 0) {
            err_set(err, "cannot write %s: %s", o->out, strerror(errno));
            goto out;
        }
        free(tmp);
        tmp = NULL;
    }
    rc = TRIAGE_CLI_OK;
    FILE *report = to_stdout ? stderr : stdout;
    if (t->json && !to_stdout) {
        json_t *doc =
            json_pack("{s:o, s:I, s:I, s:I, s:I}", "out", jstring_safe(o->out, strlen(o->out)),
                      "items", (json_int_t)x.n, "labelled", (json_int_t)x.n_labelled, "malformed",
                      (json_int_t)x.n_malformed, "duplicates", (json_int_t)x.n_duplicates);
        if (doc) print_json(doc);
        json_decref(doc);
    } else {
        fprintf(report,
                "exported %zu item%s (%zu labelled) to %s; skipped %zu malformed, %zu "
                "duplicate%s\n",
                x.n, x.n == 1 ? "" : "s", x.n_labelled, to_stdout ? "stdout" : o->out,
                x.n_malformed, x.n_duplicates, x.n_duplicates == 1 ? "" : "s");
    }
    if (x.n == 0) {
        err_set(err, "nothing to export from %s%s", t->stream,
                o->labelled_only ? " (no labelled item)" : "");
        rc = TRIAGE_CLI_NOTHING;
    }
out:
    if (x.f != NULL && x.f != stdout) fclose(x.f);
    if (tmp != NULL) unlink(tmp);
    free(tmp);
    json_decref(x.seen);
    json_decref(labels);
    return rc;
}

/* ---- stats ---------------------------------------------------------------------------------- */

struct tally {
    char *scorer;
    uint64_t labelled, bad, good, missed;
};

static struct tally *tally_get(struct tally **v, size_t *n, const char *scorer)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*v)[i].scorer, scorer) == 0) return &(*v)[i];
    }
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n] = (struct tally){.scorer = xstrdup(scorer)};
    return &(*v)[(*n)++];
}

static int tally_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tally *)a)->scorer, ((const struct tally *)b)->scorer);
}

/* Finds, for the labels that do not say what was flagged, what their item's scorers flagged. */
static bool need_visit(const struct entry *e, void *arg)
{
    json_t *need = arg;
    char why[256], key[CLI_CELL_BYTES];
    json_t *item = item_load(e, why, sizeof(why));
    item_key(item, e->id, key, sizeof(key));
    if (json_is_null(json_object_get(need, key)))
        json_object_set_new(need, key, item ? item_flagged(item) : json_array());
    json_decref(item);
    return true;
}

static const char *stats_rule =
    "precision = items a scorer flagged that a person labelled bad / items it flagged that a "
    "person labelled";

static int cmd_stats(struct cli *t, const struct opts *o, struct err *err)
{
    (void)o;
    size_t n_labels = 0, n_reviewers = 0, n_items = 0, n_unknown = 0, n_tallies = 0;
    struct tally *tallies = NULL;
    json_t *labels = labels_load(t, &n_labels, &n_reviewers, err);
    if (labels == NULL) return TRIAGE_CLI_REDIS;
    json_t *need = json_object();
    const char *key;
    json_t *list;
    int rc = TRIAGE_CLI_REDIS;
    json_object_foreach(labels, key, list)
    {
        const json_t *last = json_array_get(list, json_array_size(list) - 1);
        if (!json_is_array(json_object_get(last, "flagged")))
            json_object_set_new(need, key, json_null());
    }
    if (json_object_size(need) > 0 && scan(t, t->stream, false, 0, need_visit, need, err) < 0)
        goto out;
    json_object_foreach(labels, key, list)
    {
        const json_t *last = json_array_get(list, json_array_size(list) - 1);
        const json_t *flagged = json_object_get(last, "flagged");
        if (!json_is_array(flagged)) flagged = json_object_get(need, key);
        if (!json_is_array(flagged)) {
            n_unknown++;
            continue;
        }
        n_items++;
        json_t *verdicts = verdicts_of(list, flagged), *verdict;
        const char *scorer;
        json_object_foreach(verdicts, scorer, verdict)
        {
            bool bad = strcmp(json_string_value(verdict), "bad") == 0;
            if (has_string(flagged, scorer)) {
                struct tally *x = tally_get(&tallies, &n_tallies, scorer);
                x->labelled++;
                *(bad ? &x->bad : &x->good) += 1;
            } else if (bad) {
                tally_get(&tallies, &n_tallies, scorer)->missed++;
            }
        }
        json_decref(verdicts);
    }
    if (n_tallies > 0) qsort(tallies, n_tallies, sizeof(*tallies), tally_cmp);
    rc = TRIAGE_CLI_OK;
    if (t->json) {
        json_t *rows = json_array();
        for (size_t i = 0; i < n_tallies; i++) {
            const struct tally *x = &tallies[i];
            struct sigma_interval ci = sigma_wilson(x->bad, x->labelled, 0.95);
            json_array_append_new(
                rows, json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:I}", "scorer", x->scorer,
                                "labelled", (json_int_t)x->labelled, "bad", (json_int_t)x->bad,
                                "good", (json_int_t)x->good, "precision",
                                x->labelled ? json_real((double)x->bad / (double)x->labelled)
                                            : json_null(),
                                "precision_95",
                                x->labelled ? json_pack("[f, f]", ci.lo, ci.hi) : json_null(),
                                "missed", (json_int_t)x->missed));
        }
        json_t *doc =
            json_pack("{s:I, s:I, s:I, s:I, s:s, s:o}", "labels", (json_int_t)n_labels, "items",
                      (json_int_t)n_items, "reviewers", (json_int_t)n_reviewers, "items_unknown",
                      (json_int_t)n_unknown, "rule", stats_rule, "scorers", rows);
        if (doc) print_json(doc);
        json_decref(doc);
    } else if (n_labels > 0) {
        printf("%zu label%s on %zu item%s by %zu reviewer%s (the rule: sigmaproxy triage stats "
               "--help)\n",
               n_labels, n_labels == 1 ? "" : "s", n_items, n_items == 1 ? "" : "s", n_reviewers,
               n_reviewers == 1 ? "" : "s");
        struct table tb = {
            .n_cols = 7,
            .head = {"SCORER", "LABELLED", "BAD", "GOOD", "PRECISION", "95% INTERVAL", "MISSED"},
            .min_cols = {8, 0, 0, 0, 0, 0, 0},
            .right = {false, true, true, true, true, false, true}};
        for (size_t i = 0; i < n_tallies; i++) {
            const struct tally *x = &tallies[i];
            char nums[4][24], prec[24] = "-", ci_text[48] = "-";
            if (x->labelled > 0) {
                struct sigma_interval ci = sigma_wilson(x->bad, x->labelled, 0.95);
                snprintf(prec, sizeof(prec), "%.3f", (double)x->bad / (double)x->labelled);
                snprintf(ci_text, sizeof(ci_text), "[%.3f, %.3f]", ci.lo, ci.hi);
            }
            snprintf(nums[0], sizeof(nums[0]), "%" PRIu64, x->labelled);
            snprintf(nums[1], sizeof(nums[1]), "%" PRIu64, x->bad);
            snprintf(nums[2], sizeof(nums[2]), "%" PRIu64, x->good);
            snprintf(nums[3], sizeof(nums[3]), "%" PRIu64, x->missed);
            const char *cells[7] = {x->scorer, nums[0], nums[1], nums[2], prec, ci_text, nums[3]};
            table_add(&tb, cells);
        }
        table_print(&tb, stdout, t->width);
        table_fini(&tb);
        if (n_unknown > 0)
            printf("%zu labelled item%s left out: no longer in %s, and the label does not say "
                   "what was flagged.\n",
                   n_unknown, n_unknown == 1 ? "" : "s", t->stream);
    }
    if (n_labels == 0) {
        err_set(err, "no labels yet in %s", TRIAGE_CLI_LABELS_STREAM);
        rc = TRIAGE_CLI_NOTHING;
    }
out:
    for (size_t i = 0; i < n_tallies; i++)
        free(tallies[i].scorer);
    free(tallies);
    json_decref(need);
    json_decref(labels);
    return rc;
}

/* ---- Command line ---------------------------------------------------------------------------- */

enum {
    CMD_LIST = 1 << 0,
    CMD_SHOW = 1 << 1,
    CMD_CLAIM = 1 << 2,
    CMD_LABEL = 1 << 3,
    CMD_EXPORT = 1 << 4,
    CMD_STATS = 1 << 5,
    CMD_HELP = 1 << 6,
    CMD_ANY = (1 << 7) - 1,
};

struct optdef {
    const char *name;
    unsigned cmds; /* the commands that take it */
    size_t offset; /* of its field in struct opts */
    bool is_flag;  /* a bool without a value; else a string */
};

#define STR(f)  offsetof(struct opts, f), false
#define FLAG(f) offsetof(struct opts, f), true
static const struct optdef optdefs[] = {
    {"--redis", CMD_ANY, STR(redis)},
    {"--stream", CMD_ANY, STR(stream)},
    {"--group", CMD_ANY, STR(group)},
    {"--json", CMD_ANY, FLAG(json)},
    {"--help", CMD_ANY, FLAG(help)},
    {"--scorer", CMD_LIST | CMD_LABEL, STR(scorer)},
    {"--model", CMD_LIST, STR(model)},
    {"--route", CMD_LIST, STR(route)},
    {"--since", CMD_LIST, STR(since)},
    {"--limit", CMD_LIST, STR(limit)},
    {"--count", CMD_CLAIM, STR(count)},
    {"--as", CMD_CLAIM | CMD_LABEL, STR(as)},
    {"--note", CMD_LABEL, STR(note)},
    {"--out", CMD_EXPORT, STR(out)},
    {"--labelled-only", CMD_EXPORT, FLAG(labelled_only)},
};
#undef STR
#undef FLAG

struct command {
    const char *name;
    unsigned bit;
    int min_args, max_args;
    int (*run)(struct cli *t, const struct opts *o, struct err *err);
    const char *synopsis; /* after "sigmaproxy triage [OPTIONS] " */
    const char *help;
    const char *nothing; /* what exit status 1 means for it */
};

static const struct command commands[] = {
    {"list", CMD_LIST, 0, 0, cmd_list,
     "list [--scorer S] [--model M] [--route R] [--since DURATION|TIME] [--limit N]",
     "Flagged items, newest first (in the order they reached Redis); a request id delivered twice\n"
     "is listed once. Columns: request id, time (UTC), route, model, HTTP status, the scorers\n"
     "that flagged it; long values are cut to the terminal ($COLUMNS, else its width, else 100).\n"
     "An item that is not readable JSON is listed as such, under its entry id.\n"
     "\n"
     "  --scorer S     only items that scorer S flagged\n"
     "  --model M      only this model (a shell pattern: 'gpt-4o*')\n"
     "  --route R      only this route or upstream (a shell pattern)\n"
     "  --since X      only items flagged since X: a duration back from now (90s, 30m, 2h, 7d,\n"
     "                 1h30m) or a time (2026-11-29, 2026-11-29T10:16:00Z; UTC unless a zone is\n"
     "                 given)\n"
     "  --limit N      at most N items (default 50; 0: all)\n"
     "  --json         a JSON array of {entry, id, time, route, upstream, model, status, ...,\n"
     "                 flagged}; an unreadable item is {entry, time, error}\n",
     "no item matches (the stream is empty, or the filters leave nothing)"},
    {"show", CMD_SHOW, 1, 1, cmd_show, "show ID",
     "One item in full: when, route, model, status, timings; each defect with its score and\n"
     "detail, the other scores; the request's last user message; the response text, wrapped; the\n"
     "labels given so far. An item that is not readable JSON is shown raw, with the reason.\n"
     "\n"
     "ID is the request id (the item's \"id\"; a unique prefix of 4 or more characters will do)\n"
     "or the stream entry id (1764411360123-0).\n"
     "  --json         {entry, item, labels} (with error and raw for an unreadable item)\n",
     "no item with that ID"},
    {"claim", CMD_CLAIM, 0, 0, cmd_claim, "claim [--count N] [--as NAME]",
     "Takes items to review through the Redis consumer group (created when missing, from the\n"
     "start of the stream): each item goes to one reviewer only, so several reviewers split the\n"
     "queue without overlap. Lists first the items NAME claimed before and has not labelled yet,\n"
     "then new ones, up to N in all. An item already labelled (a duplicate delivery) or trimmed\n"
     "from the stream is acknowledged and skipped. `label` takes an item off the queue.\n"
     "\n"
     "  --count N      at most N items (default 10, at most 1000)\n"
     "  --as NAME      the reviewer (default: $SIGMAPROXY_REVIEWER, else $USER)\n"
     "  --group NAME   the consumer group (default: reviewers)\n"
     "  --json         a JSON array of list's rows, each with \"new\": false when claimed "
     "earlier\n",
     "nothing to claim"},
    {"label", CMD_LABEL, 2, 2, cmd_label,
     "label ID good|bad [--scorer S] [--note TEXT] [--as NAME]",
     "Records a person's verdict on an item and takes it off the queue: appends an entry to the\n"
     "stream " TRIAGE_CLI_LABELS_STREAM " (fields id, entry, label, scorer, note, by, ts in Unix\n"
     "ms, and flagged: the scorers that flagged the item, comma-separated), then acknowledges\n"
     "the item's entry in the consumer group. bad: the item really is defective; good: a false\n"
     "alarm. Labelling again adds a label; the latest one counts (see stats --help).\n"
     "\n"
     "  --scorer S     the verdict is on scorer S's flag alone (S must have scored the item);\n"
     "                 without it, on every scorer that flagged the item\n"
     "  --note TEXT    a short comment (at most 4096 bytes)\n"
     "  --as NAME      the reviewer (default: $SIGMAPROXY_REVIEWER, else $USER)\n"
     "  --json         the label stored, with \"acked\"\n",
     "no item with that ID"},
    {"export", CMD_EXPORT, 0, 0, cmd_export, "export --out FILE.jsonl [--labelled-only]",
     "Writes an evaluation dataset, one JSON object per line, oldest first, each request id once:\n"
     "  {entry, id, route, upstream, status, ts, time, model, prompt (the request body),\n"
     "   response (the response text), scores (every scorer's verdict), flagged (the scorers\n"
     "   that flagged it), labels (the human labels, oldest first), human (the verdict per\n"
     "   scorer by the rule of stats --help)}\n"
     "Items that are not readable JSON are skipped and counted. The file is written aside and\n"
     "renamed when complete.\n"
     "\n"
     "  --out FILE     where to write (- for stdout; the summary then goes to stderr)\n"
     "  --labelled-only  only items with at least one label\n",
     "nothing to export"},
    {"stats", CMD_STATS, 0, 0, cmd_stats, "stats",
     "How far each scorer's flags agree with the people who reviewed them, from the "
     "stream\n" TRIAGE_CLI_LABELS_STREAM
     ". Per scorer: items labelled (among those it flagged), labelled\n"
     "bad, labelled good, precision = bad / labelled with its 95% Wilson interval, and missed:\n"
     "items labelled bad for that scorer (label --scorer) although it did not flag them.\n"
     "\n"
     "The rule: a label given with --scorer S is a verdict on S alone; a label without --scorer "
     "is\n"
     "a verdict on every scorer that flagged the item. For each item and scorer the latest label\n"
     "naming that scorer counts, else the latest label naming none. A request id delivered twice\n"
     "counts once. What was flagged is taken from the label (recorded when labelling), else from\n"
     "the item if it is still in the stream; otherwise the item is left out and counted.\n"
     "\n"
     "  --json         {labels, items, reviewers, items_unknown, rule, scorers: [{scorer,\n"
     "                 labelled, bad, good, precision, precision_95: [lo, hi], missed}]}\n",
     "no labels yet"},
    {"help", CMD_HELP, 0, 1, NULL, "help [COMMAND]", "Prints this help, or one command's.\n", "-"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *options_help =
    "OPTIONS (before or after the command):\n"
    "  --redis URL    redis://[[user]:password@]host[:port][/db]\n"
    "                 (default: $SIGMAPROXY_REDIS, else " CLI_REDIS_URL ")\n"
    "  --stream NAME  the stream of flagged items\n"
    "                 (default: $SIGMAPROXY_TRIAGE_STREAM, else " CLI_STREAM ")\n"
    "  --group NAME   the reviewers' consumer group, for claim and label (default: " CLI_GROUP ")\n"
    "  --json         one JSON document on stdout instead of text\n"
    "  -h, --help     this text; `sigmaproxy triage COMMAND --help` for one command\n";

static void print_help(const struct command *cmd)
{
    if (cmd != NULL && cmd->run != NULL) {
        printf("Usage: sigmaproxy triage [OPTIONS] %s\n\n%s\n%s\n"
               "Exit status:\n  0  done\n  1  %s\n  2  usage error\n"
               "  3  Redis unreachable, or it answered with an error\n%s",
               cmd->synopsis, cmd->help, options_help, cmd->nothing,
               cmd->bit == CMD_EXPORT ? "  4  the file cannot be written\n" : "");
        return;
    }
    printf("Usage: sigmaproxy triage [--redis URL] [--stream NAME] [--group NAME] [--json] "
           "COMMAND [ARG...]\n\n"
           "Reviews what sigmaproxy flagged: the items of the Redis stream " CLI_STREAM ",\n"
           "and the people's verdicts on them, kept in the stream " TRIAGE_CLI_LABELS_STREAM ".\n\n"
           "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %s\n", commands[i].synopsis);
    printf("\nID is a request id (the item's \"id\", or a unique prefix of 4 or more characters) "
           "or a\nstream entry id (1764411360123-0).\n\n%s\n"
           "Exit status:\n"
           "  0  done\n"
           "  1  nothing found: unknown ID, no item matches, nothing to claim, export or count\n"
           "  2  usage error (the message names the argument)\n"
           "  3  Redis unreachable, or it answered with an error\n"
           "  4  the output could not be written (export file, stdout)\n",
           options_help);
}

static const struct command *command_find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    }
    return NULL;
}

/* Fills o and *cmd from argv (argv[0] is "triage"). Options may come before or after the
 * command, as "--name VALUE" or "--name=VALUE"; "--" ends them. */
static int parse_args(int argc, char **argv, struct opts *o, const struct command **cmd,
                      struct err *err)
{
    const struct optdef *seen[64];
    size_t n_seen = 0;
    bool options = true;
    *cmd = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && strcmp(a, "--") == 0) {
            options = false;
            continue;
        }
        if (options && a[0] == '-' && a[1] != '\0') {
            const char *value = NULL;
            size_t len = strlen(a);
            if (strcmp(a, "-h") == 0) a = "--help", len = 6;
            const char *eq = strchr(a, '=');
            if (eq != NULL) len = (size_t)(eq - a), value = eq + 1;
            const struct optdef *d = NULL;
            for (size_t k = 0; d == NULL && k < sizeof(optdefs) / sizeof(optdefs[0]); k++) {
                if (strlen(optdefs[k].name) == len && strncmp(optdefs[k].name, a, len) == 0)
                    d = &optdefs[k];
            }
            if (d == NULL) {
                err_set(err, "unknown option %.*s", (int)len, a);
                return TRIAGE_CLI_USAGE;
            }
            if (d->is_flag && value != NULL) {
                err_set(err, "%s takes no value", d->name);
                return TRIAGE_CLI_USAGE;
            }
            if (!d->is_flag && value == NULL) {
                if (i + 1 >= argc) {
                    err_set(err, "%s needs a value", d->name);
                    return TRIAGE_CLI_USAGE;
                }
                value = argv[++i];
            }
            if (d->is_flag)
                *(bool *)((char *)o + d->offset) = true;
            else
                *(const char **)((char *)o + d->offset) = value;
            if (n_seen == sizeof(seen) / sizeof(seen[0])) {
                err_set(err, "too many options");
                return TRIAGE_CLI_USAGE;
            }
            seen[n_seen++] = d;
        } else if (*cmd == NULL) {
            if ((*cmd = command_find(a)) == NULL) {
                err_set(err, "unknown command %s (list, show, claim, label, export, stats, help)",
                        a);
                return TRIAGE_CLI_USAGE;
            }
        } else if (o->n_args < (int)(sizeof(o->args) / sizeof(o->args[0]))) {
            o->args[o->n_args++] = a;
        } else {
            err_set(err, "unexpected argument %s", a);
            return TRIAGE_CLI_USAGE;
        }
    }
    if (o->help) return TRIAGE_CLI_OK;
    if (*cmd == NULL) {
        err_set(err, "missing command: list, show, claim, label, export, stats or help");
        return TRIAGE_CLI_USAGE;
    }
    for (size_t k = 0; k < n_seen; k++) {
        if (!(seen[k]->cmds & (*cmd)->bit)) {
            err_set(err, "%s takes no %s option", (*cmd)->name, seen[k]->name);
            return TRIAGE_CLI_USAGE;
        }
    }
    if (o->n_args < (*cmd)->min_args || o->n_args > (*cmd)->max_args) {
        if (o->n_args > (*cmd)->max_args)
            err_set(err, "unexpected argument %s", o->args[(*cmd)->max_args]);
        else
            err_set(err, "missing argument: %s", (*cmd)->synopsis);
        return TRIAGE_CLI_USAGE;
    }
    return TRIAGE_CLI_OK;
}

int triage_cli_main(int argc, char **argv)
{
    struct opts o = {0};
    struct err err = {{0}};
    const struct command *cmd = NULL;
    struct cli t = {.stream = CLI_STREAM, .group = CLI_GROUP};
    int rc = parse_args(argc, argv, &o, &cmd, &err);
    if (rc == TRIAGE_CLI_OK && (o.help || cmd->run == NULL)) {
        const struct command *topic = cmd;
        if (cmd != NULL && cmd->run == NULL && o.n_args == 1 &&
            (topic = command_find(o.args[0])) == NULL) {
            err_set(&err, "help: unknown command %s", o.args[0]);
            rc = TRIAGE_CLI_USAGE;
        } else {
            print_help(topic);
            return fflush(stdout) == 0 ? TRIAGE_CLI_OK : TRIAGE_CLI_IO;
        }
    }
    if (rc == TRIAGE_CLI_OK) {
        const char *url = o.redis ? o.redis : getenv("SIGMAPROXY_REDIS");
        if (url == NULL) url = CLI_REDIS_URL;
        if (*url == '\0') {
            err_set(&err, "Redis is turned off (an empty %s): give --redis URL",
                    o.redis ? "--redis" : "SIGMAPROXY_REDIS");
            rc = TRIAGE_CLI_USAGE;
        } else if (redis_url_parse(url, &t.url, &err) < 0) {
            rc = TRIAGE_CLI_USAGE;
        } else if ((o.stream && *o.stream == '\0') || (o.group && *o.group == '\0')) {
            err_set(&err, "%s: give a name",
                    o.stream && *o.stream == '\0' ? "--stream" : "--group");
            rc = TRIAGE_CLI_USAGE;
        }
    }
    if (rc == TRIAGE_CLI_OK) {
        const char *stream = getenv("SIGMAPROXY_TRIAGE_STREAM"); /* the writer's setting */
        if (o.stream)
            t.stream = o.stream;
        else if (stream != NULL && *stream != '\0')
            t.stream = stream;
        if (o.group) t.group = o.group;
        t.json = o.json;
        t.width = term_width();
        rc = cmd->run(&t, &o, &err);
        if (t.c != NULL) redisFree(t.c);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            err_set(&err, "cannot write to stdout: %s", strerror(errno));
            rc = TRIAGE_CLI_IO;
        }
    }
    if (rc != TRIAGE_CLI_OK && err.msg[0] != '\0') {
        const char *name = cmd && cmd->run ? cmd->name : NULL;
        fprintf(stderr, "sigmaproxy triage%s%s: %s%s%s%s\n", name ? " " : "", name ? name : "",
                err.msg, rc == TRIAGE_CLI_USAGE ? " (see sigmaproxy triage " : "",
                rc == TRIAGE_CLI_USAGE && name ? name : "",
                rc == TRIAGE_CLI_USAGE ? (name ? " --help)" : "--help)") : "");
    }
    return rc;
}
