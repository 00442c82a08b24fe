/* The spool on a temporary directory: round trip, order across segments, a torn final record cut
 * at every byte, a corrupt record in the middle, the cap dropping the oldest segments, deletion
 * only after acknowledgement, and a reopen after a crash (a child that exits without closing). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/tap.h"
#include "triage/spool.h"

#define N_RECORDS 40

static char base[] = "/tmp/test_spool_XXXXXX";
static int n_dirs;

/* A fresh empty directory under base. */
static const char *new_dir(void)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/d%d", base, ++n_dirs);
    return path;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Segment files in dir, sorted; names[i] gets a copy of the i-th one (up to max). */
static int list_segments(const char *dir, char names[][64], int max)
{
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 6, ".spool") != 0) continue;
        if (n < max) snprintf(names[n], 64, "%s", e->d_name);
        n++;
    }
    closedir(d);
    for (int i = 0; i < n && i < max; i++) { /* insertion sort: a handful of names */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[64];
            memcpy(t, names[j], 64);
            memcpy(names[j], names[j - 1], 64);
            memcpy(names[j - 1], t, 64);
        }
    }
    return n;
}

static int count_segments(const char *dir)
{
    char names[1][64];
    return list_segments(dir, names, 0);
}

/* The i-th record's payload: its number, then bytes of every value (NULs included). */
static size_t make_record(int i, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "record %d:", i);
    size_t extra = (size_t)(i * 37 % 200);
    for (size_t k = 0; k < extra && len < cap; k++)
        out[len++] = (char)((i * 131 + (int)k) & 0xff);
    return len;
}

static struct spool *open_spool(const char *dir, size_t segment_bytes, size_t max_bytes,
                                long fsync_ms)
{
    struct spool_config cfg = {dir, segment_bytes, max_bytes, fsync_ms};
    struct err err = {{0}};
    struct spool *sp = spool_open(&cfg, &err);
    if (sp == NULL) diag("spool_open %s: %s", dir, err.msg);
    return sp;
}

static void append_range(struct spool *sp, int from, int to)
{
    char rec[512];
    for (int i = from; i < to; i++) {
        size_t len = make_record(i, rec, sizeof(rec));
        struct err err = {{0}};
        if (spool_append(sp, rec, len, &err) < 0) diag("append %d: %s", i, err.msg);
    }
}

/* Reads every record left; checks each one is record want[k] in order. Acks the last one when
 * ack is set. Returns how many matched, or -1 at the first mismatch. */
static int read_expect(struct spool *sp, const int *want, int n_want, bool ack)
{
    struct spool_record rec, last = {0};
    struct err err = {{0}};
    char expect[512];
    int n = 0, rc;
    while ((rc = spool_read(sp, &rec, &err)) == 1) {
        size_t len = n < n_want ? make_record(want[n], expect, sizeof(expect)) : 0;
        if (n >= n_want || rec.len != len || memcmp(rec.data, expect, len) != 0) {
            diag("record %d: got %zu bytes \"%.12s\", want record %d", n, rec.len, rec.data,
                 n < n_want ? want[n] : -1);
            spool_record_fini(&rec);
            spool_record_fini(&last);
            return -1;
        }
        spool_record_fini(&last);
        last = rec;
        n++;
    }
    if (rc < 0) diag("spool_read: %s", err.msg);
    if (ack && n > 0 && spool_ack(sp, &last, &err) < 0) diag("spool_ack: %s", err.msg);
    spool_record_fini(&last);
    return rc < 0 ? -1 : n;
}

static void seq_from(int *out, int from, int to)
{
    for (int i = from; i < to; i++)
        out[i - from] = i;
}

