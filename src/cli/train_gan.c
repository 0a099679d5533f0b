/* train_gan.c: `mlexp train` of a GAN experiment ("kind": "gan"): the
 * generator and discriminator configs, the noise size, an optimizer each,
 * and the fixed noise of the sample grid drawn after every epoch. Writes the
 * generator as the model of the directory (model.json + shards), the
 * discriminator in discriminator/, samples/epoch_NNN.png, metadata.json
 * ("kind": "gan"), history.json and report.html; a checkpoint after every
 * epoch (Ctrl-C keeps the last one; --resume continues bit for bit). */
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

typedef struct gan_experiment {
    json_t *root; /* owns the strings */
    const char *name, *title, *description;
    cli_data data;
    float scale, offset;             /* pixels * scale + offset: the generator's range */
    char *g_json, *d_json;           /* Keras model configs */
    int noise_dim;
    mx_optimizer_config g_opt, d_opt;
    int epochs, batch_size, shuffle;
    uint64_t seed;
    int rows, cols;                  /* the sample grid */
    uint64_t sample_seed;
} gan_experiment;

static volatile int g_interrupt;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C stops at once */
}

int cli_experiment_is_gan(const char *path) {
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) return mx_fail("%s: line %d: %s", path, e.line, e.text);
    json_t *k = json_object_get(j, "kind");
    int rc = !k ? 0 : json_is_string(k) && !strcmp(json_string_value(k), "gan") ? 1 : -1;
    if (rc < 0) mx_fail("%s: 'kind' must be \"gan\" (or absent for a classifier or sequence model)", path);
    json_decref(j);
    return rc;
}

static int int_key(json_t *obj, const char *key, int def, int min, int max, int *out, const char *where) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return mx_fail("%s: '%s' must be an integer from %d to %d", where, key, min, max);
    *out = (int)json_integer_value(v);
    return 0;
}

static int opt_of(json_t *train, const char *key, mx_optimizer_config *o, const char *path) {
    json_t *v = json_object_get(train, key);
    if (!v) return mx_fail("%s: training needs '%s'", path, key);
    char *txt = json_dumps(v, JSON_ENCODE_ANY);
    int rc = txt ? mx_optimizer_parse(txt, o) : mx_fail("out of memory");
    free(txt);
    return rc ? mx_fail_context("%s: training.%s: ", path, key) : 0;
}

static void gan_experiment_free(gan_experiment *e) {
    free(e->g_json);
    free(e->d_json);
    json_decref(e->root);
    memset(e, 0, sizeof *e);
}

