/* data.h: internals shared by the dataset loaders (src/data/). */
#ifndef MX_DATA_H
#define MX_DATA_H

#include "core/core.h"

/* A dataset of n samples of the given shape with zeroed x and, if
 * with_labels, zeroed y of with_labels labels per sample (y_steps); no
 * class names. Free with mx_dataset_free. */
mx_dataset *mx_dataset_new(int64_t n, int rank, const int64_t *shape, int with_labels);
/* Copies of n strings (for class names), or NULL. */
char **mx_names_copy(const char *const *names, int n);

/* OpenCV's digits.png (100 x 50 cells of 20x20, five grid rows per digit):
 * test = 1 gives the last grid row of each digit (1,000 samples), test = 0
 * the other four (4,000). Samples are (28, 28, 1), the cell centred in a
 * 4-pixel zero border, in grid order: digit 0's first. */
mx_dataset *mx_digits_load(const char *png_path, int test);

#endif
