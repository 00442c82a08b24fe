/* Spool segments on disk: append, replay, acknowledge, cap. Runs on the triage thread only.
 *
 * FORMAT (every integer little-endian)
 *   <dir>/seg-<seq as 16 lower-case hex digits>.spool   one segment; seq grows by one per new
 *       segment and orders them: replay goes by seq, then by offset inside a segment.
 *   segment = header record*
 *   header  = "SGSPOOL\0" (8 bytes) | u32 version = 1 | u32 reserved = 0              (16 bytes)
 *   record  = u32 len (1..SPOOL_MAX_RECORD_BYTES) | u32 crc | len bytes of payload
 *             crc: CRC-32 (zlib's, IEEE 802.3) of the 4 len bytes followed by the payload, so a
 *             damaged length is caught like a damaged payload.
 * A record is valid when its length is in range, its payload lies inside the file and its crc
 * matches. At an invalid record the reader looks byte by byte for the next valid one: bytes
 * followed by a valid record are a corrupt record (skipped, counted n_corrupt); bytes running to
 * the end of the segment are a torn tail, what a crash in the middle of a write leaves (skipped,
 * counted n_torn). Segments left by an earlier run are checked (and their damage counted) at
 * open; one with no valid record is deleted then. Nothing is ever appended after a torn tail: a
 * process appends only to the segments it created. A file shorter than a header is a crash at
 * creation (deleted, counted torn); a wrong header is renamed *.bad and left for a human
 * (counted corrupt).
 *
 * Acknowledgements come in replay order, so each segment needs only how many of its records were
 * read and acknowledged; a segment goes once all its records are acknowledged (the one being
 * written, once the reader is also at its end: the next append starts a new segment).
 */
#include "triage/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "core/buf.h"
#include "core/xalloc.h"

#define SPOOL_MAGIC         "SGSPOOL"
#define SPOOL_VERSION       1
#define SPOOL_PATH_BYTES    4096
#define SPOOL_NAME_PREFIX   "seg-"
#define SPOOL_NAME_SUFFIX   ".spool"
#define SPOOL_MIN_SEG_BYTES (SPOOL_HEADER_BYTES + SPOOL_RECORD_OVERHEAD + 1)
/* The largest segment file read: a 1 GiB segment (the config's limit) plus one last record. */
#define SPOOL_MAX_FILE_BYTES                                                                       \
    (((size_t)1 << 30) + SPOOL_HEADER_BYTES + SPOOL_RECORD_OVERHEAD + SPOOL_MAX_RECORD_BYTES)

/* One segment file. Invariants: ack_off <= bytes; n_acked <= n_read <= n_records; only the last
 * segment can be the active one (the one written to). */
struct segment {
    uint64_t seq;
    uint64_t bytes;     /* file size */
    uint64_t n_records; /* valid records in it */
    uint64_t n_read;    /* valid records the reader returned since the last rewind */
    uint64_t n_acked;   /* the first n_acked records are acknowledged */
    uint64_t ack_off;   /* just past the last acknowledged record */
    uint64_t bad_high;  /* bad bytes below this offset were counted already */
};

struct spool {
    char *dir;
    size_t segment_bytes;
    size_t max_bytes;
    long fsync_ms;

    struct segment *segs; /* by seq, oldest first */
    size_t n_segs, cap_segs;
    int active_fd; /* >= 0: segs[n_segs - 1] is being written */
    uint64_t next_seq;
    bool dirty; /* appended since the last fsync */
    int64_t last_sync_ms;

    size_t r_seg; /* reader: the segment and offset of the next record */
    uint64_t r_off;
    uint64_t rbuf_seq; /* the segment whose first rbuf.len bytes rbuf holds; 0 = none */
    struct buf rbuf;

    struct spool_stats stats; /* counters; bytes, n_segments and n_pending are derived */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t record_crc(const unsigned char *len_bytes, const void *payload, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, len_bytes, 4);
    crc = crc32(crc, payload, (uInt)len);
    return (uint32_t)crc;
}

