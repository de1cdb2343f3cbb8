#include "spool/spool.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    char *root; /* a temporary directory */
    char *dir;  /* the spool's, inside it: created by rs_spool_open() */
    struct resources before;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->root = make_temp_dir();
    assert_true(asprintf(&f->dir, "%s/spool", f->root) > 0);
    f->before = resources_now();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rm_tree(f->root);
    free(f->root);
    free(f->dir);
    free(f);
    return 0;
}

static struct rs_spool *open_spool(struct fixture *f, uint64_t limit, uint64_t segment_bytes,
                                   struct rs_spool_recovery *recovery)
{
    struct rs_spool_config config = {f->dir, limit, segment_bytes, 0};
    struct rs_spool_recovery ignored;
    struct rs_spool *spool = NULL;
    assert_int_equal(rs_spool_open(&spool, &config, recovery ? recovery : &ignored), 0);
    assert_non_null(spool);
    return spool;
}

/* A payload that says which record it is, with the bytes a hostile client could send. */
static size_t payload(char *buf, size_t size, int n)
{
    int len = snprintf(buf, size, "event %d: \n\r\t\\\"'$(x)`y`", n);
    assert_true(len > 0 && (size_t)len + 3 < size);
    buf[len] = '\0'; /* NUL and high bytes are payload like any other */
    buf[len + 1] = (char)0xff;
    buf[len + 2] = (char)n;
    return (size_t)len + 3;
}

static void append(struct rs_spool *spool, int n)
{
    char buf[128];
    size_t len = payload(buf, sizeof(buf), n);
    assert_int_equal(rs_spool_append(spool, buf, len, NULL), 0);
}

/* Reads the next record and checks that it is record `n`, byte for byte; returns where it is. */
static struct rs_spool_pos expect_read(struct rs_spool *spool, int n)
{
    char buf[128];
    size_t len = payload(buf, sizeof(buf), n);
    struct rs_spool_record record;
    assert_int_equal(rs_spool_read(spool, &record), 0);
    assert_int_equal(record.len, len);
    assert_memory_equal(record.data, buf, len);
    free(record.data);
    return record.pos;
}

static void expect_nothing(struct rs_spool *spool)
{
    struct rs_spool_record record;
    assert_int_equal(rs_spool_read(spool, &record), -ENOENT);
}

static size_t count_segments(struct fixture *f)
{
    DIR *dir = opendir(f->dir);
    assert_non_null(dir);
    size_t n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)))
        n += strstr(entry->d_name, ".seg") != NULL;
    closedir(dir);
    return n;
}

