/* datasets.c: the named datasets with their search paths.
 *
 * Where a named dataset is looked for, first match wins:
 *   dir given:   dir, dir/<subdir>   (only there; for opencv_digits dir may
 *                                     also be the path of digits.png)
 *   dir NULL:    $MLEXP_DATA/<subdir>, $MLEXP_DATA, ./data/<subdir>, ./data,
 *                then the system location of the Debian package.
 * <subdir> is fashion-mnist or mnist; digits.png is looked for directly in
 * each directory. */
#define _POSIX_C_SOURCE 200809L
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PATH_LEN 4096
#define MAX_PLACES 6

typedef enum source { SRC_IDX, SRC_DIGITS } source;

typedef struct named {
    const char *name;
    source src;
    const char *subdir;     /* under $MLEXP_DATA, ./data and the given dir */
    const char *system_dir; /* Debian package location, or NULL */
    const char *hint;       /* how to get it */
    const char *const *classes; /* 10 names */
} named;

static const char *const g_fashion_classes[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const char *const g_digit_classes[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

static const named g_named[] = {
    {"fashion_mnist", SRC_IDX, "fashion-mnist", "/usr/share/datasets/fashion-mnist",
     "apt-get install dataset-fashion-mnist, or pass --data DIR with the four IDX files", g_fashion_classes},
    {"mnist", SRC_IDX, "mnist", NULL,
     "download the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
     "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) and pass --data DIR or put them in "
     "$MLEXP_DATA/mnist",
     g_digit_classes},
    {"opencv_digits", SRC_DIGITS, NULL, "/usr/share/doc/opencv-doc/examples/data",
     "apt-get install opencv-doc, or pass --data with digits.png or its directory", g_digit_classes},
};

typedef struct places {
    int n;
    char dir[MAX_PLACES][PATH_LEN];
} places;

static void add_place(places *p, const char *base, const char *sub) {
    if (!base || !*base || p->n == MAX_PLACES) return;
    int k = sub ? snprintf(p->dir[p->n], PATH_LEN, "%s/%s", base, sub) : snprintf(p->dir[p->n], PATH_LEN, "%s", base);
    if (k > 0 && k < PATH_LEN) p->n++;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/stem.gz or dir/stem into out; 0 if neither exists */
static int find_idx(const char *dir, const char *stem, char *out) {
    int k = snprintf(out, PATH_LEN, "%s/%s.gz", dir, stem);
    if (k > 0 && k < PATH_LEN && is_file(out)) return 1;
    k = snprintf(out, PATH_LEN, "%s/%s", dir, stem);
    return k > 0 && k < PATH_LEN && is_file(out);
}

static mx_dataset *load_from(const named *ds, const char *dir, int test, int *found) {
    char images[PATH_LEN], labels[PATH_LEN];
    if (ds->src == SRC_DIGITS) {
        int k = snprintf(images, PATH_LEN, "%s/digits.png", dir);
        if (!(*found = k > 0 && k < PATH_LEN && is_file(images))) return NULL;
        return mx_digits_load(images, test);
    }
    const char *split = test ? "t10k" : "train";
    char stem_i[32], stem_l[32];
    snprintf(stem_i, sizeof stem_i, "%s-images-idx3-ubyte", split);
    snprintf(stem_l, sizeof stem_l, "%s-labels-idx1-ubyte", split);
    if (!(*found = find_idx(dir, stem_i, images) && find_idx(dir, stem_l, labels))) return NULL;
    return mx_idx_load(images, labels);
}

static int set_classes(mx_dataset *d, const named *ds, const char *where) {
    if (d->n_classes > 10)
        return mx_fail("%s: %s labels go up to %d, expected 0..9", where, ds->name, d->n_classes - 1);
    d->n_classes = 10;
    if (!(d->class_names = mx_names_copy(ds->classes, 10))) return -1;
    return 0;
}

mx_dataset *mx_dataset_load(const char *name, const char *split, const char *dir) {
    const named *ds = NULL;
    for (size_t i = 0; i < sizeof g_named / sizeof g_named[0]; i++)
        if (name && !strcmp(name, g_named[i].name)) ds = &g_named[i];
    if (!ds) return mx_failp("unknown dataset '%s' (valid: fashion_mnist, mnist, opencv_digits)", name ? name : "");
    if (!split || (strcmp(split, "train") && strcmp(split, "test")))
        return mx_failp("%s: unknown split '%s' (valid: train, test)", name, split ? split : "");
    int test = !strcmp(split, "test");

    places p = {0};
    if (dir && ds->src == SRC_DIGITS && is_file(dir)) {
        mx_dataset *d = mx_digits_load(dir, test);
        if (d && set_classes(d, ds, dir)) {
            mx_dataset_free(d);
            return NULL;
        }
        return d;
    }
    if (dir) {
        add_place(&p, dir, NULL);
        if (ds->subdir) add_place(&p, dir, ds->subdir);
    } else {
        const char *env = getenv("MLEXP_DATA");
        if (ds->subdir) add_place(&p, env, ds->subdir);
        add_place(&p, env, NULL);
        if (ds->subdir) add_place(&p, "./data", ds->subdir);
        add_place(&p, "./data", NULL);
        add_place(&p, ds->system_dir, NULL);
    }
    for (int i = 0; i < p.n; i++) {
        int found = 0;
        mx_dataset *d = load_from(ds, p.dir[i], test, &found);
        if (!found) continue;
        if (d && set_classes(d, ds, p.dir[i])) {
            mx_dataset_free(d);
            return NULL;
        }
        return d; /* a broken copy is an error, not a reason to look further */
    }
    char list[MAX_PLACES * 64 + 64] = "";
    size_t k = 0;
    for (int i = 0; i < p.n && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", p.dir[i]);
    const char *files = ds->src == SRC_DIGITS ? "digits.png"
                        : test               ? "t10k-{images-idx3,labels-idx1}-ubyte[.gz]"
                                             : "train-{images-idx3,labels-idx1}-ubyte[.gz]";
    return mx_failp("dataset %s (%s) not found: looked for %s in %s; %s", name, split, files, list, ds->hint);
}
