#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define RECORD_MAGIC     0x31525352u /* "RSR1" read as a little-endian u32 */
#define SEGMENT_SUFFIX   ".seg"
#define SEGMENT_NAME_LEN (16 + sizeof(SEGMENT_SUFFIX) - 1)
#define CURSOR_NAME      "cursor"
#define CURSOR_TMP_NAME  "cursor.tmp"
#define LOCK_NAME        "lock"
#define DELIVERED_NAME   "delivered"
#define DELIVERED_TMP    "delivered.tmp"
/* A drained spool removes its newest segment too once it holds this much. */
#define RS_SPOOL_DRAINED_REMOVE_BYTES (64u << 10)
/* How long opening waits for another holder of the spool to let go of it. */
#define LOCK_WAIT_MS 2000

struct segment {
    uint64_t first_seq;
    uint64_t size; /* bytes of whole records: what a reader may read */
    bool sealed;   /* damaged or with a failed write behind `size`: never appended to again */
};

struct rs_spool {
    int dir_fd;
    int lock_fd; /* flock()ed: one process at a time */
    uint64_t limit_bytes, segment_bytes;

    pthread_mutex_t lock;     /* the segment list, the writer, the cursor and the counters */
    struct segment *segments; /* oldest first; appends go to the last */
    size_t nr_segments, alloc_segments;
    int write_fd; /* the last segment, or -1: the next append begins a new one */
    uint64_t next_seq;
    uint64_t total_bytes;
    uint64_t cursor_seq;     /* the first record not acknowledged */
    uint64_t cursor_segment; /* ...its segment's first_seq, and where it begins there */
    uint64_t cursor_offset;
    struct rs_spool_stats counters;

    /* The reader's own, touched by the reader thread only. */
    uint64_t *delivered; /* sorted: records past the cursor delivered before the last close */
    size_t nr_delivered;
    int read_fd;
    uint64_t read_segment; /* first_seq of the segment read_fd reads */
    uint64_t read_offset;
};

/* --- CRC-32C --- */

/* Slicing by 8 where the processor has no CRC-32C instruction: tables built once. */
static uint32_t crc_table[8][256];
static bool crc_hardware;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
#if defined(__x86_64__)
    crc_hardware = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_software(uint32_t crc, const unsigned char *p, size_t len)
{
    pthread_once(&crc_once, crc_init);
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        word ^= crc; /* little endian: the CRC meets the first four bytes */
        crc = crc_table[7][word & 0xff] ^ crc_table[6][(word >> 8) & 0xff] ^
              crc_table[5][(word >> 16) & 0xff] ^ crc_table[4][(word >> 24) & 0xff] ^
              crc_table[3][(word >> 32) & 0xff] ^ crc_table[2][(word >> 40) & 0xff] ^
              crc_table[1][(word >> 48) & 0xff] ^ crc_table[0][word >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
/* The spool's checksum is paid on Kea's thread for each spooled event: the instruction does a
 * kilobyte in a tenth of the time the tables take. */
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const unsigned char *p,
                                                            size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        len -= 8;
    }
    crc = (uint32_t)c;
    while (len--)
        crc = __builtin_ia32_crc32qi(crc, *p++);
    return crc;
}
#endif

uint32_t rs_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
    if (crc_hardware)
        return ~crc_sse42(~crc, data, len);
#endif
    return ~crc_software(~crc, data, len);
}

uint32_t rs_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    return ~crc_software(~crc, data, len);
}

/* --- records --- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The CRC covers the payload, then the length and sequence number as the header has them: the
 * payload's part is computed before the sequence number is known, outside the lock. */
static uint32_t crc_finish(uint32_t payload_crc, const unsigned char *header)
{
    return rs_crc32c(payload_crc, header + 4, 12);
}

static void header_fill(unsigned char *header, uint32_t len, uint64_t seq, uint32_t payload_crc)
{
    put_u32(header, RECORD_MAGIC);
    put_u32(header + 4, len);
    put_u64(header + 8, seq);
    put_u32(header + 16, crc_finish(payload_crc, header));
    put_u32(header + 20, 0);
}