static void make_header(unsigned char h[SPOOL_HEADER_BYTES])
{
    memset(h, 0, SPOOL_HEADER_BYTES);
    memcpy(h, SPOOL_MAGIC, sizeof(SPOOL_MAGIC)); /* with its NUL: 8 bytes */
    put_u32(h + 8, SPOOL_VERSION);
}

/* The payload length of a valid record at off in data[0, len), or 0 when there is none. */
static size_t valid_record_at(const char *data, size_t len, size_t off)
{
    if (off > len || len - off < SPOOL_RECORD_OVERHEAD) return 0;
    const unsigned char *p = (const unsigned char *)data + off;
    uint32_t n = get_u32(p);
    if (n == 0 || n > SPOOL_MAX_RECORD_BYTES || n > len - off - SPOOL_RECORD_OVERHEAD) return 0;
    return record_crc(p, p + SPOOL_RECORD_OVERHEAD, n) == get_u32(p + 4) ? n : 0;
}

/* The offset of the first valid record at or after off, or len when there is none. */
static size_t next_valid(const char *data, size_t len, size_t off)
{
    for (; off + SPOOL_RECORD_OVERHEAD < len; off++) {
        if (valid_record_at(data, len, off) > 0) return off;
    }
    return len;
}

static void seg_path(const struct spool *sp, uint64_t seq, char out[SPOOL_PATH_BYTES])
{
    snprintf(out, SPOOL_PATH_BYTES, "%s/" SPOOL_NAME_PREFIX "%016llx" SPOOL_NAME_SUFFIX, sp->dir,
             (unsigned long long)seq);
}

/* The seq of a segment file name, or 0 when name is not one. */
static uint64_t seq_of_name(const char *name)
{
    size_t pre = strlen(SPOOL_NAME_PREFIX), suf = strlen(SPOOL_NAME_SUFFIX);
    if (strlen(name) != pre + 16 + suf || strncmp(name, SPOOL_NAME_PREFIX, pre) != 0 ||
        strcmp(name + pre + 16, SPOOL_NAME_SUFFIX) != 0)
        return 0;
    uint64_t seq = 0;
    for (size_t i = pre; i < pre + 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        seq = seq << 4 | (uint64_t)d;
    }
    return seq;
}

/* Reads the whole file at path into b (reset first). Returns 0, or -1 with err. */
static int read_file(const char *path, struct buf *b, struct err *err)
{
    buf_reset(b);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, "spool: open %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || (n > 0 && buf_append(b, chunk, (size_t)n) < 0)) {
            err_set(err, "spool: read %s: %s", path, n < 0 ? strerror(errno) : "too large");
            close(fd);
            return -1;
        }
        if (n == 0) break;
    }
    close(fd);
    return 0;
}

static int sync_dir(const struct spool *sp)
{
    int fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int mkdirs(const char *dir, struct err *err)
{
    char path[SPOOL_PATH_BYTES];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        err_set(err, "spool: directory name too long");
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            err_set(err, "spool: mkdir %s: %s", path, strerror(errno));
            return -1;
        }
        *p = c;
        if (c == '\0') break;
    }
    return 0;
}

static bool is_active(const struct spool *sp, size_t i)
{
    return sp->active_fd >= 0 && i + 1 == sp->n_segs;
}

static int fsync_active(struct spool *sp, struct err *err)
{
    if (sp->active_fd < 0 || !sp->dirty) return 0;
    if (fdatasync(sp->active_fd) < 0) {
        err_set(err, "spool: fdatasync: %s", strerror(errno));
        return -1;
    }
    sp->dirty = false;
    sp->last_sync_ms = now_ms();
    return 0;
}

static void close_active(struct spool *sp)
{
    if (sp->active_fd < 0) return;
    if (sp->fsync_ms != SPOOL_FSYNC_NEVER) fsync_active(sp, NULL);
    close(sp->active_fd);
    sp->active_fd = -1;
    sp->dirty = false;
}

