/* modeldir.c: the files next to a model: metadata.json and history.json. */
#include "cli/cli.h"
#include "io/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