static int gan_experiment_load(const char *path, gan_experiment *e) {
    memset(e, 0, sizeof *e);
    json_error_t err;
    e->root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!e->root) return mx_fail("%s: line %d: %s", path, err.line, err.text);
    json_t *r = e->root, *ds = json_object_get(r, "dataset"), *prep = json_object_get(r, "preprocessing");
    json_t *train = json_object_get(r, "training"), *samples = json_object_get(r, "samples");
    json_t *g = json_object_get(r, "generator"), *d = json_object_get(r, "discriminator");
    static const char *const top[] = {"name", "kind", "title", "description", "dataset", "preprocessing", "noise_dim",
                                      "generator", "discriminator", "training", "samples", NULL};
    static const char *const dsk[] = {"name", NULL};
    static const char *const pre[] = {"scale", "offset", NULL};
    static const char *const tr[] = {"epochs", "batch_size", "seed", "shuffle", "generator_optimizer",
                                     "discriminator_optimizer", "loss", NULL};
    static const char *const smp[] = {"rows", "cols", "seed", NULL};
    if (!json_is_object(r)) return mx_fail("%s: must be a JSON object", path);
    if (cli_check_keys(r, path, top)) return -1;
    if (!json_is_object(ds) || !json_is_object(g) || !json_is_object(d) || !json_is_object(train))
        return mx_fail("%s: a GAN needs 'dataset', 'generator', 'discriminator' and 'training' objects", path);
    if (cli_check_keys(ds, "dataset", dsk) || (prep && cli_check_keys(prep, "preprocessing", pre)) || cli_check_keys(train, "training", tr) ||
        (samples && cli_check_keys(samples, "samples", smp)))
        return mx_fail_context("%s: ", path);
    e->name = json_string_value(json_object_get(r, "name"));
    if (!e->name) return mx_fail("%s: needs a 'name'", path);
    e->title = json_is_string(json_object_get(r, "title")) ? json_string_value(json_object_get(r, "title")) : e->name;
    e->description = json_string_value(json_object_get(r, "description"));
    e->data.name = json_string_value(json_object_get(ds, "name"));
    if (!e->data.name) return mx_fail("%s: dataset needs a 'name'", path);
    if (!strcmp(e->data.name, "image_folder") || mx_dataset_is_generated(e->data.name))
        return mx_fail("%s: a GAN trains on a named image dataset (fashion_mnist, mnist, opencv_digits)", path);
    json_t *s = json_object_get(prep, "scale"), *o = json_object_get(prep, "offset");
    if ((s && !json_is_number(s)) || (o && !json_is_number(o)) || (s && json_number_value(s) == 0))
        return mx_fail("%s: preprocessing 'scale' (not 0) and 'offset' must be numbers", path);
    e->scale = s ? (float)json_number_value(s) : 1;
    e->offset = o ? (float)json_number_value(o) : 0;
    json_t *loss = json_object_get(train, "loss");
    if (loss) { /* stated for the reader; the step computes exactly this */
        mx_loss_kind k;
        int logits = 0;
        char *txt = json_dumps(loss, JSON_ENCODE_ANY);
        int rc = txt ? mx_loss_parse(txt, &k, &logits) : -1;
        free(txt);
        if (rc || k != MX_LOSS_BINARY_CE || !logits)
            return mx_fail("%s: training.loss: a GAN trains with binary cross-entropy from logits only", path);
    }
    int ep, bs;
    if (int_key(r, "noise_dim", 0, 1, 1 << 20, &e->noise_dim, "noise_dim") ||
        int_key(train, "epochs", 10, 1, 1000000, &ep, "training") || int_key(train, "batch_size", 256, 1, 65536, &bs, "training") ||
        int_key(samples, "rows", 4, 1, 64, &e->rows, "samples") || int_key(samples, "cols", 4, 1, 64, &e->cols, "samples"))
        return mx_fail_context("%s: ", path);
    if (!e->noise_dim) return mx_fail("%s: needs 'noise_dim' (the generator's input size)", path);
    e->epochs = ep;
    e->batch_size = bs;
    json_t *seed = json_object_get(train, "seed"), *sseed = json_object_get(samples, "seed");
    if ((seed && (!json_is_integer(seed) || json_integer_value(seed) < 0)) ||
        (sseed && (!json_is_integer(sseed) || json_integer_value(sseed) < 0)))
        return mx_fail("%s: training.seed and samples.seed must be non-negative integers", path);
    e->seed = seed ? (uint64_t)json_integer_value(seed) : 1;
    e->sample_seed = sseed ? (uint64_t)json_integer_value(sseed) : 0;
    e->shuffle = !json_is_false(json_object_get(train, "shuffle"));
    if (opt_of(train, "generator_optimizer", &e->g_opt, path) || opt_of(train, "discriminator_optimizer", &e->d_opt, path))
        return -1;
    e->g_json = json_dumps(g, JSON_COMPACT);
    e->d_json = json_dumps(d, JSON_COMPACT);
    return e->g_json && e->d_json ? 0 : mx_fail("%s: cannot serialise the models", path);
}

/* ---- the run ---- */

typedef struct gan_run {
    const gan_experiment *e;
    const char *out;
    int epochs, batch_size;
    uint64_t seed;
    int64_t steps;
    float *sample_noise;   /* (rows * cols, noise_dim): the same every epoch */
    mx_gan_epoch *hist;    /* epochs done, up to `epochs` */
    int n_hist;
    int threads;
} gan_run;


static json_t *history_json(const gan_run *c) {
    json_t *eps = json_array();
    for (int i = 0; i < c->n_hist; i++) {
        const mx_gan_epoch *s = &c->hist[i];
        json_array_append_new(eps, json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "epoch", s->epoch, "g_loss", s->g_loss,
                                             "d_loss", s->d_loss, "d_real", s->d_real, "d_fake", s->d_fake, "seconds",
                                             s->seconds, "samples_per_s", s->samples_per_s));
    }
    return json_pack("{s:s, s:o}", "kind", "gan", "epochs", eps);
}

