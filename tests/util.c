/* util.c: helpers shared by the engine tests. */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mx_model *tu_sequential_try(const char *input, const char *layers, uint64_t seed) {
    char *json = malloc(strlen(layers) + 512);
    sprintf(json,
            "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"t\", \"layers\": ["
            "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %s]}}, %s]}}",
            input, layers);
    mx_model *m = mx_model_from_json(json, "test", seed);
    free(json);
    return m;
}

mx_model *tu_sequential(const char *input, const char *layers, uint64_t seed) {
    mx_model *m = tu_sequential_try(input, layers, seed);
    if (!m) mx_test_fail(__FILE__, __LINE__, "model did not build: %s", mx_error());
    return m;
}

void tu_fill(float *x, int64_t n, uint64_t seed, float lo, float hi) {
    mx_rng r;
    mx_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)mx_rng_uniform(&r);
}

const float *tu_forward(mx_model *m, const float *x, int batch, int training) {
    if (mx_graph_plan(m, batch, training)) {
        mx_test_fail(__FILE__, __LINE__, "plan: %s", mx_error());
        return NULL;
    }
    memcpy(m->inputs[0]->data, x, sizeof(float) * (size_t)(batch * m->inputs[0]->size));
    mx_exec ex = {batch, training, 1, 0};
    mx_graph_forward(m, &ex);
    return m->outputs[0]->data;
}

void tu_gradcheck(mx_model *m, int batch, uint64_t seed, double tol, const char *what) {
    int64_t n = 0;
    for (int i = 0; i < m->n_inputs; i++) n += batch * m->inputs[i]->size;
    float *x = malloc(sizeof(float) * (size_t)n);
    tu_fill(x, n, seed, -1, 1);
    mx_gradcheck_result r;
    int rc = mx_gradcheck(m, x, batch, seed, 24, 1e-3, &r);
    free(x);
    CHECK_MSG(rc == 0, "%s: gradcheck failed to run: %s", what, mx_error());
    CHECK_MSG(r.checked > 0, "%s: nothing checked", what);
    CHECK_MSG(r.max_err <= tol, "%s: max error %.3g > %.3g at %s", what, r.max_err, tol, r.worst);
    CHECK_MSG(r.skipped * 4 <= r.checked + r.skipped, "%s: %d of %d probes hit kinks", what, r.skipped,
              r.checked + r.skipped);
}

mx_param *tu_param(mx_model *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i]->name, name)) return m->params[i];
    mx_test_fail(__FILE__, __LINE__, "no weight %s", name);
    return NULL;
}

double tu_maxdiff(const float *a, const float *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

const char *tu_write(const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", mx_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        mx_test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return path;
    }
    fputs(text, f);
    fclose(f);
    return path;
}
