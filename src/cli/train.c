/* train.c: `mlexp train EXPERIMENT`: train, checkpoint every epoch, then
 * write the model directory (TF.js model, metadata, history, report). */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"
#include "cli/report.h"
#include "io/config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile int g_interrupt;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C stops at once */
}

typedef struct train_ctx {
    const cli_experiment *e;
    const char *out;
    int epochs;
    int64_t steps;
    int batch_size;
    uint64_t seed;
    int64_t step;     /* batches done in the epoch under way (0 at an epoch's end) */
} train_ctx;

/* Model, optimizer state and history as a checkpoint (cli_checkpoint_begin) */
static int save_checkpoint(mx_model *m, const mx_history *h, const train_ctx *c) {
    const int64_t n_states = mx_model_states_size(m);
    char tmp[4200], path[4300];
    if (cli_checkpoint_begin(c->out, tmp, sizeof tmp)) return -1;
    if (mx_model_save(m, tmp)) return -1;
    snprintf(path, sizeof path, "%s/optimizer.bin", tmp);
    if (mx_optimizer_state_save(m, path)) return -1;
    if (c->step > 0 && n_states > 0) { /* mid-epoch: where every stream of a stateful model is */
        mx_tensor *t = mx_tensor_new(1, (int64_t[]){n_states});
        if (!t) return -1;
        mx_model_states_get(m, t->data);
        snprintf(path, sizeof path, "%s/states.npy", tmp);
        int rc = mx_npy_save(path, t);
        mx_tensor_free(t);
        if (rc) return -1;
    }
    json_t *st = json_pack("{s:s, s:i, s:I, s:I, s:i, s:o}", "experiment", c->e->name, "epoch", h->n, "step",
                           (json_int_t)c->step, "seed", (json_int_t)c->seed, "batch_size", c->batch_size, "history",
                           cli_history_json(h));
    snprintf(path, sizeof path, "%s/state.json", tmp);
    int rc = mx_json_save(st, path);
    json_decref(st);
    return rc ? -1 : cli_checkpoint_commit(c->out);
}

static void on_batch(const mx_fit_progress *p, void *user) {
    train_ctx *c = user;
    c->step = p->step;
    cli_progress_batch(p, user);
}

static int on_epoch(mx_model *m, const mx_history *h, void *user) {
    train_ctx *c = user;
    c->step = 0;
    cli_progress_epoch(&h->epochs[h->n - 1], c->epochs, c->steps);
    if (save_checkpoint(m, h, c)) {
        fprintf(stderr, "mlexp train: error: checkpoint: %s\n", mx_error());
        return 1;
    }
    return 0;
}

/* Load out/checkpoint (or the .old one left by an interrupted swap). */
static mx_model *load_checkpoint(train_ctx *c, mx_history *h, char *dir, size_t n) {
    struct stat sb;
    snprintf(dir, n, "%s/checkpoint", c->out);
    if (stat(dir, &sb) != 0) {
        snprintf(dir, n, "%s/checkpoint.old", c->out);
        if (stat(dir, &sb) != 0) return mx_failp("no checkpoint to resume in %s/checkpoint", c->out);
    }
    char path[4200 + 16];
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_error_t e;
    json_t *st = json_load_file(path, 0, &e);
    if (!st) return mx_failp("%s: %s", path, e.text);
    json_t *seed = json_object_get(st, "seed"), *bs = json_object_get(st, "batch_size");
    const char *name = json_string_value(json_object_get(st, "experiment"));
    mx_model *m = NULL;
    if (!name || strcmp(name, c->e->name))
        mx_fail("%s: the checkpoint is of experiment '%s', not '%s'", path, name ? name : "?", c->e->name);
    else if ((uint64_t)json_integer_value(seed) != c->seed || json_integer_value(bs) != c->batch_size)
        mx_fail("%s: the checkpoint was trained with seed %lld and batch size %lld; resume with the same settings",
                path, (long long)json_integer_value(seed), (long long)json_integer_value(bs));
    else if (!cli_history_load(json_object_get(st, "history"), h))
        m = mx_model_load(dir);
    c->step = json_integer_value(json_object_get(st, "step"));
    json_decref(st);
    return m;
}

