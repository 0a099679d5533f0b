/* states.c: the states stateful layers carry from one batch to the next,
 * for the public API (reset, read, write). Each call of such a layer keeps
 * them in memory its build allocated, so they survive new plans. */
#include "graph/graph.h"

#include <string.h>

typedef void (*state_fn)(float *kept, int64_t count, void *ctx);

static void each_state(const mx_model *m, state_fn fn, void *ctx) {
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        if (!n->layer->type->persistent) continue;
        int64_t count = 0;
        float *kept;
        for (int k = 0; (kept = n->layer->type->persistent(n, k, &count)) != NULL; k++)
            if (count > 0) fn(kept, count, ctx);
    }
}

static void zero(float *kept, int64_t count, void *ctx) {
    (void)ctx;
    memset(kept, 0, sizeof(float) * (size_t)count);
}

static void count_of(float *kept, int64_t count, void *ctx) {
    (void)kept;
    *(int64_t *)ctx += count;
}

static void get(float *kept, int64_t count, void *ctx) {
    float **dst = ctx;
    memcpy(*dst, kept, sizeof(float) * (size_t)count);
    *dst += count;
}

static void set(float *kept, int64_t count, void *ctx) {
    const float **src = ctx;
    memcpy(kept, *src, sizeof(float) * (size_t)count);
    *src += count;
}

int mx_model_reset_states(mx_model *m) {
    each_state(m, zero, NULL);
    return 0;
}

int64_t mx_model_states_size(const mx_model *m) {
    int64_t n = 0;
    each_state(m, count_of, &n);
    return n;
}

void mx_model_states_get(const mx_model *m, float *dst) { each_state(m, get, &dst); }

void mx_model_states_set(mx_model *m, const float *src) { each_state(m, set, &src); }
