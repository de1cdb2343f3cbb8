/*
 * script_trust: whether a configured script may run as Kea's user.
 *
 * Kea's control channel can replace the whole configuration, this library's parameters included.
 * Unless the script's path is checked, that makes the library a way to run any program as Kea's
 * user. Two rules close it:
 *
 * - Ownership, on every Kea release (as cron, sudo and sshd's StrictModes do): the script and
 *   every directory on its path belong to root or to Kea's own user, and none of them is
 *   writable by group or others. One exception is a sticky directory such as /tmp, where only an
 *   entry's owner can replace it: it passes when the entry on the path belongs to root or Kea's
 *   user. Symbolic links are followed, and both the path as written and the resolved path must
 *   pass.
 * - Kea's scripts directory, from Kea 3.0 (as ISC's own hooks do): the script's directory must be
 *   exactly that one, and a bare file name means a script in it.
 */
#ifndef RS_SCRIPT_TRUST_H
#define RS_SCRIPT_TRUST_H

#include <stddef.h>

/*
 * The second rule: the path to run for a configured `path`. With `scripts_dir` NULL, `path`
 * itself; otherwise `path` if its directory is `scripts_dir`, and `scripts_dir`/`path` for a bare
 * name. Returns 0 and the path in `*placed` (malloc'd), or -EPERM (-ENOMEM) and a sentence in
 * `why` that names the directory.
 */
int rs_script_place(const char *path, const char *scripts_dir, char **placed, char *why,
                    size_t why_size);

/*
 * The first rule, for an existing `path`. Returns 0, or -EPERM (or -errno when a part of the path
 * cannot be examined) and a sentence in `why` that names the offending file or directory.
 */
int rs_script_trusted(const char *path, char *why, size_t why_size);

#endif