/* base + head, and the base's weights, which must all be found */
static mx_model *transfer_model(const cli_experiment *e, const char *override, int n_classes, uint64_t seed) {
    char dir[4096];
    if (cli_base_path(e, override, dir, sizeof dir)) return NULL;
    char *json = cli_transfer_model(e, dir, n_classes);
    if (!json) return NULL;
    mx_model *m = mx_model_from_json(json, dir, seed);
    free(json);
    if (!m) return NULL;
    mx_param_counts before = mx_model_param_counts(m);
    int loaded = 0;
    if (mx_model_load_weights(m, dir, &loaded)) {
        mx_model_free(m);
        return NULL;
    }
    fprintf(stderr, "base %s: %d weights loaded, %lld parameters frozen\n", dir, loaded, (long long)before.non_trainable);
    return m;
}

/* "34+27 = 61, predicted 51" for sample i of a text dataset */
static void print_text_mistake(FILE *f, const cli_text *t, const mx_dataset *d, const mx_eval_result *r, int64_t i) {
    const int k = (int)strlen(t->alphabet);
    char in[64] = "", want[64] = "", got[64] = "";
    cli_text_decode(t, d->x + i * mx_dataset_sample_size(d), t->in_length, k, in, sizeof in);
    for (int s = 0; s < r->steps && s < 63; s++) {
        want[s] = t->alphabet[d->y[i * r->steps + s]];
        got[s] = t->alphabet[r->predicted[i * r->steps + s]];
    }
    for (int s = r->steps; s > 0 && want[s - 1] == t->pad; s--) want[s - 1] = 0;
    for (int s = r->steps; s > 0 && got[s - 1] == t->pad; s--) got[s - 1] = 0;
    fprintf(f, "%s = %s, predicted %s\n", in, want, got);
}