static void test_round_trip(void)
{
    const char *dir = new_dir();
    struct spool *sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_ALWAYS);
    append_range(sp, 0, N_RECORDS);
    struct spool_stats st;
    spool_get_stats(sp, &st);
    is_int(st.n_appended, N_RECORDS, "round trip: %d appended", N_RECORDS);
    is_int(st.n_pending, N_RECORDS, "round trip: all pending");
    is_int(count_segments(dir), 1, "round trip: one segment");
    int want[N_RECORDS];
    seq_from(want, 0, N_RECORDS);
    is_int(read_expect(sp, want, N_RECORDS, true), N_RECORDS,
           "round trip: every record back, bytes exact, in order");
    spool_get_stats(sp, &st);
    is_int(st.n_pending, 0, "round trip: nothing pending after the ack");
    is_int(st.bytes, 0, "round trip: no bytes left");
    is_int(count_segments(dir), 0, "round trip: the drained segment is deleted");
    append_range(sp, N_RECORDS, N_RECORDS + 3);
    seq_from(want, N_RECORDS, N_RECORDS + 3);
    is_int(read_expect(sp, want, 3, true), 3, "round trip: appends after draining read back");
    struct err err = {{0}};
    is_int(spool_append(sp, "", 0, &err), -1, "an empty record is refused");
    is_int(spool_sync(sp, &err), 0, "spool_sync with nothing dirty");
    spool_close(sp);
    remove_dir(dir);

    /* The interval and never policies write the same bytes. */
    for (long policy = -1; policy <= 50; policy += 51) {
        dir = new_dir();
        sp = open_spool(dir, 0, 1 << 20, policy);
        append_range(sp, 0, 5);
        is_int(spool_sync(sp, &err), 0, "fsync_ms %ld: spool_sync", policy);
        spool_close(sp);
        sp = open_spool(dir, 0, 1 << 20, policy);
        seq_from(want, 0, 5);
        is_int(read_expect(sp, want, 5, true), 5, "fsync_ms %ld: records survive a reopen", policy);
        spool_close(sp);
        remove_dir(dir);
    }
}

static void test_segments(void)
{
    const char *dir = new_dir();
    struct spool *sp = open_spool(dir, 600, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, 0, N_RECORDS);
    int n_segs = count_segments(dir);
    ok(n_segs >= 5, "rotation: %d records in %d segments of 600 bytes", N_RECORDS, n_segs);
    struct spool_stats st;
    spool_get_stats(sp, &st);
    is_int(st.n_segments, n_segs, "rotation: stats count the segments");
    int want[N_RECORDS];
    seq_from(want, 0, N_RECORDS);
    is_int(read_expect(sp, want, N_RECORDS, false), N_RECORDS,
           "rotation: replay crosses segments in order");
    spool_close(sp);

    /* Reopened: the same order, across the segments an earlier run left, then the new ones. */
    sp = open_spool(dir, 600, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, N_RECORDS, N_RECORDS + 5);
    int want2[N_RECORDS + 5];
    seq_from(want2, 0, N_RECORDS + 5);
    is_int(read_expect(sp, want2, N_RECORDS + 5, true), N_RECORDS + 5,
           "reopen: old segments first, then new appends, in order");
    is_int(count_segments(dir), 0, "reopen: all segments deleted once acknowledged");
    spool_close(sp);
    remove_dir(dir);
}

/* Offsets of the records in a segment written by append_range(from, to) into a fresh spool. */
static size_t record_offset(int from, int k)
{
    size_t off = SPOOL_HEADER_BYTES;
    char rec[512];
    for (int i = from; i < from + k; i++)
        off += SPOOL_RECORD_OVERHEAD + make_record(i, rec, sizeof(rec));
    return off;
}

static void segment_path(const char *dir, int index, char *out, size_t cap)
{
    char names[16][64];
    int n = list_segments(dir, names, 16);
    snprintf(out, cap, "%s/%s", dir, index < n ? names[index] : "missing");
}

