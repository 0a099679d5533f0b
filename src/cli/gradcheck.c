/* gradcheck.c: `mlexp gradcheck MODEL`: the engine's analytic gradients of
 * every weight tensor and of the input against central finite differences,
 * one table row per tensor; exit 1 when one fails. MODEL is a model
 * directory or model.json (loss: a fixed random projection of the output),
 * an experiment file or a network description of `mlexp explain` (their
 * own loss, with random or the given targets). */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* random targets the experiment's loss accepts: classes, one-hot rows,
 * probabilities, or values */
static mx_tensor *random_targets(mx_loss_kind loss, int batch, int64_t out_size, uint64_t seed) {
    int sparse = loss == MX_LOSS_SPARSE_CATEGORICAL_CE;
    int64_t shape[1] = {sparse ? batch : batch * out_size};
    mx_tensor *t = mx_tensor_new(1, shape);
    if (!t) return NULL;
    uint64_t s = seed * 2654435761u + 1;
    for (int n = 0; n < batch; n++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        int64_t cls = (int64_t)((s >> 33) % (uint64_t)out_size);
        if (sparse) {
            t->data[n] = (float)cls;
            continue;
        }
        for (int64_t j = 0; j < out_size; j++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            float u = (float)((s >> 40) & 0xffffff) / (float)(1 << 24);
            t->data[n * out_size + j] = loss == MX_LOSS_CATEGORICAL_CE ? (float)(j == cls) : loss == MX_LOSS_BINARY_CE ? u : 2 * u - 1;
        }
    }
    return t;
}

static mx_tensor *random_input(mx_model *m, int batch, uint64_t seed, float lo, float hi) {
    int64_t shape[MX_MAX_RANK];
    shape[0] = batch;
    int r = mx_model_input_shape(m, 0, shape + 1);
    mx_tensor *x = mx_tensor_new(r + 1, shape);
    if (!x) return NULL;
    uint64_t s = seed * 0x9E3779B97F4A7C15u + 7;
    for (int64_t i = 0; i < mx_tensor_size(x); i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x->data[i] = lo + (hi - lo) * (float)((s >> 40) & 0xffffff) / (float)(1 << 24);
    }
    return x;
}

typedef struct loaded {
    mx_model *m;
    mx_tensor *x, *t; /* t NULL: the projection loss */
    char what[160];
} loaded;

static int load(const char *path, int batch, uint64_t seed, loaded *l) {
    memset(l, 0, sizeof *l);
    struct stat st;
    if (stat(path, &st) != 0) return mx_fail("%s: not found", path);
    if (S_ISDIR(st.st_mode)) {
        if (!(l->m = mx_model_load(path))) return -1;
        snprintf(l->what, sizeof l->what, "model");
    } else {
        json_error_t e;
        json_t *j = json_load_file(path, 0, &e);
        if (!j) return mx_fail("%s: line %d: %s", path, e.line, e.text);
        int topology = json_object_get(j, "modelTopology") != NULL, desc = json_object_get(j, "layers") && json_object_get(j, "inputs");
        int experiment = json_object_get(j, "dataset") != NULL;
        json_decref(j);
        if (topology) {
            if (!(l->m = mx_model_load(path))) return -1;
            snprintf(l->what, sizeof l->what, "model");
        } else if (desc) {
            size_t len;
            char *text = mx_read_file(path, &len, 16u << 20);
            if (!text) return -1;
            l->m = mx_explain_load(text, path, &l->x, &l->t);
            mx_free(text);
            if (!l->m) return -1;
            snprintf(l->what, sizeof l->what, "network description");
            return 0;
        } else if (experiment) {
            cli_experiment ex;
            if (cli_experiment_load(path, &ex)) return -1;
            if (!ex.model_json) {
                cli_experiment_free(&ex);
                return mx_fail("%s: a transfer experiment: check its trained model directory instead", path);
            }
            l->m = mx_model_from_json(ex.model_json, path, ex.seed);
            int rc = l->m ? mx_model_compile(l->m, ex.loss, ex.from_logits, &ex.opt) : -1;
            snprintf(l->what, sizeof l->what, "experiment (%s)", mx_loss_name(ex.loss));
            if (!rc) {
                int64_t os[MX_MAX_RANK], size = 1;
                int r = mx_model_output_shape(l->m, 0, os);
                for (int i = 0; i < r; i++) size *= os[i];
                l->t = random_targets(ex.loss, batch, size, seed);
                if (!l->t) rc = -1;
            }
            cli_experiment_free(&ex);
            if (rc) return -1;
            /* inputs as the experiment's preprocessing leaves them: 0..1 */
            if (!(l->x = random_input(l->m, batch, seed, 0, 1))) return -1;
            return 0;
        } else {
            return mx_fail("%s: neither a model.json, an experiment nor a network description", path);
        }
    }
    l->x = random_input(l->m, batch, seed, -1, 1);
    return l->x ? 0 : -1;
}

static void shape_text(const mx_gradcheck_tensor *t, char *buf, size_t n) { mx_shape_str(t->rank, t->shape, buf, n); }