/* The path of the `nth` segment (oldest first), malloc'ed. */
static char *segment_path(struct fixture *f, size_t nth)
{
    struct dirent **names;
    int n = scandir(f->dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    char *path = NULL;
    size_t seen = 0;
    for (int i = 0; i < n; i++) {
        if (strstr(names[i]->d_name, ".seg") && seen++ == nth)
            assert_true(asprintf(&path, "%s/%s", f->dir, names[i]->d_name) > 0);
        free(names[i]);
    }
    free(names);
    assert_non_null(path);
    return path;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* CRC-32C one bit at a time: slow and obviously right. */
static uint32_t crc32c_bitwise(const unsigned char *p, size_t len)
{
    uint32_t crc = ~0u;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static void test_crc32c_known_value(void **state)
{
    (void)state;
    /* The check value of CRC-32C (RFC 3720, and every CRC catalogue). */
    assert_int_equal(rs_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(rs_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    /* In two parts, the same. */
    assert_int_equal(rs_crc32c(rs_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
    /* Both ways agree with the definition, at every length and alignment around a word. */
    unsigned char data[64 + 8];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 37 + 11);
    for (size_t offset = 0; offset < 8; offset++) {
        for (size_t len = 0; len <= 64; len++) {
            uint32_t expected = crc32c_bitwise(data + offset, len);
            assert_int_equal(rs_crc32c(0, data + offset, len), expected);
            assert_int_equal(rs_crc32c_portable(0, data + offset, len), expected);
        }
    }
}

static void test_records_come_back_in_order_byte_exact(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    expect_nothing(spool);
    for (int i = 0; i < 100; i++)
        append(spool, i);
    assert_int_equal(rs_spool_append(spool, "", 0, NULL), 0); /* an empty record is a record */
    struct rs_spool_stats stats;
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.records, 101);
    assert_int_equal(stats.appended, 101);
    uint64_t first = expect_read(spool, 0).seq;
    for (int i = 1; i < 100; i++)
        assert_int_equal(expect_read(spool, i).seq, first + (uint64_t)i);
    struct rs_spool_record empty;
    assert_int_equal(rs_spool_read(spool, &empty), 0);
    assert_int_equal(empty.len, 0);
    free(empty.data);
    expect_nothing(spool);
    /* Read is not delivered: until acknowledged, they are all still there. */
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.records, 101);
    assert_int_equal(rs_spool_ack(spool, &empty.pos), 0);
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.records, 0);
    rs_spool_close(spool);
    assert_resources_back(&f->before);
}

/* Records delivered from memory are acknowledged by the position their append gave; a reader
 * that must take over seeks past those already in memory. */
static void test_acknowledged_without_reading_and_seek(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 256, NULL);
    struct rs_spool_pos pos[30];
    char buf[128];
    for (int i = 0; i < 30; i++) {
        size_t len = payload(buf, sizeof(buf), i);
        assert_int_equal(rs_spool_append(spool, buf, len, &pos[i]), 0);
        assert_int_equal(pos[i].seq, pos[0].seq + (uint64_t)i);
    }
    size_t segments = count_segments(f);
    assert_int_equal(rs_spool_ack(spool, &pos[14]), 0);
    assert_true(count_segments(f) < segments);
    /* An older position changes nothing. */
    assert_int_equal(rs_spool_ack(spool, &pos[3]), 0);
    struct rs_spool_stats stats;
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.records, 15);
    /* 15 to 19 are in memory: reading starts after them. */
    rs_spool_seek(spool, &pos[19]);
    for (int i = 20; i < 30; i++)
        expect_read(spool, i);
    expect_nothing(spool);
    /* And a restart resumes after the acknowledged, memory or not. */
    rs_spool_close(spool);
    spool = open_spool(f, 0, 256, NULL);
    for (int i = 15; i < 30; i++)
        expect_read(spool, i);
    rs_spool_close(spool);
}

static void test_too_large_is_refused(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    char *big = calloc(1, RS_SPOOL_MAX_RECORD + 1);
    assert_non_null(big);
    assert_int_equal(rs_spool_append(spool, big, RS_SPOOL_MAX_RECORD + 1, NULL), -EMSGSIZE);
    assert_int_equal(rs_spool_append(spool, big, RS_SPOOL_MAX_RECORD, NULL), 0);
    free(big);
    rs_spool_close(spool);
}

static void test_rewind_hands_out_the_unacknowledged_again(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    for (int i = 0; i < 5; i++)
        append(spool, i);
    expect_read(spool, 0);
    struct rs_spool_pos second = expect_read(spool, 1);
    expect_read(spool, 2);
    assert_int_equal(rs_spool_ack(spool, &second), 0);
    /* A delivery of 2 failed: from 2 again, not from 0 and not from 3. */
    rs_spool_rewind(spool);
    for (int i = 2; i < 5; i++)
        expect_read(spool, i);
    expect_nothing(spool);
    rs_spool_close(spool);
}

static void test_reopen_resumes_after_the_acknowledged(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    for (int i = 0; i < 10; i++)
        append(spool, i);
    for (int i = 0; i < 3; i++)
        expect_read(spool, i);
    struct rs_spool_pos acked = expect_read(spool, 3);
    assert_int_equal(rs_spool_ack(spool, &acked), 0);
    expect_read(spool, 4); /* read, never acknowledged: a crash before the answer */
    rs_spool_close(spool);

    struct rs_spool_recovery recovery;
    spool = open_spool(f, 0, 0, &recovery);
    assert_int_equal(recovery.records, 6);
    assert_int_equal(recovery.cut_bytes, 0);
    /* 4 again (at least once), and nothing before it. */
    for (int i = 4; i < 10; i++)
        expect_read(spool, i);
    /* New records follow the old ones. */
    append(spool, 10);
    assert_int_equal(expect_read(spool, 10).seq, acked.seq + 7);
    expect_nothing(spool);
    rs_spool_close(spool);
    assert_resources_back(&f->before);
}

/* Records delivered past the cursor before a stop are not read again by the next open; a stale
 * list never hides a record appended after it. */
static void test_delivered_out_of_order_are_skipped(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    struct rs_spool_pos pos[8];
    for (int i = 0; i < 8; i++) {
        char buf[128];
        size_t len = payload(buf, sizeof(buf), i);
        assert_int_equal(rs_spool_append(spool, buf, len, &pos[i]), 0);
    }
    /* 0 and 1 delivered in order; 3, 4 and 6 ahead of 2 and 5. */
    assert_int_equal(rs_spool_ack(spool, &pos[1]), 0);
    const uint64_t ahead[] = {pos[3].seq, pos[4].seq, pos[6].seq};
    assert_int_equal(rs_spool_set_delivered(spool, ahead, 3), 0);
    rs_spool_close(spool);

    struct rs_spool_recovery recovery;
    spool = open_spool(f, 0, 0, &recovery);
    assert_int_equal(recovery.records, 3); /* 2, 5 and 7: the others were delivered */
    expect_read(spool, 2);
    struct rs_spool_pos five = expect_read(spool, 5);
    expect_read(spool, 7);
    expect_nothing(spool);
    /* A second stop that delivered nothing new: those skipped are still delivered, still ahead
     * of the cursor, and stay on the list (a reconfiguration after another). */
    assert_int_equal(rs_spool_set_delivered(spool, NULL, 0), 0);
    rs_spool_close(spool);
    spool = open_spool(f, 0, 0, NULL);
    expect_read(spool, 2);
    expect_read(spool, 5);
    expect_read(spool, 7);
    /* Once the cursor is past them, they leave the list. */
    assert_int_equal(rs_spool_ack(spool, &five), 0);
    assert_int_equal(rs_spool_set_delivered(spool, NULL, 0), 0);
    rs_spool_close(spool);
    spool = open_spool(f, 0, 0, NULL);
    expect_read(spool, 7);
    expect_nothing(spool);
    rs_spool_close(spool);
    assert_resources_back(&f->before);
}

/* Once all is delivered, a spool that grew gives its space back (a full disk would stay full
 * otherwise), and numbering goes on where it was, across an open. */
static void test_drained_spool_gives_space_back(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    static char big[70 << 10];
    memset(big, 'x', sizeof(big));
    struct rs_spool_pos pos;
    assert_int_equal(rs_spool_append(spool, big, sizeof(big), &pos), 0);
    assert_int_equal(count_segments(f), 1);
    assert_int_equal(rs_spool_ack(spool, &pos), 0);
    assert_int_equal(count_segments(f), 0);
    struct rs_spool_stats stats;
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.bytes, 0);
    assert_int_equal(stats.records, 0);
    rs_spool_close(spool);
    spool = open_spool(f, 0, 0, NULL);
    append(spool, 1);
    struct rs_spool_pos next = expect_read(spool, 1);
    assert_int_equal(next.seq, pos.seq + 1);
    rs_spool_close(spool);
    assert_resources_back(&f->before);
}