static void test_torn(void)
{
    const int n = 6;
    char rec[512];
    size_t last = record_offset(0, n - 1);
    size_t end = last + SPOOL_RECORD_OVERHEAD + make_record(n - 1, rec, sizeof(rec));
    int want[16];
    seq_from(want, 0, n);
    int bad = 0;
    for (size_t cut = last; cut < end; cut++) {
        const char *dir = new_dir();
        struct spool *sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
        append_range(sp, 0, n);
        spool_close(sp);
        char path[1024];
        segment_path(dir, 0, path, sizeof(path));
        if (truncate(path, (off_t)cut) < 0) bad++;
        sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
        append_range(sp, 100, 101); /* goes to a new segment, after the torn one */
        int want_after[16];
        memcpy(want_after, want, sizeof(want));
        want_after[n - 1] = 100;
        int got = read_expect(sp, want_after, n, true);
        struct spool_stats st;
        spool_get_stats(sp, &st);
        long long torn_want = cut > last ? 1 : 0;
        if (got != n || (long long)st.n_torn != torn_want || st.n_corrupt != 0 ||
            st.n_pending != 0 || count_segments(dir) != 0) {
            diag("cut at %zu: got %d records, torn %llu corrupt %llu pending %llu segments %d", cut,
                 got, (unsigned long long)st.n_torn, (unsigned long long)st.n_corrupt,
                 (unsigned long long)st.n_pending, count_segments(dir));
            bad++;
        }
        spool_close(sp);
        remove_dir(dir);
    }
    is_int(bad, 0,
           "torn final record, cut at each of its %zu bytes: the others read, the torn one "
           "skipped and counted once, new appends after it, all deleted once acknowledged",
           end - last);

    /* A final record whose CRC does not match is a torn tail too. */
    const char *dir = new_dir();
    struct spool *sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, 0, n);
    spool_close(sp);
    char path[1024];
    segment_path(dir, 0, path, sizeof(path));
    int fd = open(path, O_WRONLY);
    ok(fd >= 0 && pwrite(fd, "X", 1, (off_t)end - 1) == 1, "flip the last byte of the last record");
    if (fd >= 0) close(fd);
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    is_int(read_expect(sp, want, n - 1, true), n - 1, "bad CRC at the end: the others are read");
    struct spool_stats st;
    spool_get_stats(sp, &st);
    is_int(st.n_torn, 1, "bad CRC at the end: counted as a torn tail");
    spool_close(sp);
    remove_dir(dir);

    /* A segment holding nothing but a torn record: counted, removed at once. */
    dir = new_dir();
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, 0, 1);
    spool_close(sp);
    segment_path(dir, 0, path, sizeof(path));
    ok(truncate(path, SPOOL_HEADER_BYTES + 5) == 0, "cut a one-record segment inside its record");
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    spool_get_stats(sp, &st);
    ok(st.n_torn == 1 && st.n_pending == 0 && st.bytes == 0,
       "only a torn record: counted torn, nothing pending, no bytes");
    is_int(count_segments(dir), 0, "only a torn record: the segment is deleted at open");
    spool_close(sp);
    remove_dir(dir);

    /* Crash while a segment was created: a short header is removed, counted torn. */
    dir = new_dir();
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, 0, 2);
    spool_close(sp);
    snprintf(path, sizeof(path), "%s/seg-00000000000000ff.spool", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    ok(fd >= 0 && write(fd, "SGSP", 4) == 4, "a segment holding 4 bytes of header");
    if (fd >= 0) close(fd);
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    spool_get_stats(sp, &st);
    is_int(st.n_torn, 1, "short header: counted torn");
    ok(access(path, F_OK) < 0, "short header: the file is removed");
    is_int(read_expect(sp, want, 2, true), 2, "short header: the other segment still reads");
    spool_close(sp);
    remove_dir(dir);
}

