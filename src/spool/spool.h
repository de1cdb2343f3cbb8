/*
 * spool: one script's events on disk, in order, for when they cannot wait in memory.
 *
 * A spool is a directory of append-only segment files and a cursor. Any thread appends records
 * (opaque bytes: what an event is, is the caller's business); one reader takes them back, oldest
 * first, and acknowledges them once they were delivered. A record is never handed out again once
 * acknowledged, and never lost before: after a stop, a restart or a crash of the process, the
 * reader resumes at the first record not acknowledged.
 *
 * On disk, in the spool's directory:
 *
 *   0000000000000001.seg   segments, each named by the sequence number of its first record (hex);
 *                          a new one is begun once the last has grown past segment_bytes, and a
 *                          segment is removed once every record in it was acknowledged
 *   cursor                 "SEQ SEGMENT OFFSET\n": the first record not acknowledged, its
 *                          segment and where it begins there; replaced whole (rename), absent
 *                          while nothing was
 *   delivered              records past the cursor delivered before a stop (see below)
 *   lock                   flock()ed by the process that has the spool open
 *
 * A record is a 24-byte header, then its payload:
 *
 *   u32 magic "RSR1"  u32 payload length  u64 sequence number  u32 CRC-32C  u32 zero
 *
 * (little endian), the CRC covering length, sequence number and payload. A record cut short by a
 * crash, or damaged, fails its check: at the end of the newest segment it is cut off when the
 * spool is opened, elsewhere the reader skips what is left of that segment and says so.
 *
 * What survives: an appended record is in the kernel's page cache when rs_spool_append() returns,
 * so it survives the process (a stop, kill -9, a crash), not a power cut or a kernel crash: there
 * is no fsync. After a crash, records delivered but not yet acknowledged are delivered again.
 *
 * Every record has a position: its sequence number and where it ends on disk. Appending and
 * reading both give it, and acknowledging takes it, so a record that was appended and then
 * delivered from memory is acknowledged without ever being read back.
 *
 * Threads: rs_spool_append() and rs_spool_stats() from any thread; rs_spool_read(),
 * rs_spool_seek(), rs_spool_rewind() and rs_spool_ack() from one reader thread at a time.
 *
 * Errors are negative errno values.
 */
#ifndef RS_SPOOL_H
#define RS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* A payload larger than this is refused (and a header claiming more is damage). */
#define RS_SPOOL_MAX_RECORD            (1u << 20)
#define RS_SPOOL_HEADER_SIZE           24
#define RS_SPOOL_DEFAULT_SEGMENT_BYTES (4u << 20)

struct rs_spool_config {
    const char *dir;        /* created (mode 0700) if missing; its parent must exist */
    uint64_t limit_bytes;   /* the segments' total size, at most; 0: no limit */
    uint64_t segment_bytes; /* 0: RS_SPOOL_DEFAULT_SEGMENT_BYTES */
    unsigned lock_wait_ms;  /* how long opening waits for another holder; 0: 2000 ms */
};

struct rs_spool;

/* What opening found, for the caller to log. */
struct rs_spool_recovery {
    uint64_t records;   /* waiting to be read */
    uint64_t cut_bytes; /* a damaged or unfinished tail cut off the newest segment */
};

/* Opens (creating if need be) the spool in config->dir and finds where it left off. -ENOTDIR,
 * -EACCES, -EROFS...: the directory cannot be used; -EBUSY: another process has it open (it is
 * given lock_wait_ms to close it). A damaged or empty cursor file is no error: reading then starts
 * at the oldest record there is (delivered again rather than lost). */
int rs_spool_open(struct rs_spool **out, const struct rs_spool_config *config,
                  struct rs_spool_recovery *recovery);

/* Where a record is: its sequence number, its segment and the offset where the next begins. */
struct rs_spool_pos {
    uint64_t seq;
    uint64_t segment; /* the first_seq of its segment */
    uint64_t end;
};

/* Appends one record and gives its position (`pos` may be NULL). -ENOSPC: past the limit, or
 * the disk is full (nothing was written); -EMSGSIZE: larger than RS_SPOOL_MAX_RECORD; other: the
 * write failed. */
int rs_spool_append(struct rs_spool *spool, const void *data, size_t len, struct rs_spool_pos *pos);

struct rs_spool_record {
    struct rs_spool_pos pos;
    void *data; /* malloc'ed; the caller frees it */
    size_t len;
};

/* The record after the last one read, in `record`. 0; -ENOENT: none yet; -errno: reading failed.
 * A damaged record is skipped with what follows it in its segment (counted in `skipped`). */
int rs_spool_read(struct rs_spool *spool, struct rs_spool_record *record);

/* The reader has read all there is for now: it lets go of the segment it was reading, which an
 * acknowledgement may remove (its space would stay taken while it is open). The next read goes
 * on where this one stopped. */
void rs_spool_pause_reading(struct rs_spool *spool);

/* The next read starts after the record at `pos` (one appended or read before). */
void rs_spool_seek(struct rs_spool *spool, const struct rs_spool_pos *pos);

/* The next read starts again at the first record not acknowledged. */
void rs_spool_rewind(struct rs_spool *spool);

/* Every record up to the one at `pos` (included) was delivered: the cursor moves past it, and
 * spent segments are removed. A position at or before the cursor changes nothing. */
int rs_spool_ack(struct rs_spool *spool, const struct rs_spool_pos *pos);

/* Every record appended so far is acknowledged without being read (an operator dropped them):
 * the cursor moves past the last one and every segment is removed, however many records they
 * hold: the work is one cursor write and one unlink per segment. Reader thread. */
int rs_spool_ack_all(struct rs_spool *spool);

/* Records past the cursor that were delivered (out of order) and must not be read again: kept in
 * the file "delivered" (replaced whole; removed when `count` is 0) for the next open, whose reader
 * skips them. For a clean stop while earlier records wait: without it, they would be delivered
 * twice. Reader thread. */
int rs_spool_set_delivered(struct rs_spool *spool, const uint64_t seqs[], size_t count);

struct rs_spool_stats {
    uint64_t records;  /* appended and not acknowledged */
    uint64_t bytes;    /* the segments' total size on disk */
    uint64_t appended; /* since it was opened */
    uint64_t refused;  /* appends refused: limit or disk full */
    uint64_t skipped;  /* damaged records skipped by the reader */
};

void rs_spool_stats(struct rs_spool *spool, struct rs_spool_stats *stats);

/* Closes the files; what was not acknowledged stays on disk for the next open. */
void rs_spool_close(struct rs_spool *spool);

/* CRC-32C (Castagnoli) of `len` bytes, continuing from `crc` (0 to begin): with the processor's
 * instruction where it has one, else rs_crc32c_portable(), which gives the same values. */
uint32_t rs_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t rs_crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
