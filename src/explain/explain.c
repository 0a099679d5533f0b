/* explain.c: the public entry points of explanations (mx.h): a network
 * description in, its trace out as JSON text; the same call serves the
 * command line and the WebAssembly page. */
#include "explain/explain.h"

#include <stdlib.h>
#include <string.h>

char *mx_explain(const char *text, const char *origin, const mx_explain_options *o) {
    mx_netfile nf;
    if (mx_netfile_load(text, origin, &nf)) return NULL;
    int steps = o && o->steps > 0 ? o->steps : nf.steps;
    if (steps > 1000) steps = 1000;
    json_t *trace = mx_explain_trace(&nf, steps, o ? o->precision : 0);
    mx_netfile_free(&nf);
    if (!trace) return mx_failp("%s: %s", origin, "cannot run the network");
    char *s = json_dumps(trace, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
    json_decref(trace);
    return s ? s : mx_failp("out of memory writing the trace");
}

mx_model *mx_explain_load(const char *text, const char *origin, mx_tensor **x, mx_tensor **targets) {
    mx_netfile nf;
    if (mx_netfile_load(text, origin, &nf)) return NULL;
    mx_model *m = nf.model;
    int64_t xs[MX_MAX_RANK + 1] = {nf.batch}, ts[1] = {nf.t_size};
    int rank = 1 + m->inputs[0]->rank;
    memcpy(xs + 1, m->inputs[0]->dims, sizeof(int64_t) * (size_t)m->inputs[0]->rank);
    if (m->n_inputs > 1) { /* with initial states: (batch, all sizes), every input's batch in turn */
        rank = 2;
        xs[1] = 0;
        for (int i = 0; i < m->n_inputs; i++) xs[1] += m->inputs[i]->size;
    }
    *x = mx_tensor_new(rank, xs);
    *targets = mx_tensor_new(1, ts);
    if (!*x || !*targets) {
        mx_tensor_free(*x);
        mx_tensor_free(*targets);
        mx_netfile_free(&nf);
        return NULL;
    }
    memcpy((*x)->data, nf.x, sizeof(float) * (size_t)mx_tensor_size(*x));
    memcpy((*targets)->data, nf.t, sizeof(float) * (size_t)nf.t_size);
    nf.model = NULL; /* the caller's now */
    mx_netfile_free(&nf);
    return m;
}