static void test_corrupt(void)
{
    const int n = 10, k = 4;
    int want[16], w = 0;
    for (int i = 0; i < n; i++)
        if (i != k) want[w++] = i;

    /* A damaged payload byte. */
    const char *dir = new_dir();
    struct spool *sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, 0, n);
    spool_close(sp);
    char path[1024];
    segment_path(dir, 0, path, sizeof(path));
    size_t off = record_offset(0, k);
    int fd = open(path, O_WRONLY);
    ok(fd >= 0 && pwrite(fd, "\xff", 1, (off_t)(off + SPOOL_RECORD_OVERHEAD + 3)) == 1,
       "damage a payload byte of record %d", k);
    if (fd >= 0) close(fd);
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    is_int(read_expect(sp, want, n - 1, false), n - 1,
           "corrupt middle record: skipped, the rest in order");
    struct spool_stats st;
    spool_get_stats(sp, &st);
    is_int(st.n_corrupt, 1, "corrupt middle record: counted once");
    is_int(st.n_torn, 0, "corrupt middle record: not a torn tail");
    spool_rewind(sp);
    is_int(read_expect(sp, want, n - 1, true), n - 1, "after a rewind the same records again");
    spool_get_stats(sp, &st);
    is_int(st.n_corrupt, 1, "and the corrupt one is not counted twice");
    is_int(count_segments(dir), 0, "a segment with a corrupt record goes once the rest is acked");
    spool_close(sp);
    remove_dir(dir);

    /* A damaged length: the reader finds the next record by its CRC. */
    dir = new_dir();
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, 0, n);
    spool_close(sp);
    segment_path(dir, 0, path, sizeof(path));
    fd = open(path, O_WRONLY);
    ok(fd >= 0 && pwrite(fd, "\x07", 1, (off_t)off) == 1, "damage the length of record %d", k);
    if (fd >= 0) close(fd);
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    is_int(read_expect(sp, want, n - 1, true), n - 1,
           "corrupt length: that record skipped, the rest in order");
    spool_get_stats(sp, &st);
    is_int(st.n_corrupt, 1, "corrupt length: counted once");
    spool_close(sp);
    remove_dir(dir);

    /* A segment whose header is not ours is set aside, not read, not deleted. */
    dir = new_dir();
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, 0, 3);
    spool_close(sp);
    segment_path(dir, 0, path, sizeof(path));
    fd = open(path, O_WRONLY);
    ok(fd >= 0 && pwrite(fd, "XX", 2, 0) == 2, "damage a segment's magic");
    if (fd >= 0) close(fd);
    sp = open_spool(dir, 0, 1 << 20, SPOOL_FSYNC_NEVER);
    is_int(read_expect(sp, want, 0, false), 0, "bad header: nothing read from it");
    spool_get_stats(sp, &st);
    is_int(st.n_corrupt, 1, "bad header: counted corrupt");
    char bad[1100];
    snprintf(bad, sizeof(bad), "%s.bad", path);
    ok(access(bad, F_OK) == 0, "bad header: renamed *.bad for a human");
    unlink(bad);
    spool_close(sp);
    remove_dir(dir);
}

static void test_cap(void)
{
    /* Records of 100 bytes (108 on disk): two per 256-byte segment (16 + 216). */
    const char *dir = new_dir();
    const size_t max = 1024;
    struct spool *sp = open_spool(dir, 256, max, SPOOL_FSYNC_NEVER);
    char rec[100];
    int over = 0;
    struct spool_stats st;
    for (int i = 0; i < 30; i++) {
        memset(rec, 'a' + i % 26, sizeof(rec));
        snprintf(rec, sizeof(rec), "%d", i);
        struct err err = {{0}};
        if (spool_append(sp, rec, sizeof(rec), &err) < 0) diag("append %d: %s", i, err.msg);
        spool_get_stats(sp, &st);
        if (st.bytes > max) over++;
    }
    is_int(over, 0, "cap: the spool never holds more than %zu bytes", max);
    spool_get_stats(sp, &st);
    is_int(st.n_pending, 8, "cap: 4 segments of 2 records are kept");
    is_int(st.n_dropped, 22, "cap: the 22 oldest records dropped and counted");
    is_int(st.n_dropped + st.n_pending, st.n_appended, "cap: dropped + pending = appended");
    struct spool_record r;
    struct err err = {{0}};
    int first = -1, prev = -1, in_order = 1, n = 0;
    while (spool_read(sp, &r, &err) == 1) {
        int v = atoi(r.data);
        if (first < 0) first = v;
        if (v != prev + 1 && prev >= 0) in_order = 0;
        prev = v;
        n++;
        spool_ack(sp, &r, &err);
        spool_record_fini(&r);
    }
    is_int(first, 22, "cap: the oldest kept record is number 22");
    ok(in_order && n == 8 && prev == 29, "cap: the newest are kept, in order");
    is_int(spool_append(sp, rec, max, &err), -1, "cap: a record larger than the cap is refused");
    spool_close(sp);
    remove_dir(dir);
}