/* Reads the record at `offset` of `fd`, which may hold `end` bytes. 1: a whole record, with
 * its payload in *data (malloc'ed) when `data` is not NULL; 0: damaged or cut short; -errno. */
static int record_at(int fd, uint64_t offset, uint64_t end, uint64_t *seq, uint32_t *len,
                     void **data)
{
    unsigned char header[RS_SPOOL_HEADER_SIZE];
    if (end - offset < sizeof(header))
        return 0;
    ssize_t got = pread(fd, header, sizeof(header), (off_t)offset);
    if (got < 0)
        return -errno;
    if ((size_t)got < sizeof(header) || get_u32(header) != RECORD_MAGIC ||
        get_u32(header + 20) != 0)
        return 0;
    uint32_t length = get_u32(header + 4);
    if (length > RS_SPOOL_MAX_RECORD || end - offset - sizeof(header) < length)
        return 0;
    void *payload = malloc(length ? length : 1);
    if (!payload)
        return -ENOMEM;
    got = length ? pread(fd, payload, length, (off_t)(offset + sizeof(header))) : 0;
    int rc = got < 0 ? -errno : 0;
    if (!rc && ((size_t)got != length ||
                crc_finish(rs_crc32c(0, payload, length), header) != get_u32(header + 16)))
        rc = 1; /* damaged */
    if (rc) {
        free(payload);
        return rc < 0 ? rc : 0;
    }
    *seq = get_u64(header + 8);
    *len = length;
    if (data)
        *data = payload;
    else
        free(payload);
    return 1;
}

/* --- segments --- */

static void segment_name(char *name, uint64_t first_seq)
{
    snprintf(name, SEGMENT_NAME_LEN + 1, "%016" PRIx64 SEGMENT_SUFFIX, first_seq);
}

static bool parse_segment_name(const char *name, uint64_t *first_seq)
{
    if (strlen(name) != SEGMENT_NAME_LEN || strcmp(name + 16, SEGMENT_SUFFIX) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return false;
        v = v << 4 | (uint64_t)digit;
    }
    *first_seq = v;
    return true;
}