/* One holder at a time (flock() locks belong to an open file, so a second opening in this
 * process stands for another process): refused after its wait, and given it once the first lets
 * go. */
static void test_one_holder_at_a_time(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    append(spool, 0);
    struct rs_spool_config config = {f->dir, 0, 0, 0};
    struct rs_spool_recovery recovery;
    struct rs_spool *other = NULL;
    int64_t t0 = now_ms();
    assert_int_equal(rs_spool_open(&other, &config, &recovery), -EBUSY);
    assert_true(now_ms() - t0 >= 1900);
    assert_null(other);
    rs_spool_close(spool);
    spool = open_spool(f, 0, 0, NULL);
    expect_read(spool, 0);
    rs_spool_close(spool);
    assert_resources_back(&f->before);
}

/* Dropping everything: no record is read, every segment goes, the cursor survives a reopen, and
 * sequence numbers go on where they were. */
static void test_ack_all_without_reading(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 256, NULL);
    for (int n = 0; n < 20; n++)
        append(spool, n);
    assert_true(count_segments(f) > 1);
    expect_read(spool, 0); /* a reader half-way is no matter */
    assert_int_equal(rs_spool_ack_all(spool), 0);
    assert_int_equal(count_segments(f), 0);
    struct rs_spool_stats stats;
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.records, 0);
    assert_int_equal(stats.bytes, 0);
    expect_nothing(spool);
    append(spool, 20);
    struct rs_spool_pos pos = expect_read(spool, 20);
    assert_int_equal(pos.seq, 21);
    rs_spool_close(spool);
    struct rs_spool_recovery recovery;
    spool = open_spool(f, 0, 256, &recovery);
    assert_int_equal(recovery.records, 1);
    expect_read(spool, 20);
    expect_nothing(spool);
    /* An empty spool: nothing to do, and no harm. */
    assert_int_equal(rs_spool_ack_all(spool), 0);
    assert_int_equal(rs_spool_ack_all(spool), 0);
    rs_spool_close(spool);
    spool = open_spool(f, 0, 256, &recovery);
    assert_int_equal(recovery.records, 0);
    rs_spool_close(spool);
    assert_resources_back(&f->before);
}