static int write_outputs(mx_model *m, const cli_experiment *e, const train_ctx *c, const mx_history *h,
                         const mx_dataset *test, const char *command, int threads, const char *data_dir) {
    char path[4200];
    if (mx_model_save(m, c->out)) return -1;
    snprintf(path, sizeof path, "%s/history.json", c->out);
    if (cli_history_save(path, h)) return -1;

    double t0 = mx_now();
    mx_eval_result r;
    if (mx_evaluate(m, test, e->scale, e->offset, 256, &r)) return -1;
    double eval_s = mx_now() - t0, train_s = 0;
    for (int i = 0; i < h->n; i++) train_s += h->epochs[i].seconds;

    json_t *classes = json_array();
    for (int i = 0; i < test->n_classes; i++)
        json_array_append_new(classes, json_string(test->class_names ? test->class_names[i] : ""));
    json_t *shape = json_array();
    for (int i = 0; i < test->rank; i++) json_array_append_new(shape, json_integer(test->shape[i]));
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    static const char *const resize_names[] = {"bilinear", "nearest", "area"};
    int folder = !strcmp(e->dataset, "image_folder");
    json_t *meta = json_pack(
        "{s:s, s:s, s:s?, s:s, s:o, s:{s:o, s:{s:f, s:f}, s:s, s:s}, s:s, s:b, "
        "s:{s:f, s:f, s:I}, s:{s:i, s:i, s:I, s:i, s:f, s:{s:f, s:f, s:f}, s:s, s:s}, s:s}",
        "experiment", e->name, "title", e->title, "description", e->description, "dataset", e->dataset, "classes",
        classes, "input", "shape", shape, "preprocessing", "scale", (double)e->scale, "offset", (double)e->offset,
        "resize", resize_names[folder ? e->data.resize : MX_RESIZE_BILINEAR], "pixels",
        folder ? "raw values 0..255 of RGB (or gray) photos" : "raw values 0..255, one channel, white on black",
        "loss", mx_loss_name(e->loss),
        "from_logits", e->from_logits, "metrics", "test_accuracy", r.accuracy, "test_loss", r.loss, "test_samples",
        (json_int_t)test->n, "training", "epochs", h->n, "batch_size", c->batch_size, "seed", (json_int_t)c->seed,
        "threads", threads, "seconds", train_s, "augmentation", "shift", (double)e->augment.shift, "rotation",
        (double)e->augment.rotation, "zoom", (double)e->augment.zoom, "command", command, "date", date,
        "mlexp_version", MX_VERSION);
    if (folder && data_dir) /* where eval finds the images again */
        json_object_set_new(meta, "data_path", json_string(data_dir));
    else if (folder && e->data.path)
        json_object_set_new(meta, "data_path", json_string(e->data.path));
    cli_text text;
    const int is_text = cli_text_of(e->dataset, test, &text);
    if (mx_dataset_is_generated(e->dataset)) /* how eval draws its samples again */
        json_object_set_new(meta, "dataset_config", json_pack("{s:I, s:I, s:I}", "train_size", (json_int_t)e->data.train_size,
                                                              "test_size", (json_int_t)e->data.test_size, "seed",
                                                              (json_int_t)e->data.seed));
    if (is_text) { /* what predict --text needs: characters in, characters out */
        char pad[2] = {text.pad, 0};
        json_t *in = json_object_get(meta, "input");
        json_object_del(in, "resize");
        json_object_del(in, "pixels");
        json_object_set_new(in, "text", json_pack("{s:s, s:i, s:s}", "alphabet", text.alphabet, "length", text.in_length,
                                                  "pad", pad));
        json_object_set_new(meta, "output", json_pack("{s:{s:s, s:i, s:s}}", "text", "alphabet", text.alphabet, "length",
                                                      text.out_length, "pad", pad));
    }
    if (r.steps > 1) json_object_set_new(json_object_get(meta, "metrics"), "test_exact_match", json_real(r.exact_match));
    snprintf(path, sizeof path, "%s/metadata.json", c->out);
    int rc = mx_json_save(meta, path);
    json_decref(meta);
    if (rc) {
        mx_eval_result_free(&r);
        return -1;
    }

    /* the report: curves, confusion matrix and the test images (or texts) it got wrong */
    enum { MAX_EX = 36 };
    mx_report_example ex[MAX_EX];
    int nex = 0;
    int64_t ss = mx_dataset_sample_size(test), wrong = 0;
    const int images = test->rank == 3 && r.steps == 1;
    char *mistakes = NULL;
    size_t mistakes_len = 0;
    FILE *mf = is_text ? open_memstream(&mistakes, &mistakes_len) : NULL;
    for (int64_t i = 0; i < test->n; i++) {
        int right = 1;
        for (int k = 0; k < r.steps; k++) right &= r.predicted[i * r.steps + k] == test->y[i * r.steps + k];
        if (right || wrong++ >= MAX_EX) continue;
        if (images) ex[nex++] = (mx_report_example){test->x + i * ss, test->y[i], r.predicted[i], r.confidence[i]};
        if (mf) print_text_mistake(mf, &text, test, &r, i);
    }
    if (mf) fclose(mf);
    char settings[2048], sched[128] = "";
    if (e->opt.schedule != MX_LR_CONSTANT)
        snprintf(sched, sizeof sched, " (%s over %lld steps)",
                 e->opt.schedule == MX_LR_COSINE_DECAY ? "cosine decay" : "exponential decay", (long long)e->opt.decay_steps);
    snprintf(settings, sizeof settings,
             "dataset: %s (%lld test samples)\noptimizer: %s, learning rate %g%s\nloss: %s%s\nepochs: %d\n"
             "batch size: %d\nseed: %llu\nthreads: %d\npreprocessing: x * %g + %g\naugmentation: %s\n"
             "validation: %s",
             e->dataset, (long long)test->n, mx_optimizer_name(e->opt.kind),
             (double)e->opt.learning_rate, sched, mx_loss_name(e->loss), e->from_logits ? " (from logits)" : "", h->n,
             c->batch_size, (unsigned long long)c->seed, threads, (double)e->scale, (double)e->offset,
             e->augment.shift || e->augment.rotation || e->augment.zoom ? "shift, rotation and zoom (see metadata.json)" : "none",
             e->validation);
    char *summary = cli_summary_text(m);
    mx_report rep = {.title = e->title, .experiment = e->name, .description = e->description, .command = command,
                     .summary = summary, .settings = settings, .history = h, .n_classes = test->n_classes,
                     .class_names = test->class_names, .confusion = r.confusion, .test_loss = r.loss,
                     .test_accuracy = r.accuracy, .n_test = test->n, .examples = ex, .n_examples = nex,
                     .n_misclassified = wrong, .h = images ? (int)test->shape[0] : 0, .w = images ? (int)test->shape[1] : 0,
                     .c = images ? (int)test->shape[2] : 0, .train_seconds = train_s, .eval_seconds = eval_s,
                     .threads = threads, .steps = r.steps, .exact_match = r.exact_match, .text_mistakes = mistakes};
    snprintf(path, sizeof path, "%s/report.html", c->out);
    rc = mx_report_write(path, &rep);
    free(summary);
    free(mistakes);
    if (!rc) {
        if (r.steps > 1)
            printf("test exact match: %.4f  (every one of %d steps right)\n", r.exact_match, r.steps);
        printf("test accuracy: %.4f  (loss %.4f, %lld samples)\n", r.accuracy, r.loss, (long long)test->n);
        printf("model:  %s/model.json\nreport: %s\n", c->out, path);
    }
    mx_eval_result_free(&r);
    return rc;
}