static int history_load(json_t *j, gan_run *c) {
    json_t *eps = json_object_get(j, "epochs"), *e;
    size_t i;
    if (!json_is_array(eps)) return mx_fail("history: no epochs list");
    if ((int)json_array_size(eps) > c->epochs) { /* more than asked for: nothing to train, all of it reported */
        mx_gan_epoch *more = realloc(c->hist, json_array_size(eps) * sizeof *more);
        if (!more) return mx_fail("out of memory");
        c->hist = more;
        c->epochs = (int)json_array_size(eps);
    }
    c->n_hist = 0;
    json_array_foreach(eps, i, e) {
        mx_gan_epoch *s = &c->hist[c->n_hist++];
        s->epoch = (int)json_integer_value(json_object_get(e, "epoch"));
        s->g_loss = json_number_value(json_object_get(e, "g_loss"));
        s->d_loss = json_number_value(json_object_get(e, "d_loss"));
        s->d_real = json_number_value(json_object_get(e, "d_real"));
        s->d_fake = json_number_value(json_object_get(e, "d_fake"));
        s->seconds = json_number_value(json_object_get(e, "seconds"));
        s->samples_per_s = json_number_value(json_object_get(e, "samples_per_s"));
    }
    return 0;
}

static void grid_name(int epoch, char *buf, size_t n) { snprintf(buf, n, "samples/epoch_%03d.png", epoch); }

/* Both models, their optimizer states and the history as a checkpoint
 * (cli_checkpoint_begin) */
static int save_checkpoint(mx_model *g, mx_model *d, const gan_run *c) {
    char tmp[4200], path[4300];
    if (cli_checkpoint_begin(c->out, tmp, sizeof tmp)) return -1;
    snprintf(path, sizeof path, "%s/generator", tmp);
    if (mx_model_save(g, path)) return -1;
    snprintf(path, sizeof path, "%s/discriminator", tmp);
    if (mx_model_save(d, path)) return -1;
    snprintf(path, sizeof path, "%s/generator/optimizer.bin", tmp);
    if (mx_optimizer_state_save(g, path)) return -1;
    snprintf(path, sizeof path, "%s/discriminator/optimizer.bin", tmp);
    if (mx_optimizer_state_save(d, path)) return -1;
    json_t *st = json_pack("{s:s, s:s, s:i, s:I, s:i, s:o}", "experiment", c->e->name, "kind", "gan", "epoch", c->n_hist,
                           "seed", (json_int_t)c->seed, "batch_size", c->batch_size, "history", history_json(c));
    snprintf(path, sizeof path, "%s/state.json", tmp);
    int rc = mx_json_save(st, path);
    json_decref(st);
    return rc ? -1 : cli_checkpoint_commit(c->out);
}

static int load_checkpoint(gan_run *c, mx_model **g, mx_model **d) {
    struct stat sb;
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/checkpoint", c->out);
    if (stat(dir, &sb) != 0) {
        snprintf(dir, sizeof dir, "%s/checkpoint.old", c->out);
        if (stat(dir, &sb) != 0) return mx_fail("no checkpoint to resume in %s/checkpoint", c->out);
    }
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_error_t e;
    json_t *st = json_load_file(path, 0, &e);
    if (!st) return mx_fail("%s: %s", path, e.text);
    const char *name = json_string_value(json_object_get(st, "experiment"));
    int rc = -1;
    if (!name || strcmp(name, c->e->name))
        mx_fail("%s: the checkpoint is of experiment '%s', not '%s'", path, name ? name : "?", c->e->name);
    else if ((uint64_t)json_integer_value(json_object_get(st, "seed")) != c->seed ||
             json_integer_value(json_object_get(st, "batch_size")) != c->batch_size)
        mx_fail("%s: the checkpoint was trained with seed %lld and batch size %lld; resume with the same settings", path,
                (long long)json_integer_value(json_object_get(st, "seed")),
                (long long)json_integer_value(json_object_get(st, "batch_size")));
    else if (!history_load(json_object_get(st, "history"), c)) {
        snprintf(path, sizeof path, "%s/generator", dir);
        *g = mx_model_load(path);
        snprintf(path, sizeof path, "%s/discriminator", dir);
        *d = *g ? mx_model_load(path) : NULL;
        rc = *g && *d ? 0 : -1;
    }
    json_decref(st);
    return rc; /* the optimizer states follow once the caller has compiled them */
}