/* A caller that must not wait long (an operator's command on Kea's main thread) says so. */
static void test_lock_wait_is_the_callers(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    struct rs_spool_config config = {f->dir, 0, 0, 100};
    struct rs_spool_recovery recovery;
    struct rs_spool *other = NULL;
    assert_int_equal(rs_spool_open(&other, &config, &recovery), -EBUSY);
    assert_null(other);
    rs_spool_close(spool);
    assert_int_equal(rs_spool_open(&other, &config, &recovery), 0);
    rs_spool_close(other);
    assert_resources_back(&f->before);
}

static void test_unfinished_record_is_cut_at_open(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    for (int i = 0; i < 5; i++)
        append(spool, i);
    rs_spool_close(spool);
    /* A crash in the middle of the last write: its record is there in part. */
    char *path = segment_path(f, 0);
    off_t whole = file_size(path);
    assert_int_equal(truncate(path, whole - 7), 0);

    struct rs_spool_recovery recovery;
    spool = open_spool(f, 0, 0, &recovery);
    assert_int_equal(recovery.records, 4);
    assert_true(recovery.cut_bytes > 0);
    assert_int_equal(file_size(path), whole - 7 - (off_t)recovery.cut_bytes);
    for (int i = 0; i < 4; i++)
        expect_read(spool, i);
    /* The next record takes the place of the lost one, and reads back whole. */
    append(spool, 5);
    expect_read(spool, 5);
    expect_nothing(spool);
    rs_spool_close(spool);

    /* Garbage after the last record (a write of zeros the kernel had not finished): cut too. */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    char zeros[100] = {0};
    assert_int_equal(write(fd, zeros, sizeof(zeros)), sizeof(zeros));
    close(fd);
    spool = open_spool(f, 0, 0, &recovery);
    assert_int_equal(recovery.cut_bytes, sizeof(zeros));
    assert_int_equal(recovery.records, 5);
    rs_spool_close(spool);
    free(path);
}