int cmd_gradcheck(int argc, char **argv) {
    const char *batch_s = NULL, *seed_s = NULL, *eps_s = NULL, *tol_s = NULL, *entries_s = NULL;
    const cli_opt opts[] = {
        {"--batch", "N", "samples in the batch (default 2; a network description uses its own inputs)", &batch_s, NULL},
        {"--seed", "S", "random inputs, targets, entries and direction (default 1)", &seed_s, NULL},
        {"--eps", "H", "finite-difference step (default 1e-3)", &eps_s, NULL},
        {"--tol", "T", "largest error that passes (default 1e-2)", &tol_s, NULL},
        {"--entries", "K", "entries checked one by one per tensor (default 24; larger tensors also along a random direction)",
         &entries_s, NULL},
        {0},
    };
    const cli_cmd c = {
        "gradcheck", "MODEL_DIR|model.json|experiment.json|network.json",
        "Check the engine's analytic gradients against central finite differences in float32: for\n"
        "every trainable weight tensor and the input, up to K entries one by one and, for larger\n"
        "tensors, one random direction through all of them. Exits 1 when a tensor fails.",
        "The loss is the model's own for an experiment (random targets) or a network description of\n"
        "mlexp explain (its targets); a saved model is checked on L = sum(c * y) with a fixed random c.\n"
        "error = |analytic - numeric| / max(|analytic| + |numeric|, 0.1); entries where two step sizes\n"
        "disagree sit at a kink (ReLU at 0, a max changing hands) and are skipped.",
        opts};
    const char *pos[1] = {NULL};
    int p = cli_parse(&c, argc, argv, pos, 1, 1);
    if (p) return p > 0 ? 0 : 2;
    int batch = 2, entries = 24;
    uint64_t seed = 1;
    double eps = 1e-3, tol = 1e-2;
    char *end;
    if ((batch_s && cli_int(batch_s, "--batch", 1, 1024, &batch)) || (seed_s && cli_u64(seed_s, "--seed", &seed)) ||
        (entries_s && cli_int(entries_s, "--entries", 1, 1 << 20, &entries)))
        return cli_error("gradcheck", "%s", mx_error()), 2;
    if (eps_s && (!(eps = strtod(eps_s, &end)) || *end || !(eps > 0) || eps > 1))
        return cli_error("gradcheck", "--eps must be a number in (0, 1], got '%s'", eps_s), 2;
    if (tol_s && (!(tol = strtod(tol_s, &end)) || *end || !(tol > 0)))
        return cli_error("gradcheck", "--tol must be a positive number, got '%s'", tol_s), 2;
    loaded l;
    if (load(pos[0], batch, seed, &l)) {
        mx_model_free(l.m);
        mx_tensor_free(l.x);
        mx_tensor_free(l.t);
        return cli_error("gradcheck", "%s", mx_error());
    }
    mx_gradcheck_options o = {entries, eps, tol, 0.1, seed, l.t ? l.t->data : NULL};
    mx_gradcheck_report r;
    int rc = mx_model_gradcheck(l.m, l.x, &o, &r);
    if (rc) {
        cli_error("gradcheck", "%s: %s", pos[0], mx_error());
    } else {
        printf("Gradient check of %s (%s), batch %lld\n", mx_model_name(l.m), l.what, (long long)l.x->shape[0]);
        printf("loss: %s\n", r.uses_loss ? "the model's loss (and regularizers)" : "L = sum(c * y) over the output, c fixed random");
        printf("float32 central differences, step %g; error = |analytic - numeric| / max(|analytic| + |numeric|, %g); "
               "pass at <= %g\n\n", r.eps, r.floor, r.tol);
        printf("%-28s %-16s %9s %6s %12s %12s %12s  %s\n", "tensor", "shape", "checked", "kinks", "max abs err",
               "max rel err", "direction", "result");
        for (int i = 0; i < r.n; i++) {
            const mx_gradcheck_tensor *t = &r.tensors[i];
            char shape[64], checked[32], dir[32];
            shape_text(t, shape, sizeof shape);
            snprintf(checked, sizeof checked, "%d/%lld", t->checked, (long long)t->size);
            if (!t->directional)
                snprintf(dir, sizeof dir, "-");
            else if (t->dir_skipped)
                snprintf(dir, sizeof dir, "kink");
            else
                snprintf(dir, sizeof dir, "%.2e", t->dir_err);
            printf("%-28s %-16s %9s %6d %12.2e %12.2e %12s  %s\n", t->name, shape, checked, t->skipped, t->max_abs_err,
                   t->max_rel_err, dir, t->pass ? "ok" : "FAIL");
        }
        if (r.pass)
            printf("\nall %d tensors pass (largest error %.2e, in %s)\n", r.n, r.max_err, r.worst);
        else
            printf("\nFAILED: largest error %.2e in %s (tolerance %g)\n", r.max_err, r.worst, r.tol);
        rc = r.pass ? 0 : 1;
        mx_gradcheck_report_free(&r);
    }
    mx_model_free(l.m);
    mx_tensor_free(l.x);
    mx_tensor_free(l.t);
    return rc ? 1 : 0;
}