/* Removes segs[i] from the list (the file is the caller's business) and keeps the reader on the
 * same record. */
static void forget_segment(struct spool *sp, size_t i)
{
    if (is_active(sp, i)) {
        close(sp->active_fd);
        sp->active_fd = -1;
        sp->dirty = false;
    }
    if (sp->rbuf_seq == sp->segs[i].seq) sp->rbuf_seq = 0;
    memmove(&sp->segs[i], &sp->segs[i + 1], (sp->n_segs - i - 1) * sizeof(*sp->segs));
    sp->n_segs--;
    if (sp->r_seg > i) {
        sp->r_seg--;
    } else if (sp->r_seg == i) {
        sp->r_off = i < sp->n_segs ? sp->segs[i].ack_off : SPOOL_HEADER_BYTES;
    }
    if (sp->n_segs == 0) {
        buf_fini(&sp->rbuf);
        buf_init(&sp->rbuf, SPOOL_MAX_FILE_BYTES);
        sp->rbuf_seq = 0;
    }
}

static int delete_segment(struct spool *sp, size_t i, struct err *err)
{
    char path[SPOOL_PATH_BYTES];
    seg_path(sp, sp->segs[i].seq, path);
    if (unlink(path) < 0 && errno != ENOENT) {
        err_set(err, "spool: unlink %s: %s", path, strerror(errno));
        return -1;
    }
    forget_segment(sp, i);
    return 0;
}

/* Deletes the leading segments whose records are all acknowledged: a closed one at once (what
 * follows its last record is damage, counted already), the active one once the reader is at its
 * end (the next append starts a new one). */
static int collect(struct spool *sp, struct err *err)
{
    while (sp->n_segs > 0) {
        const struct segment *s = &sp->segs[0];
        if (s->n_acked < s->n_records) break;
        if (is_active(sp, 0) && !(sp->r_seg == 0 && sp->r_off >= s->bytes)) break;
        if (delete_segment(sp, 0, err) < 0) return -1;
    }
    return 0;
}

/* Cap: drops the oldest segment, counting its unacknowledged records. */
static int drop_oldest(struct spool *sp, struct err *err)
{
    const struct segment *s = &sp->segs[0];
    sp->stats.n_dropped += s->n_records - s->n_acked;
    return delete_segment(sp, 0, err);
}

static struct segment *push_segment(struct spool *sp, uint64_t seq, uint64_t bytes,
                                    uint64_t n_records)
{
    if (sp->n_segs == sp->cap_segs) {
        sp->cap_segs = sp->cap_segs ? 2 * sp->cap_segs : 16;
        sp->segs = xrealloc(sp->segs, sp->cap_segs * sizeof(*sp->segs));
    }
    struct segment *s = &sp->segs[sp->n_segs++];
    *s = (struct segment){.seq = seq,
                          .bytes = bytes,
                          .n_records = n_records,
                          .ack_off = SPOOL_HEADER_BYTES,
                          .bad_high = SPOOL_HEADER_BYTES};
    return s;
}

