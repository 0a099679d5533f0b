/* eval.c: `mlexp eval MODEL_DIR`: test accuracy, per-class accuracy and the
 * confusion matrix, on the dataset named in the model's metadata.json; for
 * sequence outputs the exact match (every step right) first. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a class's name for the tables: a space shows as "' '" */
static const char *class_label(const mx_dataset *d, int i) {
    if (!d->class_names) return "";
    return strcmp(d->class_names[i], " ") ? d->class_names[i] : "' '";
}

/* FNV-1a of a sample's values: the same inputs, the same hash */
static uint64_t sample_hash(const float *x, int64_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *b = (const unsigned char *)x;
    for (size_t i = 0; i < (size_t)n * sizeof(float); i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Which samples of d also occur in the training set (seen[i] = 1): the
 * generated datasets hold few distinct samples (numbers_summation 9,801). */
static int64_t overlap(const mx_dataset *d, const mx_dataset *train, uint8_t *seen) {
    int64_t ss = mx_dataset_sample_size(d), count = 0;
    uint64_t *h = mx_alloc_array((size_t)MX_MAX(train->n, 1), sizeof(uint64_t));
    if (!h) return -1;
    for (int64_t i = 0; i < train->n; i++) h[i] = sample_hash(train->x + i * ss, ss);
    qsort(h, (size_t)train->n, sizeof *h, cmp_u64);
    for (int64_t i = 0; i < d->n; i++) {
        uint64_t k = sample_hash(d->x + i * ss, ss);
        seen[i] = bsearch(&k, h, (size_t)train->n, sizeof *h, cmp_u64) != NULL;
        count += seen[i];
    }
    mx_free(h);
    return count;
}

/* Sequence outputs (numbers_summation): exact match first, on how many of
 * the samples the model never trained on, and the first mistakes as text. */
static int report_sequences(json_t *meta, const cli_data *src, const mx_dataset *d, const mx_eval_result *r) {
    int64_t right = 0;
    uint8_t *ok = mx_alloc_array((size_t)d->n, 1), *seen = mx_alloc_array((size_t)d->n, 1);
    if (!ok || !seen) {
        mx_free(ok);
        mx_free(seen);
        return -1;
    }
    for (int64_t i = 0; i < d->n; i++) {
        ok[i] = 1;
        for (int k = 0; k < r->steps; k++) ok[i] &= r->predicted[i * r->steps + k] == d->y[i * r->steps + k];
        right += ok[i];
    }
    char a[32], b[32];
    printf("exact match %.4f   (%s of %s samples with all %d steps right)\n", r->exact_match,
           mx_thousands(right, a, sizeof a), mx_thousands(d->n, b, sizeof b), r->steps);
    printf("accuracy per step %.4f   loss %.4f\n", r->accuracy, r->loss);
    if (mx_dataset_is_generated(src->name)) {
        mx_dataset *train = cli_dataset_load(src, "train", NULL);
        int64_t both = train ? overlap(d, train, seen) : -1;
        if (both >= 0) {
            int64_t right_new = 0;
            for (int64_t i = 0; i < d->n; i++) right_new += ok[i] && !seen[i];
            char c[32];
            printf("%s of these samples also occur in the training set (%s samples, seed %llu); on the %s others: "
                   "exact match %.4f\n",
                   mx_thousands(both, a, sizeof a), mx_thousands(train->n, b, sizeof b), (unsigned long long)src->seed,
                   mx_thousands(d->n - both, c, sizeof c), d->n > both ? (double)right_new / (double)(d->n - both) : 1.0);
        }
        mx_dataset_free(train);
        if (both < 0) {
            mx_free(ok);
            mx_free(seen);
            return -1;
        }
    }
    cli_text t;
    if (cli_text_from_metadata(meta, &t)) {
        int shown = 0, k = (int)strlen(t.alphabet);
        for (int64_t i = 0; i < d->n && shown < 10; i++) {
            if (ok[i]) continue;
            if (!shown++) printf("\nfirst mistakes:\n");
            char in[64], want[64], got[64];
            cli_text_decode(&t, d->x + i * mx_dataset_sample_size(d), t.in_length, k, in, sizeof in);
            int s = 0;
            for (; s < r->steps && s < 63; s++) {
                want[s] = t.alphabet[d->y[i * r->steps + s]];
                got[s] = t.alphabet[r->predicted[i * r->steps + s]];
            }
            want[s] = got[s] = 0;
            printf("  %-8s = %-4s predicted %s\n", in, want, got);
        }
    }
    mx_free(ok);
    mx_free(seen);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *data = NULL, *split = NULL, *bs_s = NULL, *threads_s = NULL, *seed_s = NULL;
    const cli_opt opts[] = {
        {"--data", "DIR", "dataset directory (default: installed datasets)", &data, NULL},
        {"--split", "NAME", "test (default) or train; generated datasets: fresh (default), test or train", &split, NULL},
        {"--seed", "N", "generated datasets: draw the samples from seed N", &seed_s, NULL},
        {"--batch-size", "N", "samples per forward pass (default 256)", &bs_s, NULL},
        {"--threads", "N", "worker threads (default: all cores)", &threads_s, NULL},
        {0},
    };
    const cli_cmd c = {"eval", "MODEL_DIR [options]",
                       "Evaluate a trained model on its dataset (named in MODEL_DIR/metadata.json).",
                       "Generated datasets (numbers_summation) are drawn again: by default fresh\n"
                       "samples from a seed used neither for training nor for validation; the\n"
                       "output tells how many of them the training set holds too.", opts};
    const char *pos[1] = {NULL};
    int p = cli_parse(&c, argc, argv, pos, 1, 1);
    if (p) return p > 0 ? 0 : 2;
    int bs = 256, threads = 0;
    uint64_t seed = 0;
    if ((bs_s && cli_int(bs_s, "--batch-size", 1, 65536, &bs)) || (threads_s && cli_int(threads_s, "--threads", 1, 64, &threads)) ||
        (seed_s && cli_u64(seed_s, "--seed", &seed)))
        return cli_error("eval", "%s", mx_error()), 2;
    json_t *meta = cli_metadata_load(pos[0]);
    if (!meta) return cli_error("eval", "%s", mx_error());
    const char *kind = json_string_value(json_object_get(meta, "kind"));
    if (kind && !strcmp(kind, "gan")) { /* a generator has no test accuracy */
        cli_error("eval", "%s is a GAN's generator: it has no labels to evaluate against (see its report.html, or "
                          "mlexp generate)", pos[0]);
        json_decref(meta);
        return 1;
    }
    if (cli_is_text(json_string_value(json_object_get(meta, "dataset")))) {
        json_t *v = json_object_get(json_object_get(meta, "metrics"), "val_loss");
        cli_error("eval", "%s is a character-level language model: training measured it on its held-out text "
                          "(%.4f nats per character, in metadata.json and report.html); sample it with mlexp generate",
                  pos[0], json_number_value(v));
        json_decref(meta);
        return 1;
    }
    const char *dataset = json_string_value(json_object_get(meta, "dataset"));
    json_t *pre = json_object_get(json_object_get(meta, "input"), "preprocessing");
    float scale = json_is_number(json_object_get(pre, "scale")) ? (float)json_number_value(json_object_get(pre, "scale")) : 1;
    float offset = (float)json_number_value(json_object_get(pre, "offset"));
    const char *loss_name = json_string_value(json_object_get(meta, "loss"));
    mx_loss_kind loss = MX_LOSS_SPARSE_CATEGORICAL_CE;
    int from_logits = 0, rc = 1;
    mx_dataset *d = NULL;
    mx_model *m = NULL;
    mx_eval_result r = {0};
    if (!dataset) {
        mx_fail("%s/metadata.json: no dataset", pos[0]);
        goto done;
    }
    if (loss_name && mx_loss_parse(loss_name, &loss, &from_logits)) goto done;
    from_logits = json_is_true(json_object_get(meta, "from_logits"));
    mx_optimizer_config opt = mx_optimizer_defaults(MX_OPT_SGD);
    cli_data src = {.name = dataset, .path = json_string_value(json_object_get(meta, "data_path")),
                    .resize = MX_RESIZE_BILINEAR};
    json_t *ishape = json_object_get(json_object_get(meta, "input"), "shape");
    if (json_array_size(ishape) == 3) {
        src.height = (int)json_integer_value(json_array_get(ishape, 0));
        src.width = (int)json_integer_value(json_array_get(ishape, 1));
        src.channels = (int)json_integer_value(json_array_get(ishape, 2));
    }
    const char *rs = json_string_value(json_object_get(json_object_get(meta, "input"), "resize"));
    if (rs && mx_resize_parse(rs) >= 0) src.resize = (mx_resize)mx_resize_parse(rs);
    const int generated = mx_dataset_is_generated(dataset);
    if (generated) {
        json_t *dc = json_object_get(meta, "dataset_config");
        src.train_size = json_integer_value(json_object_get(dc, "train_size"));
        src.test_size = json_integer_value(json_object_get(dc, "test_size"));
        src.seed = (uint64_t)json_integer_value(json_object_get(dc, "seed"));
        if (src.train_size <= 0 || src.test_size <= 0) {
            mx_fail("%s/metadata.json: dataset_config needs train_size and test_size", pos[0]);
            goto done;
        }
    } else if (seed_s) {
        mx_fail("--seed is for generated datasets; %s is not one", dataset);
        goto done;
    }
    if (!split) split = generated ? "fresh" : "test";
    if (mx_set_threads(threads) || !(m = mx_model_load(pos[0]))) goto done;
    if (generated && seed_s) {
        d = mx_dataset_generate(dataset, src.test_size, seed);
    } else {
        d = cli_dataset_load(&src, split, data);
    }
    if (!d || mx_model_compile(m, loss, from_logits, &opt) || mx_evaluate(m, d, scale, offset, bs, &r)) goto done;
    if (generated)
        printf("%s on %s, %s samples (%lld, seed %llu)\n", mx_model_name(m), dataset, seed_s ? "new" : split,
               (long long)d->n, (unsigned long long)(seed_s ? seed : src.seed + (!strcmp(split, "train") ? 0 : !strcmp(split, "test") ? 1 : 2)));
    else
        printf("%s on %s %s (%lld samples)\n", mx_model_name(m), dataset, split, (long long)d->n);
    if (r.steps > 1) {
        if (report_sequences(meta, &src, d, &r)) goto done;
        printf("\n");
    } else {
        printf("accuracy %.4f   loss %.4f\n\n", r.accuracy, r.loss);
    }
    int k = r.n_classes;
    int w = 6;
    for (int i = 0; i < k && d->class_names; i++) w = MX_MAX(w, (int)strlen(d->class_names[i]));
    printf("%-*s  %8s  %7s\n", w, r.steps > 1 ? "symbol" : "class", "accuracy", r.steps > 1 ? "labels" : "samples");
    for (int i = 0; i < k; i++) {
        int64_t row = 0;
        for (int j = 0; j < k; j++) row += r.confusion[i * k + j];
        printf("%-*s  %8.4f  %7lld\n", w, class_label(d, i), row ? (double)r.confusion[i * k + i] / (double)row : 0.0,
               (long long)row);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted)\n%*s", w, "");
    for (int j = 0; j < k; j++) printf(" %5d", j);
    printf("\n");
    for (int i = 0; i < k; i++) {
        printf("%-*s", w, class_label(d, i));
        for (int j = 0; j < k; j++) printf(" %5lld", (long long)r.confusion[i * k + j]);
        printf("\n");
    }
    rc = 0;
done:
    if (rc) cli_error("eval", "%s", mx_error());
    mx_eval_result_free(&r);
    mx_dataset_free(d);
    mx_model_free(m);
    json_decref(meta);
    return rc;
}
