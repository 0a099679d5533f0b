/* util.h: helpers shared by the engine tests (internal headers allowed). */
#ifndef MX_TEST_UTIL_H
#define MX_TEST_UTIL_H

#include "graph/graph.h"
#include "mx.h"
#include "test.h"
#include "train/train.h"

/* A Sequential model: InputLayer of shape `input` ("4, 4, 2") then the
 * comma-separated layer configs in `layers`. */
mx_model *tu_sequential(const char *input, const char *layers, uint64_t seed);
/* The same for a model that may fail to build (NULL, mx_error() says why). */
mx_model *tu_sequential_try(const char *input, const char *layers, uint64_t seed);
/* Uniform values in [lo, hi) */
void tu_fill(float *x, int64_t n, uint64_t seed, float lo, float hi);
/* Forward pass in inference (training = 0) or training mode; returns output 0. */
const float *tu_forward(mx_model *m, const float *x, int batch, int training);
/* Gradient check of every trainable weight and the inputs; fails the test
 * above tol or when more than a quarter of the probes hit kinks. */
void tu_gradcheck(mx_model *m, int batch, uint64_t seed, double tol, const char *what);
mx_param *tu_param(mx_model *m, const char *name);
/* max |a - b| */
double tu_maxdiff(const float *a, const float *b, int64_t n);
/* Write text to a file in the test's temp dir; returns the path (static buffer). */
const char *tu_write(const char *name, const char *text);

#endif
