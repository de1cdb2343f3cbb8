#include "script_trust.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool trusted_owner(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

static int cannot_examine(const char *what, char *why, size_t why_size)
{
    int rc = -errno;
    snprintf(why, why_size, "cannot examine %s: %s", what, strerror(errno));
    return rc;
}

/* Someone other than root and Kea's user could replace what `st` describes. */
static int untrusted(const char *kind, const char *name, const struct stat *st, char *why,
                     size_t why_size)
{
    if (!trusted_owner(st->st_uid))
        snprintf(why, why_size,
                 "%s %s belongs to uid %u, not to root or Kea's user: whoever owns it could "
                 "choose what Kea runs",
                 kind, name, (unsigned)st->st_uid);
    else
        snprintf(why, why_size,
                 "%s %s is writable by %s: only its owner and root may be able to change what "
                 "Kea runs (chmod go-w %s)",
                 kind, name, st->st_mode & S_IWOTH ? "anyone" : "its group", name);
    return -EPERM;
}

/* The directories of absolute path `path`, from "/" down, then the file itself. */
static int check_chain(const char *path, char *why, size_t why_size)
{
    char dir[PATH_MAX], entry[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(dir)) {
        snprintf(why, why_size, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    for (size_t i = 0; i < len; i++) {
        if (path[i] != '/' || path[i + 1] == '/' || path[i + 1] == '\0')
            continue;
        size_t dir_len = i ? i : 1;
        memcpy(dir, path, dir_len);
        dir[dir_len] = '\0';
        size_t end = i + 1;
        while (end < len && path[end] != '/')
            end++;
        memcpy(entry, path, end);
        entry[end] = '\0';
        struct stat st;
        if (stat(dir, &st) < 0)
            return cannot_examine(dir, why, why_size);
        if (!trusted_owner(st.st_uid))
            return untrusted("directory", dir, &st, why, why_size);
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
            /* In a sticky directory (/tmp) only an entry's owner may rename or remove it. */
            struct stat entry_st;
            if (!(st.st_mode & S_ISVTX))
                return untrusted("directory", dir, &st, why, why_size);
            if (lstat(entry, &entry_st) < 0)
                return cannot_examine(entry, why, why_size);
            if (!trusted_owner(entry_st.st_uid))
                return untrusted("directory entry", entry, &entry_st, why, why_size);
        }
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return cannot_examine(path, why, why_size);
    if (!trusted_owner(st.st_uid) || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return untrusted("script", path, &st, why, why_size);
    return 0;
}

/* As Kea 3.0's own checker (PathChecker::validatePath) has it. */
int rs_script_place(const char *path, const char *scripts_dir, char **placed, char *why,
                    size_t why_size)
{
    if (!scripts_dir) {
        *placed = strdup(path);
    } else {
        size_t dir_len = strlen(scripts_dir);
        while (dir_len > 1 && scripts_dir[dir_len - 1] == '/')
            dir_len--;
        const char *slash = strrchr(path, '/');
        if (slash) {
            size_t parent_len = (size_t)(slash - path);
            while (parent_len > 1 && path[parent_len - 1] == '/')
                parent_len--;
            if (parent_len != dir_len || strncmp(path, scripts_dir, dir_len) != 0 || !slash[1]) {
                snprintf(why, why_size,
                         "%s is not in Kea's scripts directory %.*s: this Kea runs hook scripts "
                         "only from there (start Kea with KEA_HOOK_SCRIPTS_PATH set to name "
                         "another directory)",
                         path, (int)dir_len, scripts_dir);
                return -EPERM;
            }
            *placed = strdup(path);
        } else {
            size_t size = dir_len + 1 + strlen(path) + 1;
            *placed = malloc(size);
            if (*placed)
                snprintf(*placed, size, "%.*s/%s", (int)dir_len, scripts_dir, path);
        }
    }
    if (!*placed) {
        snprintf(why, why_size, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

int rs_script_trusted(const char *path, char *why, size_t why_size)
{
    /* As written (a link's directory decides who can change the link), then as resolved. */
    int rc = path[0] == '/' ? check_chain(path, why, why_size) : 0;
    if (!rc) {
        char real[PATH_MAX];
        if (!realpath(path, real))
            rc = cannot_examine(path, why, why_size);
        else if (strcmp(real, path) != 0)
            rc = check_chain(real, why, why_size);
    }
    return rc;
}