/* Starts a new segment, which becomes the active one. */
static int new_segment(struct spool *sp, struct err *err)
{
    char path[SPOOL_PATH_BYTES];
    close_active(sp);
    uint64_t seq = sp->next_seq;
    seg_path(sp, seq, path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(err, "spool: create %s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char h[SPOOL_HEADER_BYTES];
    make_header(h);
    if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h)) {
        err_set(err, "spool: write %s: %s", path, strerror(errno ? errno : EIO));
        close(fd);
        unlink(path);
        return -1;
    }
    if (sp->fsync_ms == SPOOL_FSYNC_ALWAYS && (fdatasync(fd) < 0 || sync_dir(sp) < 0)) {
        err_set(err, "spool: fsync %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    sp->next_seq++;
    push_segment(sp, seq, SPOOL_HEADER_BYTES, 0);
    sp->active_fd = fd;
    return 0;
}

/* Looks at one segment left by an earlier run and lists it, or deals with a broken one. */
static void adopt_segment(struct spool *sp, uint64_t seq, struct buf *b)
{
    char path[SPOOL_PATH_BYTES], bad[SPOOL_PATH_BYTES + 8];
    struct err err;
    seg_path(sp, seq, path);
    if (read_file(path, b, &err) < 0) return; /* unreadable: left alone, retried next start */
    unsigned char h[SPOOL_HEADER_BYTES];
    make_header(h);
    size_t head = b->len < SPOOL_HEADER_BYTES ? b->len : SPOOL_HEADER_BYTES;
    if (b->len < SPOOL_HEADER_BYTES && memcmp(b->data ? b->data : "", h, head) == 0) {
        unlink(path); /* a crash while the segment was being created */
        sp->stats.n_torn++;
        return;
    }
    if (b->len < SPOOL_HEADER_BYTES || memcmp(b->data, h, SPOOL_HEADER_BYTES) != 0) {
        snprintf(bad, sizeof(bad), "%s.bad", path);
        rename(path, bad);
        sp->stats.n_corrupt++;
        return;
    }
    /* Damage is counted here, once: the reader will skip it again without counting. */
    uint64_t n = 0;
    size_t off = SPOOL_HEADER_BYTES;
    while (off < b->len) {
        size_t len = valid_record_at(b->data, b->len, off);
        if (len == 0) {
            off = next_valid(b->data, b->len, off + 1);
            if (off < b->len)
                sp->stats.n_corrupt++;
            else
                sp->stats.n_torn++;
            continue;
        }
        n++;
        off += SPOOL_RECORD_OVERHEAD + len;
    }
    if (n == 0) {
        unlink(path); /* nothing in it to deliver */
        return;
    }
    push_segment(sp, seq, b->len, n)->bad_high = b->len;
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct spool *spool_open(const struct spool_config *cfg, struct err *err)
{
    if (mkdirs(cfg->dir, err) < 0) return NULL;
    if (access(cfg->dir, R_OK | W_OK | X_OK) < 0) {
        err_set(err, "spool: %s: %s", cfg->dir, strerror(errno));
        return NULL;
    }
    DIR *d = opendir(cfg->dir);
    if (d == NULL) {
        err_set(err, "spool: opendir %s: %s", cfg->dir, strerror(errno));
        return NULL;
    }
    struct spool *sp = xcalloc(1, sizeof(*sp));
    sp->dir = xstrdup(cfg->dir);
    sp->segment_bytes = cfg->segment_bytes ? cfg->segment_bytes : SPOOL_SEGMENT_BYTES;
    if (sp->segment_bytes < SPOOL_MIN_SEG_BYTES) sp->segment_bytes = SPOOL_MIN_SEG_BYTES;
    sp->max_bytes = cfg->max_bytes;
    sp->fsync_ms = cfg->fsync_ms;
    sp->active_fd = -1;
    sp->next_seq = 1;
    sp->r_off = SPOOL_HEADER_BYTES;
    sp->last_sync_ms = now_ms();
    buf_init(&sp->rbuf, SPOOL_MAX_FILE_BYTES);

    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t seq = seq_of_name(e->d_name);
        if (seq == 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            seqs = xrealloc(seqs, cap * sizeof(*seqs));
        }
        seqs[n++] = seq;
    }
    closedir(d);
    if (n > 0) qsort(seqs, n, sizeof(*seqs), cmp_seq);
    struct buf b;
    buf_init(&b, SPOOL_MAX_FILE_BYTES);
    for (size_t i = 0; i < n; i++) {
        adopt_segment(sp, seqs[i], &b);
        if (seqs[i] >= sp->next_seq) sp->next_seq = seqs[i] + 1;
    }
    buf_fini(&b);
    free(seqs);
    return sp;
}

void spool_close(struct spool *sp)
{
    if (sp == NULL) return;
    close_active(sp);
    buf_fini(&sp->rbuf);
    free(sp->segs);
    free(sp->dir);
    free(sp);
}

static uint64_t total_bytes(const struct spool *sp)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < sp->n_segs; i++)
        sum += sp->segs[i].bytes;
    return sum;
}

