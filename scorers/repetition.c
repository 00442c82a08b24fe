/* repetition: the model looped. Runs on the evaluator thread; linear in the text (hashing).
 *
 * Three signals, any one a defect:
 * - n-grams: words are runs of letters and digits (ASCII lower-cased; any non-ASCII byte is a
 *   letter), hashed; the ratio of repeated word n-gram occurrences (every occurrence after the
 *   first) over all n-grams. Prose scores ~0-0.1, a loop ~0.8 and more. Counted only when the
 *   text has min_words words. Fenced code blocks and markdown table rows are left out (their
 *   rows repeat cells by design); for a reply that is JSON (starts with { or [) only the words
 *   of distinct string values count: not keys, numbers, or a value repeated across records.
 * - lines: the same line (trimmed; min_line_chars or longer; outside code fences and tables;
 *   not in JSON replies, whose pretty-printed lines repeat by design) line_repeats times or more.
 * - tail: the text ends in a unit of 1-64 bytes containing a letter or digit repeated to cover
 *   tail_bytes or more (at least 4 times): loops without spaces ("hahaha...", CJK text, "0, 0,")
 *   that word n-grams cannot see.
 * params: n (4, 2-16), threshold (0.5), min_words (50), line_repeats (3; 0 = off),
 * min_line_chars (20), tail_bytes (256; 0 = off). Word and n-gram hashes are 64-bit FNV-1a
 * (n-gram collisions are ignored: at 2^-64 per pair they do not move the ratio); lines are hashed
 * 8 bytes at a time and compared byte by byte.
 * Not applicable for error statuses or blank text. Known misses: a JSON array repeating one
 * string value (deduplicated as structure); and the other way, a song or poem whose chorus
 * repeats a long line 3 times is flagged (raise line_repeats for such routes).
 * score: the largest of the n-gram ratio, the share of the text taken by the repeated line, and
 * the share taken by the tail loop (0..1). */
#include "scorers/scorer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "scorers/params.h"

#define REPETITION_MAX_WORDS  200000 /* words past this are not counted */
#define REPETITION_MAX_PERIOD 64
#define REPETITION_TAIL_SCAN  65536 /* a tail loop longer than this is reported as this long */
#define REPETITION_EXCERPT    40
#define FNV_OFFSET            14695981039346656037ULL
#define FNV_PRIME             1099511628211ULL

struct repetition {
    int n;
    double threshold;
    int min_words;
    int line_repeats;
    int min_line_chars;
    int tail_bytes;
};

struct word {
    uint64_t hash;
    uint32_t start, end; /* byte range in the text */
};

struct words {
    struct word *v;
    size_t n, cap;
};

/* A hash-table slot: an n-gram (first = its first word) or a line (start, len). */
struct slot {
    uint64_t hash;
    uint32_t start, len;
    uint32_t count; /* 0: free */
};

struct int_param {
    const char *name;
    int *dst;
    int min, max;
    bool zero_ok;
};

static int setup(void **state, const json_t *params, struct err *err)
{
    struct repetition p = {.n = 4,
                           .threshold = 0.5,
                           .min_words = 50,
                           .line_repeats = 3,
                           .min_line_chars = 20,
                           .tail_bytes = 256};
    static const char *const known[] = {
        "n", "threshold", "min_words", "line_repeats", "min_line_chars", "tail_bytes", NULL};
    struct int_param ints[] = {
        {"n", &p.n, 2, 16, false},
        {"min_words", &p.min_words, 1, 1000000, false},
        {"line_repeats", &p.line_repeats, 2, 1000000, true},
        {"min_line_chars", &p.min_line_chars, 1, 100000, false},
        {"tail_bytes", &p.tail_bytes, 16, REPETITION_TAIL_SCAN, true},
    };
    if (params_check(params, "repetition", known, err) < 0 ||
        params_number(params, "repetition", "threshold", PARAMS_ABOVE_ZERO, 1,
                      "a ratio above 0, at most 1", &p.threshold, err) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        json_int_t x = *ints[i].dst;
        if (params_int(params, "repetition", ints[i].name, ints[i].min, ints[i].max,
                       ints[i].zero_ok, &x, err) < 0)
            return -1;
        *ints[i].dst = (int)x;
    }
    struct repetition *s = xmalloc(sizeof(*s));
    *s = p;
    *state = s;
    return 0;
}