static void test_ack(void)
{
    const char *dir = new_dir();
    /* Five records of about 100..300 bytes per 600-byte segment, roughly. */
    struct spool *sp = open_spool(dir, 600, 1 << 20, SPOOL_FSYNC_NEVER);
    append_range(sp, 0, 12);
    int segs = count_segments(dir);
    ok(segs >= 3, "ack: 12 records in %d segments", segs);
    struct spool_record recs[12];
    struct err err = {{0}};
    int n = 0;
    while (n < 12 && spool_read(sp, &recs[n], &err) == 1)
        n++;
    is_int(n, 12, "ack: all 12 read");
    is_int(count_segments(dir), segs, "ack: reading deletes nothing");
    int i = 0;
    while (i + 1 < n && recs[i + 1].seq == recs[0].seq)
        i++;
    /* i: the last record of the first segment. */
    if (i > 0) {
        spool_ack(sp, &recs[i - 1], &err);
        is_int(count_segments(dir), segs, "ack: a partly acknowledged segment stays");
    }
    spool_ack(sp, &recs[i], &err);
    is_int(count_segments(dir), segs - 1, "ack: the first segment goes with its last record's ack");
    struct spool_stats st;
    spool_get_stats(sp, &st);
    is_int(st.n_pending, 12 - (i + 1), "ack: pending counts what is left");

    /* A failed delivery: rewind, and the first unacknowledged record comes again. */
    spool_rewind(sp);
    struct spool_record again;
    is_int(spool_read(sp, &again, &err), 1, "rewind: a record is readable again");
    ok(again.len == recs[i + 1].len && memcmp(again.data, recs[i + 1].data, again.len) == 0,
       "rewind: it is the first one not acknowledged");
    spool_record_fini(&again);
    spool_close(sp);

    /* Read but not acknowledged, then closed: everything unacknowledged comes back. */
    sp = open_spool(dir, 600, 1 << 20, SPOOL_FSYNC_NEVER);
    int want[12];
    seq_from(want, i + 1, 12);
    is_int(read_expect(sp, want, 12 - (i + 1), true), 12 - (i + 1),
           "ack: after a reopen the unacknowledged records come back, in order");
    is_int(count_segments(dir), 0, "ack: and go once acknowledged");
    for (int k = 0; k < n; k++)
        spool_record_fini(&recs[k]);
    spool_close(sp);
    remove_dir(dir);
}

static void test_crash(void)
{
    const char *dir = new_dir();
    pid_t pid = fork();
    if (pid == 0) {
        /* A run that dies without closing anything (no fsync either: the page cache holds it). */
        struct spool *sp = open_spool(dir, 600, 1 << 20, SPOOL_FSYNC_NEVER);
        append_range(sp, 0, 20);
        _exit(sp ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "crash: a child spooled 20 records and died");
    ok(count_segments(dir) > 0, "crash: it left segments behind");
    struct spool *sp = open_spool(dir, 600, 1 << 20, SPOOL_FSYNC_NEVER);
    struct spool_stats st;
    spool_get_stats(sp, &st);
    is_int(st.n_pending, 20, "crash: the next run finds the 20 records");
    append_range(sp, 20, 25);
    int want[25];
    seq_from(want, 0, 25);
    is_int(read_expect(sp, want, 25, true), 25, "crash: replayed in order, before new records");
    is_int(count_segments(dir), 0, "crash: segments deleted after the acks");
    spool_close(sp);
    remove_dir(dir);
}

static void test_bad_dir(void)
{
    char file[600], sub[700];
    snprintf(file, sizeof(file), "%s/plainfile", base);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0) close(fd);
    snprintf(sub, sizeof(sub), "%s/spool", file);
    struct spool_config cfg = {sub, 0, 1 << 20, SPOOL_FSYNC_NEVER};
    struct err err = {{0}};
    ok(spool_open(&cfg, &err) == NULL, "a directory under a regular file cannot be opened");
    ok(strstr(err.msg, "plainfile") != NULL, "and the error names it: %s", err.msg);
    unlink(file);

    /* Missing parents are created. */
    snprintf(sub, sizeof(sub), "%s/a/b/c", base);
    cfg.dir = sub;
    struct spool *sp = spool_open(&cfg, &err);
    ok(sp != NULL, "missing parent directories are created");
    spool_close(sp);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/a/b", base);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/a", base);
    rmdir(sub);
}

int main(void)
{
    if (mkdtemp(base) == NULL) {
        diag("mkdtemp failed");
        return 1;
    }
    test_round_trip();
    test_segments();
    test_torn();
    test_corrupt();
    test_cap();
    test_ack();
    test_crash();
    test_bad_dir();
    rmdir(base);
    return done_testing();
}