int spool_append(struct spool *sp, const void *data, size_t len, struct err *err)
{
    if (len == 0 || len > SPOOL_MAX_RECORD_BYTES) {
        err_set(err, "spool: a record of %zu bytes (1..%u allowed)", len, SPOOL_MAX_RECORD_BYTES);
        return -1;
    }
    uint64_t rec = SPOOL_RECORD_OVERHEAD + (uint64_t)len;
    if (rec + SPOOL_HEADER_BYTES > sp->max_bytes) {
        err_set(err, "spool: a record of %zu bytes does not fit under the cap of %zu", len,
                sp->max_bytes);
        return -1;
    }
    uint64_t need;
    for (;;) {
        const struct segment *a = sp->active_fd >= 0 ? &sp->segs[sp->n_segs - 1] : NULL;
        bool rotate =
            a == NULL || (a->bytes > SPOOL_HEADER_BYTES && a->bytes + rec > sp->segment_bytes);
        need = rec + (rotate ? SPOOL_HEADER_BYTES : 0);
        if (sp->n_segs == 0 || total_bytes(sp) + need <= sp->max_bytes) break;
        if (drop_oldest(sp, err) < 0) return -1;
    }
    if (need > rec && new_segment(sp, err) < 0) return -1;

    struct segment *s = &sp->segs[sp->n_segs - 1];
    unsigned char h[SPOOL_RECORD_OVERHEAD];
    put_u32(h, (uint32_t)len);
    put_u32(h + 4, record_crc(h, data, len));
    struct iovec iov[2] = {{h, sizeof(h)}, {(void *)data, len}};
    size_t done = 0;
    while (done < rec) {
        /* A short write (a full disk) continues where it stopped; an error cuts the record off. */
        size_t skip = done;
        struct iovec v[2];
        int nv = 0;
        for (int i = 0; i < 2; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            v[nv].iov_base = (char *)iov[i].iov_base + skip;
            v[nv].iov_len = iov[i].iov_len - skip;
            nv++;
            skip = 0;
        }
        ssize_t w = writev(sp->active_fd, v, nv);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            err_set(err, "spool: write segment %016llx: %s", (unsigned long long)s->seq,
                    w < 0 ? strerror(errno) : "no progress");
            if (ftruncate(sp->active_fd, (off_t)s->bytes) < 0) {
                /* The tail stays torn: start a new segment, the reader skips it. */
                close_active(sp);
            }
            return -1;
        }
        done += (size_t)w;
    }
    s->bytes += rec;
    s->n_records++;
    sp->stats.n_appended++;
    sp->dirty = true;
    /* The record is written: a failed sync does not undo it, it is counted. */
    if ((sp->fsync_ms == SPOOL_FSYNC_ALWAYS ||
         (sp->fsync_ms > 0 && now_ms() - sp->last_sync_ms >= sp->fsync_ms)) &&
        fsync_active(sp, NULL) < 0)
        sp->stats.n_sync_errors++;
    return 0;
}

int spool_sync(struct spool *sp, struct err *err)
{
    if (sp->fsync_ms == SPOOL_FSYNC_NEVER || now_ms() - sp->last_sync_ms < sp->fsync_ms) return 0;
    return fsync_active(sp, err);
}