static void teardown(void *state)
{
    free(state);
}

static bool is_word_byte(unsigned char c)
{
    /* One bit per byte: 0-9, A-Z, a-z and 0x80-0xff. */
    static const uint64_t word_bytes[4] = {0x03ff000000000000, 0x07fffffe07fffffe,
                                           0xffffffffffffffff, 0xffffffffffffffff};
    return (word_bytes[c >> 6] >> (c & 63)) & 1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Appends the words of t[from, to). With escapes, a backslash and what it escapes (\n, \u00e9)
 * separate words, as inside a JSON string. */
static void add_words(struct words *w, const char *t, size_t from, size_t to, bool escapes)
{
    size_t i = from;
    while (i < to && w->n < REPETITION_MAX_WORDS) {
        if (escapes && t[i] == '\\') {
            i += i + 1 < to && t[i + 1] == 'u' ? 6 : 2;
            continue;
        }
        if (!is_word_byte((unsigned char)t[i])) {
            i++;
            continue;
        }
        size_t start = i;
        uint64_t h = FNV_OFFSET;
        for (; i < to && is_word_byte((unsigned char)t[i]); i++) {
            unsigned char c = (unsigned char)t[i];
            h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * FNV_PRIME;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 256;
            w->v = xrealloc(w->v, w->cap * sizeof(*w->v));
        }
        w->v[w->n++] = (struct word){h, (uint32_t)start, (uint32_t)i};
    }
}

static size_t table_size(size_t n)
{
    size_t size = 64;
    while (size < 2 * n)
        size *= 2;
    return size;
}

/* Finds or adds the slot for (hash, t[start, start+len)); lines compare bytes, n-grams do not. */
static struct slot *table_get(struct slot *table, size_t mask, uint64_t hash, const char *t,
                              uint32_t start, uint32_t len, bool compare)
{
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct slot *s = &table[i];
        if (s->count == 0) {
            *s = (struct slot){hash, start, len, 0};
            return s;
        }
        if (s->hash == hash &&
            (!compare || (s->len == len && memcmp(t + s->start, t + start, len) == 0)))
            return s;
    }
}

/* The words of string values in a JSON text: keys are skipped, and a value seen before adds
 * nothing (records repeat their keys and many values by design; a loop inside one value
 * still shows). */
static void add_json_words(struct words *w, const char *t, size_t len)
{
    size_t n_quotes = 0;
    for (size_t i = 0; i < len; i++)
        n_quotes += t[i] == '"';
    size_t mask = table_size(n_quotes / 2 + 1) - 1;
    struct slot *seen = xcalloc(mask + 1, sizeof(*seen));
    for (size_t i = 0; i < len; i++) {
        if (t[i] != '"') continue;
        size_t j = i + 1;
        while (j < len && t[j] != '"')
            j += t[j] == '\\' ? 2 : 1;
        if (j > len) j = len;
        size_t k = j + 1;
        while (k < len && is_space(t[k]))
            k++;
        if (k >= len || t[k] != ':') {
            uint64_t h = FNV_OFFSET;
            for (size_t c = i + 1; c < j; c++)
                h = (h ^ (unsigned char)t[c]) * FNV_PRIME;
            struct slot *s =
                table_get(seen, mask, h, t, (uint32_t)(i + 1), (uint32_t)(j - i - 1), true);
            if (s->count++ == 0) add_words(w, t, i + 1, j, true);
        }
        i = j;
    }
    free(seen);
}

/* Copies t[start, end) for a detail: at most REPETITION_EXCERPT bytes, whole UTF-8 characters,
 * control characters and quotes replaced. */
