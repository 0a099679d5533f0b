/* modeldir.c: the files next to a model (metadata.json, history.json) and
 * what they say about its inputs and outputs. */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"
#include "io/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

json_t *cli_metadata_load(const char *model_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metadata.json", model_dir);
    json_error_t e;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!j) return mx_failp("%s: %s", path, e.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return mx_failp("%s: must be a JSON object", path);
    }
    return j;
}

cli_prep cli_prep_of(json_t *meta) {
    cli_prep p = {1, 0, MX_RESIZE_BILINEAR, NULL, 0};
    json_t *in = json_object_get(meta, "input"), *pre = json_object_get(in, "preprocessing");
    if (json_is_number(json_object_get(pre, "scale"))) p.scale = (float)json_number_value(json_object_get(pre, "scale"));
    if (json_is_number(json_object_get(pre, "offset"))) p.offset = (float)json_number_value(json_object_get(pre, "offset"));
    json_t *rs = json_object_get(in, "resize");
    int method = json_is_string(rs) ? mx_resize_parse(json_string_value(rs)) : -1;
    if (method >= 0) p.resize = (mx_resize)method;
    else if (json_is_string(rs)) mx_clear_error(); /* an unknown method means the default */
    json_t *classes = json_object_get(meta, "classes");
    p.classes = json_is_array(classes) ? classes : NULL;
    p.from_logits = json_is_true(json_object_get(meta, "from_logits"));
    return p;
}

void cli_image_input(const mx_tensor *img, int h, int w, const cli_prep *p, float *dst) {
    int c = (int)img->shape[2];
    mx_image_resize(img->data, (int)img->shape[0], (int)img->shape[1], c, dst, h, w, p->resize);
    for (int64_t i = 0; i < (int64_t)h * w * c; i++) dst[i] = dst[i] * p->scale + p->offset;
}

void cli_probabilities(float *p, int64_t n, int from_logits) {
    double sum = 0;
    int probs = !from_logits;
    for (int64_t i = 0; i < n; i++) {
        sum += p[i];
        probs &= p[i] >= 0;
    }
    if (probs && fabs(sum - 1) <= 1e-3) return;
    float mx = p[0];
    for (int64_t i = 1; i < n; i++) mx = fmaxf(mx, p[i]);
    sum = 0;
    for (int64_t i = 0; i < n; i++) sum += p[i] = expf(p[i] - mx);
    for (int64_t i = 0; i < n; i++) p[i] /= (float)sum;
}

char *cli_summary_text(const mx_model *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return mx_failp("out of memory for the model summary");
    mx_model_summary(m, f);
    fclose(f);
    return buf;
}

static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

json_t *cli_history_json(const mx_history *h) {
    json_t *eps = json_array();
    for (int i = 0; i < h->n; i++) {
        const mx_epoch_stats *s = &h->epochs[i];
        json_array_append_new(eps, json_pack("{s:i, s:o, s:o, s:o, s:o, s:f, s:f}", "epoch", s->epoch, "loss",
                                             num_or_null(s->loss), "accuracy", num_or_null(s->accuracy), "val_loss",
                                             num_or_null(s->val_loss), "val_accuracy", num_or_null(s->val_accuracy),
                                             "seconds", s->seconds, "samples_per_s", s->samples_per_s));
    }
    return json_pack("{s:o, s:i, s:b}", "epochs", eps, "best_epoch", h->best_epoch, "stopped_early", h->stopped_early);
}

int cli_history_save(const char *path, const mx_history *h) {
    json_t *j = cli_history_json(h);
    int rc = mx_json_save(j, path);
    json_decref(j);
    return rc;
}

static double num(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int cli_history_load(json_t *j, mx_history *h) {
    memset(h, 0, sizeof *h);
    json_t *eps = json_object_get(j, "epochs");
    if (!json_is_array(eps)) return mx_fail("history: no epochs list");
    h->epochs = calloc(json_array_size(eps) + 1, sizeof *h->epochs);
    if (!h->epochs) return mx_fail("out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(eps, i, e) {
        mx_epoch_stats *s = &h->epochs[h->n++];
        s->epoch = (int)num(e, "epoch");
        s->loss = num(e, "loss");
        s->accuracy = num(e, "accuracy");
        s->val_loss = num(e, "val_loss");
        s->val_accuracy = num(e, "val_accuracy");
        s->seconds = num(e, "seconds");
        s->samples_per_s = num(e, "samples_per_s");
    }
    h->best_epoch = (int)json_integer_value(json_object_get(j, "best_epoch"));
    h->stopped_early = json_is_true(json_object_get(j, "stopped_early"));
    return 0;
}

int cli_checkpoint_begin(const char *out, char *tmp, size_t n) {
    char old[4200];
    snprintf(tmp, n, "%s/checkpoint.tmp", out);
    snprintf(old, sizeof old, "%s/checkpoint.old", out);
    return mx_remove_tree(tmp) || mx_remove_tree(old) ? mx_fail_context("cannot clear %s: ", tmp) : 0;
}

int cli_checkpoint_commit(const char *out) {
    char tmp[4200], final[4200], old[4200];
    snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", out);
    snprintf(final, sizeof final, "%s/checkpoint", out);
    snprintf(old, sizeof old, "%s/checkpoint.old", out);
    struct stat sb;
    if (stat(final, &sb) == 0 && rename(final, old)) return mx_fail("cannot move %s aside", final);
    if (rename(tmp, final)) return mx_fail("cannot rename %s to %s", tmp, final);
    mx_remove_tree(old); /* the new one is in place: a leftover is harmless */
    return 0;
}