static int open_segment(struct rs_spool *s, uint64_t first_seq, int flags)
{
    char name[SEGMENT_NAME_LEN + 1];
    segment_name(name, first_seq);
    int fd = openat(s->dir_fd, name, flags | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

static int add_segment(struct rs_spool *s, uint64_t first_seq, uint64_t size)
{
    if (s->nr_segments == s->alloc_segments) {
        size_t alloc = s->alloc_segments ? s->alloc_segments * 2 : 16;
        struct segment *grown = realloc(s->segments, alloc * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        s->segments = grown;
        s->alloc_segments = alloc;
    }
    s->segments[s->nr_segments++] = (struct segment){first_seq, size, false};
    s->total_bytes += size;
    return 0;
}

static struct segment *find_segment(struct rs_spool *s, uint64_t first_seq)
{
    for (size_t i = 0; i < s->nr_segments; i++)
        if (s->segments[i].first_seq == first_seq)
            return &s->segments[i];
    return NULL;
}

static int compare_segments(const void *a, const void *b)
{
    uint64_t x = ((const struct segment *)a)->first_seq, y = ((const struct segment *)b)->first_seq;
    return (x > y) - (x < y);
}

/* Every segment file of the directory, oldest first, with its size on disk. */
static int list_segments(struct rs_spool *s)
{
    int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = 0;
    struct dirent *entry;
    while (!rc && (entry = readdir(dir))) {
        uint64_t first_seq;
        struct stat st;
        if (!parse_segment_name(entry->d_name, &first_seq))
            continue;
        if (fstatat(s->dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            rc = -errno;
        else if (S_ISREG(st.st_mode))
            rc = add_segment(s, first_seq, (uint64_t)st.st_size);
    }
    closedir(dir);
    if (!rc && s->nr_segments > 1)
        qsort(s->segments, s->nr_segments, sizeof(*s->segments), compare_segments);
    return rc;
}

/* Walks the newest segment's records: the sequence number after its last whole one, and its
 * length, which is where a record cut short by a crash begins. */
static int scan_last_segment(struct rs_spool *s, struct rs_spool_recovery *recovery)
{
    struct segment *last = &s->segments[s->nr_segments - 1];
    int fd = open_segment(s, last->first_seq, O_RDWR);
    if (fd < 0)
        return fd;
    uint64_t offset = 0, next_seq = last->first_seq;
    for (;;) {
        uint64_t seq;
        uint32_t len;
        int rc = record_at(fd, offset, last->size, &seq, &len, NULL);
        if (rc < 0) {
            close(fd);
            return rc;
        }
        if (rc == 0 || seq != next_seq)
            break;
        next_seq = seq + 1;
        offset += RS_SPOOL_HEADER_SIZE + len;
    }
    if (offset < last->size) {
        if (ftruncate(fd, (off_t)offset) < 0) {
            int rc = -errno;
            close(fd);
            return rc;
        }
        recovery->cut_bytes = last->size - offset;
        s->total_bytes -= last->size - offset;
        last->size = offset;
    }
    close(fd);
    s->next_seq = next_seq;
    return 0;
}

/* --- the cursor --- */

static int write_cursor(struct rs_spool *s, uint64_t seq, uint64_t segment, uint64_t offset)
{
    char text[80];
    int len =
        snprintf(text, sizeof(text), "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", seq, segment, offset);
    int fd = openat(s->dir_fd, CURSOR_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    ssize_t wrote = write(fd, text, (size_t)len);
    int rc = wrote == len ? 0 : wrote < 0 ? -errno : -ENOSPC; /* short: the disk is full */
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && renameat(s->dir_fd, CURSOR_TMP_NAME, s->dir_fd, CURSOR_NAME) < 0)
        rc = -errno;
    return rc;
}

/* The cursor as last written, checked against the segments. Without one, or with one that does
 * not point at a record (a power cut may leave it empty), reading starts at the oldest record
 * there is: delivering some events again is better than losing any. */
static void read_cursor(struct rs_spool *s)
{
    uint64_t oldest = s->nr_segments ? s->segments[0].first_seq : s->next_seq;
    s->cursor_seq = s->cursor_segment = oldest;
    s->cursor_offset = 0;

    char text[80] = "";
    int fd = openat(s->dir_fd, CURSOR_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t got = read(fd, text, sizeof(text) - 1);
    close(fd);
    uint64_t seq, segment, offset;
    if (got <= 0 || sscanf(text, "%" SCNu64 " %" SCNu64 " %" SCNu64, &seq, &segment, &offset) != 3)
        return;
    if (!s->nr_segments) {
        /* All was delivered and its segments removed: numbering goes on where it was, so that
         * no number ever means two records. */
        if (seq > s->next_seq)
            s->next_seq = s->cursor_seq = s->cursor_segment = seq;
        return;
    }
    struct segment *in = find_segment(s, segment);
    if (!in || seq < segment || seq > s->next_seq || offset > in->size)
        return;
    if (offset < in->size) {
        fd = open_segment(s, segment, O_RDONLY);
        if (fd < 0)
            return;
        uint64_t found;
        uint32_t len;
        int rc = record_at(fd, offset, in->size, &found, &len, NULL);
        close(fd);
        if (rc != 1 || found != seq)
            return;
    }
    s->cursor_seq = seq;
    s->cursor_segment = segment;
    s->cursor_offset = offset;
}

/* --- records delivered out of order --- */

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The list rs_spool_set_delivered() left: only numbers between the cursor and the last record
 * count, so a stale or damaged file can never hide a record appended later. */
static void read_delivered(struct rs_spool *s)
{
    FILE *in = NULL;
    int fd = openat(s->dir_fd, DELIVERED_NAME, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && !(in = fdopen(fd, "r")))
        close(fd);
    if (!in)
        return;
    uint64_t seq;
    size_t alloc = 0;
    while (fscanf(in, "%" SCNu64, &seq) == 1) {
        if (seq < s->cursor_seq || seq >= s->next_seq)
            continue;
        if (s->nr_delivered == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            uint64_t *grown = realloc(s->delivered, alloc * sizeof(*grown));
            if (!grown)
                break; /* delivered again rather than not at all */
            s->delivered = grown;
        }
        s->delivered[s->nr_delivered++] = seq;
    }
    fclose(in);
    qsort(s->delivered, s->nr_delivered, sizeof(*s->delivered), compare_u64);
}

static int write_delivered(struct rs_spool *s, const uint64_t seqs[], size_t count);

static bool was_delivered(const struct rs_spool *s, uint64_t seq)
{
    return s->nr_delivered &&
           bsearch(&seq, s->delivered, s->nr_delivered, sizeof(seq), compare_u64) != NULL;
}

int rs_spool_set_delivered(struct rs_spool *s, const uint64_t seqs[], size_t count)
{
    /* Those the last open skipped are still delivered, and still ahead of the cursor if it has
     * not passed them: they stay on the list. */
    pthread_mutex_lock(&s->lock);
    uint64_t cursor = s->cursor_seq;
    pthread_mutex_unlock(&s->lock);
    size_t kept = 0;
    for (size_t i = 0; i < s->nr_delivered; i++)
        kept += s->delivered[i] >= cursor;
    uint64_t *all = NULL;
    if (kept) {
        all = malloc((kept + count) * sizeof(*all));
        if (!all)
            return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < s->nr_delivered; i++)
            if (s->delivered[i] >= cursor)
                all[n++] = s->delivered[i];
        if (count)
            memcpy(all + n, seqs, count * sizeof(*seqs));
        seqs = all;
        count += kept;
    }
    int rc = write_delivered(s, seqs, count);
    free(all);
    return rc;
}

static int write_delivered(struct rs_spool *s, const uint64_t seqs[], size_t count)
{
    if (!count) {
        if (unlinkat(s->dir_fd, DELIVERED_NAME, 0) < 0 && errno != ENOENT)
            return -errno;
        return 0;
    }
    int fd = openat(s->dir_fd, DELIVERED_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc;
    }
    for (size_t i = 0; i < count; i++)
        fprintf(out, "%" PRIu64 "\n", seqs[i]);
    int rc = ferror(out) ? -EIO : 0;
    if (fclose(out) != 0 && !rc)
        rc = errno == ENOSPC || errno == EDQUOT ? -ENOSPC : -EIO;
    if (!rc && renameat(s->dir_fd, DELIVERED_TMP, s->dir_fd, DELIVERED_NAME) < 0)
        rc = -errno;
    return rc;
}

/* --- opening and closing --- */

/* Two processes appending to one spool would interleave their sequence numbers: the second one
 * to come waits a little (a reconfiguration may still be closing it), then is refused. */
static int take_lock(struct rs_spool *s, unsigned wait_ms)
{
    s->lock_fd = openat(s->dir_fd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return -errno;
    for (int waited = 0;; waited += 20) {
        if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        if (waited >= (int)wait_ms)
            return -EBUSY;
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    }
}

int rs_spool_open(struct rs_spool **out, const struct rs_spool_config *config,
                  struct rs_spool_recovery *recovery)
{
    *recovery = (struct rs_spool_recovery){0};
    if (mkdir(config->dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    int dir_fd = open(config->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        return -errno;
    if (faccessat(dir_fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
        int rc = -errno;
        close(dir_fd);
        return rc;
    }
    struct rs_spool *s = calloc(1, sizeof(*s));
    if (!s) {
        close(dir_fd);
        return -ENOMEM;
    }
    s->dir_fd = dir_fd;
    s->limit_bytes = config->limit_bytes;
    s->segment_bytes =
        config->segment_bytes ? config->segment_bytes : RS_SPOOL_DEFAULT_SEGMENT_BYTES;
    s->write_fd = s->read_fd = s->lock_fd = -1;
    s->next_seq = 1;
    pthread_mutex_init(&s->lock, NULL);
    int rc = take_lock(s, config->lock_wait_ms ? config->lock_wait_ms : LOCK_WAIT_MS);
    if (!rc)
        rc = list_segments(s);
    if (!rc && s->nr_segments)
        rc = scan_last_segment(s, recovery);
    if (rc) {
        rs_spool_close(s);
        return rc;
    }
    read_cursor(s);
    read_delivered(s);
    s->read_segment = s->cursor_segment;
    s->read_offset = s->cursor_offset;
    /* Those delivered before the stop are skipped when read: not waiting. */
    recovery->records = s->next_seq - s->cursor_seq - s->nr_delivered;
    *out = s;
    return 0;
}

void rs_spool_close(struct rs_spool *s)
{
    if (s->write_fd >= 0)
        close(s->write_fd);
    if (s->read_fd >= 0)
        close(s->read_fd);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* and with it the lock */
    close(s->dir_fd);
    pthread_mutex_destroy(&s->lock);
    free(s->segments);
    free(s->delivered);
    free(s);
}

/* --- appending --- */

/* The segment appends go to, begun anew when there is none or the last one is full. */
static int writable_segment(struct rs_spool *s)
{
    struct segment *last = s->nr_segments ? &s->segments[s->nr_segments - 1] : NULL;
    bool room = last && !last->sealed && last->size < s->segment_bytes;
    if (s->write_fd >= 0 && room)
        return 0;
    if (s->write_fd < 0 && room) {
        /* Reopened after a restart: go on where the newest segment ends. */
        int fd = open_segment(s, last->first_seq, O_WRONLY | O_APPEND);
        if (fd >= 0) {
            s->write_fd = fd;
            return 0;
        }
    }
    int fd = open_segment(s, s->next_seq, O_WRONLY | O_APPEND | O_CREAT | O_EXCL);
    if (fd < 0)
        return fd;
    int rc = add_segment(s, s->next_seq, 0);
    if (rc) {
        char name[SEGMENT_NAME_LEN + 1];
        segment_name(name, s->next_seq);
        unlinkat(s->dir_fd, name, 0);
        close(fd);
        return rc;
    }
    if (s->write_fd >= 0)
        close(s->write_fd);
    s->write_fd = fd;
    return 0;
}

int rs_spool_append(struct rs_spool *s, const void *data, size_t len, struct rs_spool_pos *pos)
{
    if (len > RS_SPOOL_MAX_RECORD)
        return -EMSGSIZE;
    uint32_t payload_crc = rs_crc32c(0, data, len);
    unsigned char header[RS_SPOOL_HEADER_SIZE];
    size_t size = sizeof(header) + len;

    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (s->limit_bytes && s->total_bytes + size > s->limit_bytes)
        rc = -ENOSPC;
    if (!rc)
        rc = writable_segment(s);
    if (!rc) {
        struct segment *last = &s->segments[s->nr_segments - 1];
        header_fill(header, (uint32_t)len, s->next_seq, payload_crc);
        struct iovec iov[2] = {{header, sizeof(header)}, {(void *)data, len}};
        ssize_t wrote = writev(s->write_fd, iov, len ? 2 : 1);
        if (wrote == (ssize_t)size) {
            if (pos)
                *pos = (struct rs_spool_pos){s->next_seq, last->first_seq, last->size + size};
            last->size += size;
            s->total_bytes += size;
            s->next_seq++;
            s->counters.appended++;
        } else {
            rc = wrote < 0 ? -errno : -ENOSPC; /* a short write to a file: the disk is full */
            /* Take back what part of it was written, so the segment ends with a whole record;
             * if that fails, appends go on in a new segment and the reader stops at the size
             * known here. */
            if (wrote > 0 && ftruncate(s->write_fd, (off_t)last->size) < 0) {
                close(s->write_fd);
                s->write_fd = -1;
                last->sealed = true;
            }
        }
    }
    if (rc == -ENOSPC || rc == -EDQUOT)
        s->counters.refused++;
    pthread_mutex_unlock(&s->lock);
    return rc == -EDQUOT ? -ENOSPC : rc;
}

/* --- reading --- */

int rs_spool_read(struct rs_spool *s, struct rs_spool_record *record)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        struct segment *in = find_segment(s, s->read_segment);
        uint64_t end = in ? in->size : 0;
        /* The segment after the one being read, if any; and whether that one is the last. */
        uint64_t next = 0;
        bool found_next = false;
        for (size_t i = 0; i < s->nr_segments && !found_next; i++) {
            if (s->segments[i].first_seq > s->read_segment) {
                next = s->segments[i].first_seq;
                found_next = true;
            }
        }
        pthread_mutex_unlock(&s->lock);

        if (!in || s->read_offset >= end) {
            if (!found_next)
                return -ENOENT;
            if (s->read_fd >= 0)
                close(s->read_fd);
            s->read_fd = -1;
            s->read_segment = next;
            s->read_offset = 0;
            continue;
        }
        if (s->read_fd < 0) {
            int fd = open_segment(s, s->read_segment, O_RDONLY);
            if (fd < 0)
                return fd;
            s->read_fd = fd;
        }
        uint64_t seq;
        uint32_t len;
        void *data = NULL;
        int rc = record_at(s->read_fd, s->read_offset, end, &seq, &len, &data);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            /* Damage: nothing after it in this segment can be trusted to be framed right, and
             * new records must not land there, where they would be skipped too. */
            pthread_mutex_lock(&s->lock);
            s->counters.skipped++;
            in = find_segment(s, s->read_segment);
            if (in && !in->sealed) {
                in->sealed = true;
                if (in == &s->segments[s->nr_segments - 1] && s->write_fd >= 0) {
                    close(s->write_fd);
                    s->write_fd = -1;
                }
            }
            end = in ? in->size : end;
            pthread_mutex_unlock(&s->lock);
            s->read_offset = end;
            continue;
        }
        uint64_t record_end = s->read_offset + RS_SPOOL_HEADER_SIZE + len;
        s->read_offset = record_end;
        if (was_delivered(s, seq)) {
            free(data);
            continue;
        }
        *record = (struct rs_spool_record){{seq, s->read_segment, record_end}, data, len};
        return 0;
    }
}

void rs_spool_pause_reading(struct rs_spool *s)
{
    if (s->read_fd >= 0)
        close(s->read_fd);
    s->read_fd = -1;
}

static void read_from(struct rs_spool *s, uint64_t segment, uint64_t offset)
{
    if (s->read_fd >= 0 && s->read_segment != segment) {
        close(s->read_fd);
        s->read_fd = -1;
    }
    s->read_segment = segment;
    s->read_offset = offset;
}

void rs_spool_seek(struct rs_spool *s, const struct rs_spool_pos *pos)
{
    read_from(s, pos->segment, pos->end);
}

void rs_spool_rewind(struct rs_spool *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t segment = s->cursor_segment, offset = s->cursor_offset;
    pthread_mutex_unlock(&s->lock);
    read_from(s, segment, offset);
}

/* Removes the segment files that begin at `first_seqs`, the cursor being past them; stops at the
 * first that cannot be. One that is gone already is no error: gone is what is wanted. */
static int remove_segments(struct rs_spool *s, const uint64_t *first_seqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[SEGMENT_NAME_LEN + 1];
        segment_name(name, first_seqs[i]);
        if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
            return -errno;
    }
    return 0;
}

int rs_spool_ack(struct rs_spool *s, const struct rs_spool_pos *pos)
{
    struct rs_spool_pos mark = *pos;

    /* Segments older than the cursor's hold nothing left to deliver. They leave the list now,
     * and the disk once the new cursor is there: a crash in between leaves them to the next
     * acknowledgement. The files are handled outside the lock, which Kea's threads take to
     * append. */
    pthread_mutex_lock(&s->lock);
    if (mark.seq < s->cursor_seq) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    s->cursor_seq = mark.seq + 1;
    s->cursor_segment = mark.segment;
    s->cursor_offset = mark.end;
    /* Everything delivered, and the newest segment past a small size: it goes too, so that a
     * spool that filled its disk gives the space back once drained. The next append begins a
     * new one. */
    struct segment *last = s->nr_segments ? &s->segments[s->nr_segments - 1] : NULL;
    if (last && mark.seq + 1 == s->next_seq && mark.segment == last->first_seq &&
        mark.end == last->size && last->size >= RS_SPOOL_DRAINED_REMOVE_BYTES) {
        if (s->write_fd >= 0)
            close(s->write_fd);
        s->write_fd = -1;
        s->cursor_segment = s->next_seq;
        s->cursor_offset = 0;
    }
    uint64_t cursor_segment = s->cursor_segment, cursor_offset = s->cursor_offset;
    size_t spent = 0;
    while (spent < s->nr_segments && s->segments[spent].first_seq < cursor_segment)
        s->total_bytes -= s->segments[spent++].size;
    uint64_t *spent_seqs = NULL;
    if (spent && (spent_seqs = malloc(spent * sizeof(*spent_seqs)))) {
        for (size_t i = 0; i < spent; i++)
            spent_seqs[i] = s->segments[i].first_seq;
        s->nr_segments -= spent;
        memmove(s->segments, s->segments + spent, s->nr_segments * sizeof(*s->segments));
    } else if (spent) {
        for (size_t i = 0; i < spent; i++)
            s->total_bytes += s->segments[i].size; /* left for the next acknowledgement */
        spent = 0;
    }
    pthread_mutex_unlock(&s->lock);

    int rc = write_cursor(s, mark.seq + 1, cursor_segment, cursor_offset);
    if (!rc)
        rc = remove_segments(s, spent_seqs, spent);
    free(spent_seqs);
    return rc;
}

int rs_spool_ack_all(struct rs_spool *s)
{
    /* As rs_spool_ack() of the last record when it drains the spool: the cursor points at the
     * segment the next append begins, and every segment there is goes. */
    pthread_mutex_lock(&s->lock);
    if (s->write_fd >= 0)
        close(s->write_fd);
    s->write_fd = -1;
    s->cursor_seq = s->cursor_segment = s->next_seq;
    s->cursor_offset = 0;
    size_t spent = s->nr_segments;
    uint64_t *spent_seqs = spent ? malloc(spent * sizeof(*spent_seqs)) : NULL;
    if (spent && !spent_seqs) {
        pthread_mutex_unlock(&s->lock);
        return -ENOMEM; /* the cursor alone would do, but the disk would stay taken */
    }
    for (size_t i = 0; i < spent; i++)
        spent_seqs[i] = s->segments[i].first_seq;
    s->nr_segments = 0;
    s->total_bytes = 0;
    uint64_t next_seq = s->next_seq;
    pthread_mutex_unlock(&s->lock);

    read_from(s, next_seq, 0);
    s->nr_delivered = 0; /* all behind the cursor now */
    int rc = write_cursor(s, next_seq, next_seq, 0);
    if (!rc)
        rc = write_delivered(s, NULL, 0);
    if (!rc)
        rc = remove_segments(s, spent_seqs, spent);
    free(spent_seqs);
    return rc;
}

void rs_spool_stats(struct rs_spool *s, struct rs_spool_stats *stats)
{
    pthread_mutex_lock(&s->lock);
    *stats = s->counters;
    stats->records = s->next_seq - s->cursor_seq;
    stats->bytes = s->total_bytes;
    pthread_mutex_unlock(&s->lock);
}
