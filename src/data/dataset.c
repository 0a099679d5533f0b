/* dataset.c: the dataset struct: allocation, slicing, freeing. Apart from
 * the named datasets (datasets.c) and their file formats, so that builds
 * without image and compression libraries (WebAssembly) keep it. */
#include "data/data.h"

#include <string.h>

int64_t mx_dataset_sample_size(const mx_dataset *d) {
    if (!d) return 0;
    int64_t n = 1;
    for (int i = 0; i < d->rank; i++) n *= d->shape[i];
    return n;
}

static void free_names(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) mx_free(names[i]);
    mx_free(names);
}

int mx_dataset_label_steps(const mx_dataset *d) { return d && d->y_steps > 1 ? d->y_steps : 1; }

void mx_dataset_free(mx_dataset *d) {
    if (!d) return;
    mx_free(d->x);
    mx_free(d->y);
    free_names(d->class_names, d->n_classes);
    mx_free(d);
}

mx_dataset *mx_dataset_new(int64_t n, int rank, const int64_t *shape, int with_labels) {
    if (n < 0 || rank < 0 || rank > MX_MAX_RANK) return mx_failp("dataset: invalid size or rank");
    int64_t total = n;
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0 || !mx_mul_ok(total, shape[i], &total)) return mx_failp("dataset: sample shape too large");
    mx_dataset *d = mx_alloc(sizeof *d);
    if (!d) return NULL;
    d->n = n;
    d->rank = rank;
    memcpy(d->shape, shape, sizeof(int64_t) * (size_t)rank);
    d->x = mx_alloc_array((size_t)total, sizeof(float)); /* (n, shape...) */
    d->y = with_labels ? mx_alloc_array((size_t)n * (size_t)with_labels, sizeof(int32_t)) : NULL; /* (n, steps) */
    d->y_steps = with_labels > 1 ? with_labels : 0;
    if (!d->x || (with_labels && !d->y)) {
        mx_dataset_free(d);
        return NULL;
    }
    return d;
}

char **mx_names_copy(const char *const *names, int n) {
    char **out = mx_alloc_array((size_t)n, sizeof(char *));
    for (int i = 0; out && i < n; i++)
        if (!(out[i] = mx_strdup(names[i]))) {
            free_names(out, i);
            return NULL;
        }
    return out;
}

mx_dataset *mx_dataset_slice(const mx_dataset *d, int64_t start, int64_t count) {
    if (!d) return mx_failp("dataset slice: no dataset");
    if (start < 0 || count < 0 || start > d->n || count > d->n - start)
        return mx_failp("dataset slice [%lld, %lld) is outside the %lld samples", (long long)start,
                        (long long)(start + count), (long long)d->n);
    const int steps = mx_dataset_label_steps(d);
    mx_dataset *s = mx_dataset_new(count, d->rank, d->shape, d->y != NULL ? steps : 0);
    if (!s) return NULL;
    int64_t ss = mx_dataset_sample_size(d);
    memcpy(s->x, d->x + start * ss, sizeof(float) * (size_t)(count * ss));
    if (d->y) memcpy(s->y, d->y + start * steps, sizeof(int32_t) * (size_t)(count * steps));
    s->n_classes = d->n_classes;
    if (d->class_names && !(s->class_names = mx_names_copy((const char *const *)d->class_names, d->n_classes))) {
        mx_dataset_free(s);
        return NULL;
    }
    return s;
}