static void test_segments_roll_over_and_go_once_delivered(void **state)
{
    struct fixture *f = *state;
    /* Small segments: a few records each. */
    struct rs_spool *spool = open_spool(f, 0, 256, NULL);
    for (int i = 0; i < 40; i++)
        append(spool, i);
    size_t segments = count_segments(f);
    assert_true(segments >= 5);
    struct rs_spool_pos pos;
    for (int i = 0; i < 20; i++)
        pos = expect_read(spool, i);
    assert_int_equal(rs_spool_ack(spool, &pos), 0);
    assert_true(count_segments(f) < segments);
    assert_true(count_segments(f) > 1);
    for (int i = 20; i < 40; i++)
        pos = expect_read(spool, i);
    assert_int_equal(rs_spool_ack(spool, &pos), 0);
    /* The last stays, for the next record. */
    assert_int_equal(count_segments(f), 1);
    struct rs_spool_stats stats;
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.records, 0);
    assert_true(stats.bytes <= 256 + RS_SPOOL_HEADER_SIZE + 128);
    rs_spool_close(spool);

    /* Reopened when everything was delivered: nothing to read, and appending goes on. */
    struct rs_spool_recovery recovery;
    spool = open_spool(f, 0, 256, &recovery);
    assert_int_equal(recovery.records, 0);
    expect_nothing(spool);
    append(spool, 40);
    assert_int_equal(expect_read(spool, 40).seq, pos.seq + 1);
    rs_spool_close(spool);
}

static void test_damage_skips_the_rest_of_its_segment(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 256, NULL);
    for (int i = 0; i < 20; i++)
        append(spool, i);
    rs_spool_close(spool);
    /* A flipped byte in the first record of the second segment. */
    char *path = segment_path(f, 1);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    char byte;
    assert_int_equal(pread(fd, &byte, 1, RS_SPOOL_HEADER_SIZE + 2), 1);
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, RS_SPOOL_HEADER_SIZE + 2), 1);
    close(fd);
    free(path);

    spool = open_spool(f, 0, 256, NULL);
    /* The first segment whole, then the third segment's records on. */
    int n = 0;
    struct rs_spool_record record;
    uint64_t previous = 0;
    int seen = 0;
    while (rs_spool_read(spool, &record) == 0) {
        char buf[128];
        if (seen == 0)
            previous = record.pos.seq - 1;
        /* Which event it is, from the seq: they were appended 0, 1, 2... from seq 1. */
        n = (int)record.pos.seq - 1;
        size_t len = payload(buf, sizeof(buf), n);
        assert_int_equal(record.len, len);
        assert_memory_equal(record.data, buf, len);
        assert_true(record.pos.seq > previous);
        previous = record.pos.seq;
        seen++;
        free(record.data);
    }
    assert_true(seen > 0 && seen < 20);
    assert_int_equal(n, 19); /* the last record is there */
    struct rs_spool_stats stats;
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.skipped, 1);
    rs_spool_close(spool);
}

static void test_limit_refuses_then_makes_room(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 1000, 300, NULL);
    int appended = 0;
    char buf[128];
    for (int i = 0; i < 100; i++) {
        size_t len = payload(buf, sizeof(buf), i);
        int rc = rs_spool_append(spool, buf, len, NULL);
        if (rc == -ENOSPC)
            break;
        assert_int_equal(rc, 0);
        appended++;
    }
    assert_true(appended > 5 && appended < 100);
    struct rs_spool_stats stats;
    rs_spool_stats(spool, &stats);
    assert_true(stats.bytes <= 1000);
    assert_int_equal(stats.refused, 1);
    assert_int_equal(stats.records, appended);
    /* Delivered, they make room. */
    struct rs_spool_pos pos;
    for (int i = 0; i < appended; i++)
        pos = expect_read(spool, i);
    assert_int_equal(rs_spool_ack(spool, &pos), 0);
    append(spool, appended);
    expect_read(spool, appended);
    rs_spool_close(spool);
}

static void test_damaged_cursor_delivers_again_rather_than_lose(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 0, NULL);
    for (int i = 0; i < 4; i++)
        append(spool, i);
    expect_read(spool, 0);
    struct rs_spool_pos second = expect_read(spool, 1);
    assert_int_equal(rs_spool_ack(spool, &second), 0);
    rs_spool_close(spool);
    /* A power cut after the rename, before the data: an empty cursor. */
    char *cursor = NULL;
    assert_true(asprintf(&cursor, "%s/cursor", f->dir) > 0);
    assert_true(file_size(cursor) > 0);
    free(write_file(f->dir, "cursor", "", 0600));
    struct rs_spool_recovery recovery;
    spool = open_spool(f, 0, 0, &recovery);
    assert_int_equal(recovery.records, 4);
    for (int i = 0; i < 4; i++)
        expect_read(spool, i);
    rs_spool_close(spool);
    /* One that points at no record: the same. */
    free(write_file(f->dir, "cursor", "3 1 5\n", 0600));
    spool = open_spool(f, 0, 0, &recovery);
    assert_int_equal(recovery.records, 4);
    expect_read(spool, 0);
    rs_spool_close(spool);
    free(cursor);
}