static void join_args(int argc, char **argv, const char *exp, char *out, size_t n) {
    size_t k = (size_t)snprintf(out, n, "mlexp train %s", exp);
    for (int i = 0; i < argc && k < n; i++)
        if (strcmp(argv[i], exp)) k += (size_t)snprintf(out + k, n - k, " %s", argv[i]);
}

static void list_experiments(void) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls '%s/experiments' 2>/dev/null | sed -n 's/\\.json$//p' | sed 's/^/  /'", cli_root());
    printf("\nexperiments:\n");
    fflush(stdout);
    if (system(cmd) != 0) printf("  (none found)\n");
}

int cmd_train(int argc, char **argv) {
    const char *epochs_s = NULL, *bs_s = NULL, *seed_s = NULL, *threads_s = NULL, *data = NULL, *out = NULL,
               *limit_s = NULL, *dataset = NULL, *base = NULL, *budget_s = NULL;
    int resume = 0;
    const cli_opt opts[] = {
        {"--epochs", "N", "epochs to train (default: the experiment's)", &epochs_s, NULL},
        {"--batch-size", "N", "samples per step (default: the experiment's)", &bs_s, NULL},
        {"--seed", "N", "seed of initialisation, shuffling, dropout, augmentation", &seed_s, NULL},
        {"--threads", "N", "worker threads (default: all cores)", &threads_s, NULL},
        {"--data", "DIR", "dataset directory, or the text file of a text experiment (default: installed datasets)", &data,
         NULL},
        {"--dataset", "NAME", "train on another dataset of the same shape (e.g. mnist with --data DIR)", &dataset, NULL},
        {"--base", "DIR", "the base model of a transfer-learning experiment", &base, NULL},
        {"--out", "DIR", "model directory (default: runs/EXPERIMENT)", &out, NULL},
        {"--limit", "N", "use only the first N training and test samples", &limit_s, NULL},
        {"--time-budget", "MINUTES", "stop after this much training; the last epoch ends early and is validated", &budget_s,
         NULL},
        {"--resume", NULL, "continue from DIR/checkpoint", NULL, &resume},
        {0},
    };
    const cli_cmd c = {"train", "EXPERIMENT [options]",
                       "Train an experiment: a live progress bar per epoch, a checkpoint after each epoch\n"
                       "(Ctrl-C saves one where it stops; --resume continues), then the model in TF.js format with\n"
                       "metadata.json, history.json and report.html in the model directory.",
                       "The same seed and thread count give a bit-identical model.", opts};
    const char *pos[1] = {NULL};
    int p = cli_parse(&c, argc, argv, pos, 1, 0);
    if (p == 1) {
        list_experiments();
        return 0;
    }
    if (p < 0) return 2;
    if (!pos[0]) {
        fprintf(stderr, "mlexp train: error: missing EXPERIMENT\n");
        cli_usage(&c, stderr);
        return 2;
    }
    char path[4096], command[2048];
    cli_experiment e;
    if (cli_experiment_path(pos[0], path, sizeof path)) return cli_error("train", "%s", mx_error());
    join_args(argc, argv, pos[0], command, sizeof command);
    int gan = cli_experiment_is_gan(path);
    if (gan < 0) return cli_error("train", "%s", mx_error());
    if (gan) {
        cli_train_args a = {epochs_s, bs_s, seed_s, threads_s, data, out, limit_s, dataset, base, resume, command};
        return cli_train_gan(path, &a);
    }
    if (cli_experiment_load(path, &e)) return cli_error("train", "%s", mx_error());
    train_ctx ctx = {&e, NULL, e.epochs, 0, e.batch_size, e.seed, 0};
    int threads = 0, limit = 0, rc = 1;
    double budget = 0;
    char *end = NULL;
    if (budget_s && (budget = strtod(budget_s, &end), end == budget_s || *end || !(budget > 0) || budget > 1e7)) {
        cli_error("train", "--time-budget must be a positive number of minutes, got '%s'", budget_s);
        cli_experiment_free(&e);
        return 2;
    }
    if ((epochs_s && cli_int(epochs_s, "--epochs", 1, 1000000, &ctx.epochs)) ||
        (bs_s && cli_int(bs_s, "--batch-size", 1, 65536, &ctx.batch_size)) ||
        (seed_s && cli_u64(seed_s, "--seed", &ctx.seed)) || (threads_s && cli_int(threads_s, "--threads", 1, 64, &threads)) ||
        (limit_s && cli_int(limit_s, "--limit", 1, 2000000000, &limit))) {
        cli_error("train", "%s", mx_error());
        cli_experiment_free(&e);
        return 2;
    }
    if (dataset) e.dataset = e.data.name = dataset;
    char outbuf[4096];
    snprintf(outbuf, sizeof outbuf, "%s", out ? out : "runs/");
    if (!out) snprintf(outbuf, sizeof outbuf, "runs/%s", e.name);
    ctx.out = outbuf;

    mx_dataset *train = NULL, *test = NULL;
    mx_model *m = NULL;
    mx_history h = {0};
    mx_chars *chars = NULL;
    char *text_model = NULL, text_file[4096] = "";
    const int text = cli_is_text(e.dataset);
    if (mx_set_threads(threads)) goto fail;
    threads = mx_threads();
    if (text) { /* one stream per row of the batch, so the batch size shapes the data */
        if (cli_chars_path(&e.data, data, text_file, sizeof text_file) ||
            cli_chars_datasets(&e.data, text_file, ctx.batch_size, &chars, &train, &test))
            goto fail;
        if (limit) limit = (int)MX_MAX(ctx.batch_size, limit / ctx.batch_size * ctx.batch_size); /* whole batches */
    } else if (!(train = cli_dataset_load(&e.data, "train", data)) || !(test = cli_dataset_load(&e.data, "test", data))) {
        goto fail;
    }
    if (limit) {
        mx_dataset *a = mx_dataset_slice(train, 0, MX_MIN((int64_t)limit, train->n));
        mx_dataset *b = mx_dataset_slice(test, 0, MX_MIN((int64_t)limit, test->n));
        mx_dataset_free(train);
        mx_dataset_free(test);
        train = a;
        test = b;
        if (!train || !test) goto fail;
    }
    if (mx_dataset_is_generated(e.dataset)) { /* what eval draws again: the samples actually used */
        e.data.train_size = train->n;
        e.data.test_size = test->n;
    }
    if (mx_mkdirs(ctx.out)) goto fail;
    char ckdir[4200];
    if (resume) {
        if (!(m = load_checkpoint(&ctx, &h, ckdir, sizeof ckdir))) goto fail;
    } else if (e.base_model) {
        if (!(m = transfer_model(&e, base, train->n_classes, ctx.seed))) goto fail;
    } else if (text) { /* stateful layers over (batch, sequence_length) */
        if (!(text_model = cli_chars_model(json_object_get(e.root, "model"), ctx.batch_size, e.data.seq_length,
                                            chars->vocab_size, path)) ||
            !(m = mx_model_from_json(text_model, path, ctx.seed)))
            goto fail;
    } else if (!(m = mx_model_from_json(e.model_json, path, ctx.seed))) {
        goto fail;
    }
    if (mx_model_compile(m, e.loss, e.from_logits, &e.opt)) goto fail;
    if (resume) {
        char op[4300];
        snprintf(op, sizeof op, "%s/optimizer.bin", ckdir);
        if (mx_optimizer_state_load(m, op)) goto fail;
        if (ctx.step > 0 && mx_model_states_size(m) > 0) { /* the streams where they stopped */
            snprintf(op, sizeof op, "%s/states.npy", ckdir);
            mx_tensor *st = mx_npy_load(op);
            if (!st) goto fail;
            const int fits = mx_tensor_size(st) == mx_model_states_size(m);
            if (fits) mx_model_states_set(m, st->data);
            mx_tensor_free(st);
            if (!fits) {
                mx_fail("%s: the states do not fit the model", op);
                goto fail;
            }
        }
        if (ctx.step > 0)
            fprintf(stderr, "resuming %s in epoch %d after step %lld\n", e.name, h.n + 1, (long long)ctx.step);
        else
            fprintf(stderr, "resuming %s after epoch %d\n", e.name, h.n);
    }
    mx_fit_options o = mx_fit_defaults();
    o.epochs = ctx.epochs;
    o.batch_size = ctx.batch_size;
    o.seed = ctx.seed;
    o.shuffle = text ? 0 : e.shuffle; /* text: batch k + 1 continues the streams of batch k */
    o.reset_states = text;
    o.initial_step = ctx.step;
    o.max_seconds = budget * 60;
    o.scale = e.scale;
    o.offset = e.offset;
    o.augment = &e.augment;
    if (text || !strcmp(e.validation, "test")) o.validation_data = test; /* text: the held-out end */
    if (!strcmp(e.validation, "split")) o.validation_split = e.validation_split;
    o.early_stopping_patience = e.patience;
    o.early_stopping_min_delta = e.min_delta;
    o.restore_best_weights = e.restore_best;
    o.initial_epoch = h.n;
    o.on_batch = on_batch;
    o.on_epoch_end = on_epoch;
    o.user = &ctx;
    o.interrupt = &g_interrupt;
    int64_t n_train = o.validation_split > 0 ? (int64_t)((double)train->n * (1.0 - o.validation_split)) : train->n;
    ctx.steps = (n_train + ctx.batch_size - 1) / ctx.batch_size;
    if (h.n >= ctx.epochs)
        fprintf(stderr, "the checkpoint already has %d epochs: nothing to train (raise --epochs)\n", h.n);
    if (text) {
        cli_progress_unit("chars", e.data.seq_length);
        fprintf(stderr, "training %s on %s: %lld characters, %d distinct; %d streams of %lld windows of %d, "
                        "%lld characters held out; %d epochs, %d threads\n",
                e.name, text_file, (long long)chars->n, chars->vocab_size, ctx.batch_size,
                (long long)(n_train / ctx.batch_size), e.data.seq_length, (long long)(test->n * e.data.seq_length),
                ctx.epochs, threads);
    } else {
        fprintf(stderr, "training %s on %lld samples (%s), %d epochs, batch %d, %d threads\n", e.name,
                (long long)n_train, e.dataset, ctx.epochs, ctx.batch_size, threads);
    }
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    if (mx_fit(m, train, &o, &h)) {
        if (g_interrupt) {
            rc = 130;
            if (ctx.step > 0 && ctx.step < ctx.steps) { /* keep the steps of the epoch under way */
                mx_clear_error();
                if (save_checkpoint(m, &h, &ctx)) {
                    cli_error("train", "checkpoint: %s", mx_error());
                    goto done;
                }
                fprintf(stderr, "\ninterrupted: saved in %s/checkpoint after step %lld of epoch %d; continue with --resume\n",
                        ctx.out, (long long)ctx.step, h.n + 1);
            } else {
                fprintf(stderr, "\ninterrupted: the last finished epoch is saved in %s/checkpoint; continue with --resume\n",
                        ctx.out);
            }
        }
        goto fail;
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (text ? cli_text_outputs(m, &e, ctx.out, &h, test, chars, command, threads, text_file, ctx.seed,
                                    ctx.batch_size)
             : write_outputs(m, &e, &ctx, &h, test, command, threads, data))
        goto fail;
    rc = 0;
    goto done;
fail:
    if (rc != 130) cli_error("train", "%s", mx_error());
done:
    free(text_model);
    mx_chars_free(chars);
    mx_history_free(&h);
    mx_model_free(m);
    mx_dataset_free(train);
    mx_dataset_free(test);
    cli_experiment_free(&e);
    return rc;
}