/* Makes rbuf hold segment s up to its known size. */
static int load(struct spool *sp, const struct segment *s, struct err *err)
{
    if (sp->rbuf_seq != s->seq) {
        buf_reset(&sp->rbuf);
        sp->rbuf_seq = s->seq;
    }
    if (sp->rbuf.len >= s->bytes) return 0;
    char path[SPOOL_PATH_BYTES];
    seg_path(sp, s->seq, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, "spool: open %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    char chunk[65536];
    while (sp->rbuf.len < s->bytes) {
        size_t want =
            s->bytes - sp->rbuf.len < sizeof(chunk) ? s->bytes - sp->rbuf.len : sizeof(chunk);
        ssize_t n = pread(fd, chunk, want, (off_t)sp->rbuf.len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || buf_append(&sp->rbuf, chunk, (size_t)n) < 0) {
            err_set(err, "spool: read %s: %s", path,
                    n < 0    ? strerror(errno)
                    : n == 0 ? "file shrank"
                             : "file too large");
            goto out;
        }
    }
    rc = 0;
out:
    close(fd);
    if (rc < 0) sp->rbuf_seq = 0;
    return rc;
}

int spool_read(struct spool *sp, struct spool_record *rec, struct err *err)
{
    memset(rec, 0, sizeof(*rec));
    for (;;) {
        if (sp->r_seg >= sp->n_segs) return 0;
        struct segment *s = &sp->segs[sp->r_seg];
        if (sp->r_off >= s->bytes) {
            if (is_active(sp, sp->r_seg)) return 0; /* more may be appended */
            sp->r_seg++;
            sp->r_off = sp->r_seg < sp->n_segs ? sp->segs[sp->r_seg].ack_off : SPOOL_HEADER_BYTES;
            if (collect(sp, err) < 0) return -1;
            continue;
        }
        if (load(sp, s, err) < 0) return -1;
        size_t off = (size_t)sp->r_off;
        size_t len = valid_record_at(sp->rbuf.data, (size_t)s->bytes, off);
        if (len > 0) {
            rec->data = xmalloc(len + 1);
            memcpy(rec->data, sp->rbuf.data + off + SPOOL_RECORD_OVERHEAD, len);
            rec->data[len] = '\0';
            rec->len = len;
            rec->seq = s->seq;
            rec->end_off = off + SPOOL_RECORD_OVERHEAD + len;
            rec->index = s->n_read++;
            sp->r_off = rec->end_off;
            return 1;
        }
        size_t next = next_valid(sp->rbuf.data, (size_t)s->bytes, off + 1);
        if (off >= s->bad_high) {
            if (next < s->bytes)
                sp->stats.n_corrupt++;
            else
                sp->stats.n_torn++;
            s->bad_high = next;
        }
        sp->r_off = next;
    }
}

void spool_record_fini(struct spool_record *rec)
{
    free(rec->data);
    rec->data = NULL;
    rec->len = 0;
}

int spool_ack(struct spool *sp, const struct spool_record *rec, struct err *err)
{
    for (size_t i = 0; i < sp->n_segs; i++) {
        struct segment *s = &sp->segs[i];
        if (s->seq > rec->seq) break;
        uint64_t n = s->seq < rec->seq ? s->n_read : rec->index + 1;
        if (n > s->n_acked) {
            sp->stats.n_acked += n - s->n_acked;
            s->n_acked = n;
            s->ack_off = s->seq < rec->seq ? s->bytes : rec->end_off;
        }
    }
    return collect(sp, err);
}

void spool_rewind(struct spool *sp)
{
    for (size_t i = 0; i < sp->n_segs; i++)
        sp->segs[i].n_read = sp->segs[i].n_acked;
    sp->r_seg = 0;
    sp->r_off = sp->n_segs > 0 ? sp->segs[0].ack_off : SPOOL_HEADER_BYTES;
}

uint64_t spool_pending(const struct spool *sp)
{
    uint64_t n = 0;
    for (size_t i = 0; i < sp->n_segs; i++)
        n += sp->segs[i].n_records - sp->segs[i].n_acked;
    return n;
}

void spool_get_stats(const struct spool *sp, struct spool_stats *out)
{
    *out = sp->stats;
    out->bytes = total_bytes(sp);
    out->n_segments = sp->n_segs;
    out->n_pending = spool_pending(sp);
}