static int load_opt_states(const gan_run *c, mx_model *g, mx_model *d) {
    char path[4300];
    struct stat sb;
    snprintf(path, sizeof path, "%s/checkpoint", c->out);
    const char *sub = stat(path, &sb) == 0 ? "checkpoint" : "checkpoint.old";
    snprintf(path, sizeof path, "%s/%s/generator/optimizer.bin", c->out, sub);
    if (mx_optimizer_state_load(g, path)) return -1;
    snprintf(path, sizeof path, "%s/%s/discriminator/optimizer.bin", c->out, sub);
    return mx_optimizer_state_load(d, path);
}

/* progress: one line redrawn on a terminal, a line every ten seconds otherwise */
static void on_batch(const mx_gan_progress *p, void *user) {
    (void)user;
    mx_fit_progress q = {.epoch = p->epoch, .epochs = p->epochs, .step = p->step, .steps = p->steps, .samples = p->samples,
                         .loss = p->g_loss, .accuracy = p->d_loss, .seconds = p->seconds};
    cli_progress_line(&q, "g_loss", "d_loss");
}

static int on_epoch(mx_model *g, mx_model *d, const mx_gan_epoch *s, void *user) {
    gan_run *c = user;
    c->hist[c->n_hist++] = *s;
    cli_progress_end();
    fprintf(stderr, "Epoch %d/%d  %lld steps  %.1fs  g_loss %.4f  d_loss %.4f  D(real) %.3f  D(generated) %.3f  %.0f img/s\n",
            s->epoch, c->epochs, (long long)c->steps, s->seconds, s->g_loss, s->d_loss, s->d_real, s->d_fake,
            s->samples_per_s);
    char name[64], path[4200];
    grid_name(s->epoch, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", c->out, name);
    if (cli_gan_grid(g, c->sample_noise, c->e->rows, c->e->cols, c->e->scale, c->e->offset, path) ||
        save_checkpoint(g, d, c)) {
        fprintf(stderr, "mlexp train: error: after epoch %d: %s\n", s->epoch, mx_error());
        return 1;
    }
    return 0;
}

static int write_outputs(mx_model *g, mx_model *d, const gan_run *c, const cli_train_args *a, const mx_dataset *train) {
    const gan_experiment *e = c->e;
    char path[4200];
    snprintf(path, sizeof path, "%s/discriminator", c->out);
    if (mx_model_save(g, c->out) || mx_model_save(d, path)) return -1;
    snprintf(path, sizeof path, "%s/history.json", c->out);
    json_t *hj = history_json(c);
    int rc = mx_json_save(hj, path);
    json_decref(hj);
    if (rc) return -1;
    double train_s = 0;
    for (int i = 0; i < c->n_hist; i++) train_s += c->hist[i].seconds;
    const mx_gan_epoch *last = c->n_hist ? &c->hist[c->n_hist - 1] : NULL;
    json_t *shape = json_array();
    for (int i = 0; i < train->rank; i++) json_array_append_new(shape, json_integer(train->shape[i]));
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *meta = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s, s:{s:[i], s:s}, s:{s:o, s:{s:f, s:f}, s:s}, s:{s:i, s:i, s:I}, "
        "s:{s:f, s:f, s:f, s:f}, s:{s:i, s:i, s:I, s:i, s:f, s:s, s:f, s:f, s:I}, s:s, s:s, s:s}",
        "kind", "gan", "experiment", e->name, "title", e->title, "description", e->description, "dataset", e->data.name,
        "input", "shape", e->noise_dim, "noise", "standard normal, mx_gan_noise(seed): mlexp generate --noise-out writes it",
        "output", "shape", shape, "preprocessing", "scale", (double)e->scale, "offset", (double)e->offset, "pixels",
        "pixels * scale + offset is the generator's output (tanh, -1..1)", "samples", "rows", e->rows, "cols", e->cols,
        "seed", (json_int_t)e->sample_seed, "metrics", "g_loss", last ? last->g_loss : NAN, "d_loss",
        last ? last->d_loss : NAN, "d_real", last ? last->d_real : NAN, "d_fake", last ? last->d_fake : NAN, "training",
        "epochs", c->n_hist, "batch_size", c->batch_size, "seed", (json_int_t)c->seed, "threads", c->threads, "seconds",
        train_s, "optimizer", "Adam (generator), Adam (discriminator): see the experiment file", "generator_lr",
        (double)e->g_opt.learning_rate, "discriminator_lr", (double)e->d_opt.learning_rate, "samples",
        (json_int_t)train->n, "command", a->command, "date", date, "mlexp_version", MX_VERSION);
    if (!meta) return mx_fail("metadata.json: cannot build it");
    snprintf(path, sizeof path, "%s/metadata.json", c->out);
    rc = mx_json_save(meta, path);
    json_decref(meta);
    if (rc) return -1;

    /* report: grids of the epochs whose PNG is there (all, unless a resumed
     * run's folder lost some) */
    char names[c->n_hist > 0 ? c->n_hist : 1][32];
    const char *grids[c->n_hist > 0 ? c->n_hist : 1];
    for (int i = 0; i < c->n_hist; i++) {
        struct stat sb;
        grid_name(c->hist[i].epoch, names[i], sizeof names[i]);
        snprintf(path, sizeof path, "%s/%s", c->out, names[i]);
        grids[i] = stat(path, &sb) == 0 ? names[i] : NULL;
    }
    char settings[2048];
    snprintf(settings, sizeof settings,
             "dataset: %s (%lld images)\nnoise: %d standard normal values\ngenerator optimizer: %s, learning rate %g\n"
             "discriminator optimizer: %s, learning rate %g\nloss: binary cross-entropy from logits\nepochs: %d\n"
             "batch size: %d\nseed: %llu\nsample grid: %dx%d, noise seed %llu\nthreads: %d\npreprocessing: x * %g + %g",
             e->data.name, (long long)train->n, e->noise_dim, mx_optimizer_name(e->g_opt.kind),
             (double)e->g_opt.learning_rate, mx_optimizer_name(e->d_opt.kind), (double)e->d_opt.learning_rate, c->n_hist,
             c->batch_size, (unsigned long long)c->seed, e->rows, e->cols, (unsigned long long)e->sample_seed, c->threads,
             (double)e->scale, (double)e->offset);
    char *sg = cli_summary_text(g), *sd = cli_summary_text(d);
    size_t len = (sg ? strlen(sg) : 0) + (sd ? strlen(sd) : 0) + 64;
    char *summary = malloc(len);
    if (summary) snprintf(summary, len, "Generator\n%s\nDiscriminator\n%s", sg ? sg : "", sd ? sd : "");
    mx_report rep = {.title = e->title, .experiment = e->name, .description = e->description, .command = a->command,
                     .summary = summary, .settings = settings, .train_seconds = train_s, .threads = c->threads,
                     .gan_epochs = c->hist, .n_gan_epochs = c->n_hist, .grids = grids};
    snprintf(path, sizeof path, "%s/report.html", c->out);
    rc = mx_report_write(path, &rep);
    free(sg);
    free(sd);
    free(summary);
    if (!rc) printf("generator: %s/model.json\nreport: %s\n", c->out, path);
    return rc;
}