static void test_unusable_directory(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = NULL;
    struct rs_spool_recovery recovery;
    char *missing = NULL, *under_file = NULL;
    assert_true(asprintf(&missing, "%s/no/such/dir", f->root) > 0);
    free(write_file(f->root, "file", "", 0600));
    assert_true(asprintf(&under_file, "%s/file/spool", f->root) > 0);
    struct rs_spool_config config = {missing, 0, 0, 0};
    assert_int_equal(rs_spool_open(&spool, &config, &recovery), -ENOENT);
    config.dir = under_file;
    assert_int_equal(rs_spool_open(&spool, &config, &recovery), -ENOTDIR);
    assert_null(spool);
    free(missing);
    free(under_file);
    assert_resources_back(&f->before);
}

/* --- many writers, one reader --- */

enum { WRITERS = 4, PER_WRITER = 2000 };

struct writer {
    pthread_t thread;
    struct rs_spool *spool;
    int id;
    int failures;
};

static void *write_many(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < PER_WRITER; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "%d %d", w->id, i);
        if (rs_spool_append(w->spool, buf, (size_t)len, NULL) != 0)
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_writers_lose_nothing(void **state)
{
    struct fixture *f = *state;
    struct rs_spool *spool = open_spool(f, 0, 64 * 1024, NULL);
    struct writer writers[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        writers[i] = (struct writer){.spool = spool, .id = i};
        assert_int_equal(pthread_create(&writers[i].thread, NULL, write_many, &writers[i]), 0);
    }
    /* The reader takes records while they are written, acknowledging as it goes. */
    int next[WRITERS] = {0};
    int total = 0;
    struct rs_spool_pos last = {0, 0, 0};
    int64_t end = now_ms() + scaled_ms(20000);
    while (total < WRITERS * PER_WRITER && now_ms() < end) {
        struct rs_spool_record record;
        int rc = rs_spool_read(spool, &record);
        if (rc == -ENOENT) {
            sleep_ms(1);
            continue;
        }
        assert_int_equal(rc, 0);
        int id = -1, i = -1;
        char text[64];
        assert_true(record.len < sizeof(text));
        memcpy(text, record.data, record.len);
        text[record.len] = '\0';
        assert_int_equal(sscanf(text, "%d %d", &id, &i), 2);
        assert_in_range(id, 0, WRITERS - 1);
        /* Each writer's records in the order it wrote them, none twice, none missing. */
        assert_int_equal(i, next[id]);
        next[id]++;
        assert_true(record.pos.seq > last.seq);
        last = record.pos;
        free(record.data);
        if (++total % 100 == 0)
            assert_int_equal(rs_spool_ack(spool, &last), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(writers[i].thread, NULL);
        assert_int_equal(writers[i].failures, 0);
    }
    assert_int_equal(total, WRITERS * PER_WRITER);
    assert_int_equal(rs_spool_ack(spool, &last), 0);
    struct rs_spool_stats stats;
    rs_spool_stats(spool, &stats);
    assert_int_equal(stats.records, 0);
    assert_int_equal(count_segments(f), 1);
    rs_spool_close(spool);
    assert_resources_back(&f->before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_value),
        cmocka_unit_test_setup_teardown(test_records_come_back_in_order_byte_exact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acknowledged_without_reading_and_seek, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_too_large_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewind_hands_out_the_unacknowledged_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_resumes_after_the_acknowledged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delivered_out_of_order_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drained_spool_gives_space_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_holder_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_all_without_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_wait_is_the_callers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unfinished_record_is_cut_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_roll_over_and_go_once_delivered, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damage_skips_the_rest_of_its_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_refuses_then_makes_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_cursor_delivers_again_rather_than_lose, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unusable_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers_lose_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