static const char *excerpt(const char *t, size_t start, size_t end, char *buf)
{
    while (start < end && ((unsigned char)t[start] & 0xC0) == 0x80)
        start++;
    size_t n = end - start, cut = n > REPETITION_EXCERPT ? REPETITION_EXCERPT : n, o = 0;
    while (cut > 0 && cut < n && ((unsigned char)t[start + cut] & 0xC0) == 0x80)
        cut--;
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)t[start + i];
        buf[o++] = c < 0x20 || c == '"' ? ' ' : (char)c;
    }
    if (cut < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* The n-gram ratio; *top is the most repeated n-gram's first word and *top_count its count. */
static double ngram_ratio(const struct words *w, int n, size_t *top, uint32_t *top_count)
{
    size_t n_grams = w->n - (size_t)n + 1, distinct = 0, mask = table_size(n_grams) - 1;
    struct slot *table = xcalloc(mask + 1, sizeof(*table));
    *top_count = 0;
    for (size_t i = 0; i < n_grams; i++) {
        uint64_t h = FNV_OFFSET;
        for (int k = 0; k < n; k++)
            h = (h ^ w->v[i + (size_t)k].hash) * FNV_PRIME;
        /* table_get() without the byte comparison, inline: this loop is the hot one. */
        size_t at = h & mask;
        while (table[at].count != 0 && table[at].hash != h)
            at = (at + 1) & mask;
        struct slot *s = &table[at];
        if (s->count == 0) *s = (struct slot){h, (uint32_t)i, 0, 0};
        distinct += s->count == 0;
        if (++s->count > *top_count) {
            *top_count = s->count;
            *top = s->start;
        }
    }
    free(table);
    return (double)(n_grams - distinct) / (double)n_grams;
}

/* A line's hash, 8 bytes at a time (lines are compared byte by byte: it only spreads them). */
static uint64_t line_hash(const char *s, size_t n)
{
    uint64_t h = FNV_OFFSET ^ n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
    return h ^ h >> 32;
}

/* The most repeated qualifying line: returns its count and its range (*start, *line_len). */
static uint32_t top_line(const struct repetition *p, const char *t, size_t len, uint32_t *start,
                         uint32_t *line_len)
{
    size_t n_lines = 1;
    for (const char *nl = memchr(t, '\n', len); nl;
         nl = memchr(nl + 1, '\n', len - (size_t)(nl + 1 - t)))
        n_lines++;
    size_t mask = table_size(n_lines) - 1;
    struct slot *table = xcalloc(mask + 1, sizeof(*table));
    uint32_t best = 0;
    bool in_fence = false;
    for (size_t ls = 0; ls < len;) {
        const char *nl = memchr(t + ls, '\n', len - ls);
        size_t le = nl ? (size_t)(nl - t) : len, b = ls, e = le;
        ls = le + 1;
        while (b < e && is_space(t[b]))
            b++;
        while (e > b && is_space(t[e - 1]))
            e--;
        if (e - b >= 3 && (memcmp(t + b, "```", 3) == 0 || memcmp(t + b, "~~~", 3) == 0)) {
            in_fence = !in_fence;
            continue;
        }
        if (in_fence || (e > b && t[b] == '|') || e - b < (size_t)p->min_line_chars) continue;
        bool has_word = false;
        for (size_t i = b; i < e && !has_word; i++)
            has_word = is_word_byte((unsigned char)t[i]);
        if (!has_word) continue;
        struct slot *s = table_get(table, mask, line_hash(t + b, e - b), t, (uint32_t)b,
                                   (uint32_t)(e - b), true);
        if (++s->count > best) {
            best = s->count;
            *start = s->start;
            *line_len = s->len;
        }
    }
    free(table);
    return best;
}

/* The span of the shortest-period loop ending the text (0 if none), its period in *period. */
static size_t tail_loop(const struct repetition *p, const char *t, size_t len, size_t *period)
{
    size_t e = len;
    while (e > 0 && is_space(t[e - 1]))
        e--;
    for (size_t per = 1; per <= REPETITION_MAX_PERIOD && 2 * per <= e; per++) {
        size_t j = e - 1, run = 0;
        while (j >= per && t[j] == t[j - per] && run < REPETITION_TAIL_SCAN) {
            j--;
            run++;
        }
        size_t span = run + per;
        if (span < (size_t)p->tail_bytes || span < 4 * per) continue;
        bool has_word = false;
        for (size_t i = e - per; i < e && !has_word; i++)
            has_word = is_word_byte((unsigned char)t[i]);
        if (!has_word) continue;
        *period = per;
        return span;
    }
    return 0;
}

static void score(const void *state, const struct score_input *in, struct score *out)
{
    const struct repetition *p = state;
    const struct extracted *x = in->x;
    const struct exchange *ex = in->ex;
    score_reset(out);
    if (score_skip_error_status(ex, out)) return;
    const char *t = x->text ? x->text : "";
    size_t len = x->text ? x->text_len : 0, b = 0;
    if (len > UINT32_MAX) len = UINT32_MAX; /* offsets are 32-bit; the cap is far below */
    while (b < len && is_space(t[b]))
        b++;
    if (b == len) {
        score_detail(out, "not scored: no text");
        return;
    }
    out->applicable = true;
    bool is_json = t[b] == '{' || t[b] == '[';
    char ex_buf[REPETITION_EXCERPT + 4];

    struct words w = {0};
    if (is_json) {
        add_json_words(&w, t, len);
    } else {
        bool in_fence = false;
        for (size_t ls = 0; ls < len;) {
            const char *nl = memchr(t + ls, '\n', len - ls);
            size_t le = nl ? (size_t)(nl - t) : len, s = ls;
            ls = le + 1;
            while (s < le && is_space(t[s]))
                s++;
            if (le - s >= 3 && (memcmp(t + s, "```", 3) == 0 || memcmp(t + s, "~~~", 3) == 0))
                in_fence = !in_fence;
            else if (!in_fence && !(s < le && t[s] == '|'))
                add_words(&w, t, s, le, false);
        }
    }
    double ratio = 0;
    size_t top = 0;
    uint32_t top_count = 0;
    if (w.n >= (size_t)p->min_words && w.n >= (size_t)p->n)
        ratio = ngram_ratio(&w, p->n, &top, &top_count);
    out->score = ratio;
    if (ratio >= p->threshold) {
        out->defect = true;
        score_detail(out, "%d-gram repeat ratio %.2f over %zu words; \"%s\" x%u", p->n, ratio, w.n,
                     excerpt(t, w.v[top].start, w.v[top + (size_t)p->n - 1].end, ex_buf),
                     top_count);
    }
    free(w.v);

    if (p->line_repeats > 0 && !is_json) {
        uint32_t start = 0, line_len = 0;
        uint32_t count = top_line(p, t, len, &start, &line_len);
        double share = (double)count * line_len / (double)len;
        if (count >= (uint32_t)p->line_repeats) {
            out->score = share > out->score ? share : out->score;
            if (!out->defect)
                score_detail(out, "line repeated %u times: \"%s\"", count,
                             excerpt(t, start, start + line_len, ex_buf));
            out->defect = true;
        }
    }
    size_t period = 0, span = p->tail_bytes > 0 ? tail_loop(p, t, len, &period) : 0;
    if (span > 0) {
        double share = (double)span / (double)len;
        out->score = share > out->score ? share : out->score;
        if (!out->defect) {
            size_t e = len;
            while (e > 0 && is_space(t[e - 1]))
                e--;
            score_detail(out, "ends in a loop: \"%s\" (%zu bytes) repeated over %zu bytes",
                         excerpt(t, e - period, e, ex_buf), period, span);
        }
        out->defect = true;
    }
    if (!out->defect)
        score_detail(out, "%d-gram repeat ratio %.2f; no repeated line or tail loop", p->n, ratio);
}

const struct scorer scorer_repetition = {
    .name = "repetition",
    .setup = setup,
    .score = score,
    .teardown = teardown,
};
