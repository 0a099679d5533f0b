/* folder.c: a labelled image dataset from dir/<class>/<image files>, the
 * layout of Keras's image_dataset_from_directory (labels inferred).
 *
 * Classes are the subfolders of dir in byte order (Python's sorted()), hidden
 * ones skipped; a class's samples are its .png/.jpg/.jpeg files (any case)
 * in byte order, class after class. Other files, hidden files and nested
 * folders are ignored. Images are decoded and resized in parallel, one
 * image per task, each into its own slot: the result does not depend on the
 * thread count, and a failure reports the first bad file in sample order. */
#define _POSIX_C_SOURCE 200809L
#include "data/data.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* A growing list of owned strings. */
typedef struct names {
    char **s;
    int n, cap;
} names;

static void names_free(names *l) {
    for (int i = 0; i < l->n; i++) mx_free(l->s[i]);
    mx_free(l->s);
    *l = (names){0};
}

static int names_push(names *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **grown = mx_alloc_array((size_t)cap, sizeof(char *));
        if (!grown) return -1;
        if (l->n) memcpy(grown, l->s, sizeof(char *) * (size_t)l->n);
        mx_free(l->s);
        l->s = grown;
        l->cap = cap;
    }
    if (!(l->s[l->n] = mx_strdup(s))) return -1;
    l->n++;
    return 0;
}

static int by_bytes(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* The visible entries of dir that are folders (want_dirs) or image files,
 * sorted, into out. */
static int list_dir(const char *dir, int want_dirs, names *out) {
    DIR *d = opendir(dir);
    if (!d) return mx_fail("%s: cannot open image folder (%s)", dir, strerror(errno));
    char path[4096];
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.' || (!want_dirs && !is_image_name(e->d_name))) continue;
        int k = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (k < 0 || (size_t)k >= sizeof path) {
            rc = mx_fail("%s/%s: path too long", dir, e->d_name);
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0 || (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) continue;
        rc = names_push(out, want_dirs ? e->d_name : path);
    }
    closedir(d);
    if (!rc && out->n > 1) qsort(out->s, (size_t)out->n, sizeof(char *), by_bytes);
    return rc;
}

typedef struct load_job {
    char **paths; /* (n) */
    mx_dataset *d;
    int h, w, channels;
    mx_resize method;
    atomic_llong first_bad; /* lowest failed sample so far, n if none */
    pthread_mutex_t mu;
    char msg[1024]; /* its error message */
} load_job;

static void load_range(void *p, int64_t begin, int64_t end) {
    load_job *j = p;
    int64_t ss = mx_dataset_sample_size(j->d);
    for (int64_t i = begin; i < end; i++) {
        /* a sample after a known failure is not needed; one before it might fail first */
        if (i > atomic_load_explicit(&j->first_bad, memory_order_relaxed)) return;
        mx_tensor *t = mx_image_load(j->paths[i], j->channels);
        if (t) {
            mx_image_resize(t->data, (int)t->shape[0], (int)t->shape[1], j->channels, j->d->x + i * ss, j->h, j->w,
                            j->method);
            mx_tensor_free(t);
            continue;
        }
        /* mx_error() belongs to this thread: hand the message over */
        pthread_mutex_lock(&j->mu);
        if (i < atomic_load(&j->first_bad)) {
            snprintf(j->msg, sizeof j->msg, "%s", mx_error());
            atomic_store(&j->first_bad, i);
        }
        pthread_mutex_unlock(&j->mu);
        return;
    }
}

/* Decode paths into d->x; -1 with the first failure's message. */
static int load_all(char **paths, mx_dataset *d, int h, int w, int channels, mx_resize method) {
    load_job j = {.paths = paths, .d = d, .h = h, .w = w, .channels = channels, .method = method};
    atomic_init(&j.first_bad, d->n);
    pthread_mutex_init(&j.mu, NULL);
    mx_parallel_for(d->n, 1, load_range, &j);
    pthread_mutex_destroy(&j.mu);
    return atomic_load(&j.first_bad) < d->n ? mx_fail("%s", j.msg) : 0;
}

mx_dataset *mx_image_folder_load(const char *dir, int h, int w, int channels, mx_resize method) {
    if (!dir) return mx_failp("image folder: no path");
    if (h <= 0 || w <= 0 || h > 16384 || w > 16384)
        return mx_failp("%s: image size %dx%d must be 1..16384 per side", dir, h, w);
    if (channels != 1 && channels != 3) return mx_failp("%s: channels must be 1 or 3, not %d", dir, channels);
    if (method != MX_RESIZE_BILINEAR && method != MX_RESIZE_NEAREST && method != MX_RESIZE_AREA)
        return mx_failp("%s: unknown resize method %d", dir, (int)method);
    names classes = {0}, files = {0};
    int *class_end = NULL; /* (classes.n) files.n after listing each class */
    mx_dataset *d = NULL;
    if (list_dir(dir, 1, &classes)) goto done;
    if (classes.n == 0) {
        mx_fail("%s: no class subfolders (expected %s/<class>/<images>)", dir, dir);
        goto done;
    }
    if (!(class_end = mx_alloc_array((size_t)classes.n, sizeof(int)))) goto done;
    char path[4096];
    for (int c = 0; c < classes.n; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, classes.s[c]); /* fits: list_dir checked it */
        if (list_dir(path, 0, &files)) goto done;
        class_end[c] = files.n;
    }
    if (files.n == 0) {
        mx_fail("%s: no .png, .jpg or .jpeg images in its %d class subfolders", dir, classes.n);
        goto done;
    }
    if (!(d = mx_dataset_new(files.n, 3, (const int64_t[]){h, w, channels}, 1))) goto done;
    for (int c = 0, i = 0; c < classes.n; c++)
        for (; i < class_end[c]; i++) d->y[i] = c;
    if (load_all(files.s, d, h, w, channels, method)) {
        mx_dataset_free(d);
        d = NULL;
        goto done;
    }
    /* the dataset takes the class names */
    d->n_classes = classes.n;
    d->class_names = classes.s;
    classes = (names){0};
done:
    names_free(&classes);
    names_free(&files);
    mx_free(class_end);
    return d;
}