int cli_train_gan(const char *path, const cli_train_args *a) {
    gan_experiment e;
    if (gan_experiment_load(path, &e)) {
        gan_experiment_free(&e);
        return cli_error("train", "%s", mx_error());
    }
    gan_run c = {&e, NULL, e.epochs, e.batch_size, e.seed, 0, NULL, NULL, 0, 0};
    int limit = 0, rc = 1;
    if ((a->epochs && cli_int(a->epochs, "--epochs", 1, 1000000, &c.epochs)) ||
        (a->batch_size && cli_int(a->batch_size, "--batch-size", 1, 65536, &c.batch_size)) ||
        (a->seed && cli_u64(a->seed, "--seed", &c.seed)) || (a->threads && cli_int(a->threads, "--threads", 1, 64, &c.threads)) ||
        (a->limit && cli_int(a->limit, "--limit", 1, 2000000000, &limit))) {
        cli_error("train", "%s", mx_error());
        gan_experiment_free(&e);
        return 2;
    }
    if (a->dataset || a->base) {
        gan_experiment_free(&e);
        return cli_error("train", "%s: --dataset and --base are not for GAN experiments", e.name ? e.name : path);
    }
    char out[4096];
    snprintf(out, sizeof out, "%s", a->out ? a->out : "runs/");
    if (!a->out) snprintf(out, sizeof out, "runs/%s", e.name);
    c.out = out;
    mx_dataset *train = NULL;
    mx_model *g = NULL, *d = NULL;
    c.hist = calloc((size_t)c.epochs, sizeof *c.hist);
    c.sample_noise = calloc((size_t)(e.rows * e.cols * e.noise_dim), sizeof(float));
    if (!c.hist || !c.sample_noise) {
        mx_fail("out of memory");
        goto fail;
    }
    mx_gan_noise(c.sample_noise, (int64_t)e.rows * e.cols * e.noise_dim, e.sample_seed);
    if (mx_set_threads(c.threads)) goto fail;
    c.threads = mx_threads();
    if (!(train = cli_dataset_load(&e.data, "train", a->data))) goto fail;
    if (limit && limit < train->n) {
        mx_dataset *s = mx_dataset_slice(train, 0, limit);
        mx_dataset_free(train);
        if (!(train = s)) goto fail;
    }
    char samples[4200];
    snprintf(samples, sizeof samples, "%s/samples", c.out);
    if (mx_mkdirs(samples)) goto fail;
    if (a->resume) {
        if (load_checkpoint(&c, &g, &d)) goto fail;
    } else {
        g = mx_model_from_json(e.g_json, path, c.seed);
        d = g ? mx_model_from_json(e.d_json, path, c.seed + 1) : NULL;
        if (!g) mx_fail_context("generator: ");
        else if (!d) mx_fail_context("discriminator: ");
        if (!g || !d) goto fail;
    }
    int64_t zshape[MX_MAX_RANK];
    if (mx_model_input_shape(g, 0, zshape) != 1 || zshape[0] != e.noise_dim) {
        mx_fail("%s: the generator takes %s, but noise_dim is %d", path,
                mx_shape_str(mx_model_input_shape(g, 0, zshape), zshape, (char[128]){0}, 128), e.noise_dim);
        goto fail;
    }
    if (mx_gan_compile(g, d, &e.g_opt, &e.d_opt)) goto fail;
    if (a->resume) {
        if (load_opt_states(&c, g, d)) goto fail;
        fprintf(stderr, "resuming %s after epoch %d\n", e.name, c.n_hist);
    }
    mx_gan_options o = mx_gan_defaults();
    o.epochs = c.epochs;
    o.batch_size = c.batch_size;
    o.seed = c.seed;
    o.shuffle = e.shuffle;
    o.scale = e.scale;
    o.offset = e.offset;
    o.initial_epoch = c.n_hist;
    o.on_batch = on_batch;
    o.on_epoch_end = on_epoch;
    o.user = &c;
    o.interrupt = &g_interrupt;
    c.steps = (train->n + c.batch_size - 1) / c.batch_size;
    if (c.n_hist >= c.epochs)
        fprintf(stderr, "the checkpoint already has %d epochs: nothing to train (raise --epochs)\n", c.n_hist);
    fprintf(stderr, "training %s (GAN) on %lld images (%s), %d epochs, batch %d, %d threads\n", e.name,
            (long long)train->n, e.data.name, c.epochs, c.batch_size, c.threads);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    int frc = mx_gan_fit(g, d, train, &o);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (frc) {
        if (g_interrupt) {
            cli_progress_end();
            fprintf(stderr, "interrupted: the last finished epoch is saved in %s/checkpoint; continue with --resume\n", c.out);
            rc = 130;
        }
        goto fail;
    }
    if (c.n_hist < c.epochs) goto done; /* the epoch's callback stopped it and said why */
    if (write_outputs(g, d, &c, a, train)) goto fail;
    rc = 0;
    goto done;
fail:
    if (rc != 130 && mx_error()[0]) cli_error("train", "%s", mx_error());
done:
    mx_model_free(g);
    mx_model_free(d);
    mx_dataset_free(train);
    free(c.hist);
    free(c.sample_noise);
    gan_experiment_free(&e);
    return rc;
}
