/* file.c: whole-file reads and atomic writes (path.tmp, then rename), so
 * an interrupted save never leaves a half-written file behind. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "core.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

char *mx_read_file(const char *path, size_t *len, size_t max_bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return mx_failp("%s: cannot open (%s)", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return mx_failp("%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max_bytes) {
        fclose(f);
        return mx_failp("%s: %lld bytes is larger than the limit of %zu", path, (long long)st.st_size, max_bytes);
    }
    char *buf = mx_alloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    if (got != (size_t)st.st_size) {
        mx_free(buf);
        return mx_failp("%s: read %zu of %lld bytes", path, got, (long long)st.st_size);
    }
    buf[got] = 0;
    if (len) *len = got;
    return buf;
}

int mx_write_file(const char *path, const void *data, size_t len) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return mx_fail("%s: cannot create (%s)", tmp, strerror(errno));
    size_t put = fwrite(data, 1, len, f);
    int bad = put != len || fflush(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return mx_fail("%s: cannot write (%s)", path, strerror(errno));
    }
    return 0;
}

int mx_mkdirs(const char *dir) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return mx_fail("%s: cannot create directory (%s)", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return mx_fail("%s: cannot create directory (%s)", buf, strerror(errno));
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* rm -rf without a shell: no quoting to get wrong, and SIGINT is not
 * ignored meanwhile as it is during system() */
int mx_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : mx_fail("%s: %s", path, strerror(errno));
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return mx_fail("%s: cannot remove (%s)", path, strerror(errno));
    return 0;
}
