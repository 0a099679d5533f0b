/* train_text.c: what `mlexp train` leaves for a character-level language
 * model: the model, history.json, metadata.json (kind "text", the
 * vocabulary in class order, the held-out cross-entropy per character),
 * text sampled at three temperatures, and report.html showing them. */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"
#include "cli/report.h"
#include "io/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_TEMPS 3
#define SAMPLE_LENGTH 600
#define PRIME_CHARS 40

/* the first characters of the held-out text (stream 0, window 0), from the
 * start of a word when the window has a space or a line break */
static void held_out_prime(const mx_dataset *test, const mx_chars *chars, char *out, size_t n) {
    const int64_t seq = test->shape[0];
    int64_t from = 0;
    for (int64_t t = 0; t + 1 < seq && !from; t++) {
        const uint32_t cp = chars->vocab[(int)test->x[t]];
        if (cp == ' ' || cp == '\n') from = t + 1;
    }
    size_t k = 0;
    const int64_t end = MX_MIN(from + PRIME_CHARS, seq);
    for (int64_t t = from; t < end && k + 5 < n; t++) k += (size_t)mx_utf8_put(chars->vocab[(int)test->x[t]], out + k);
    out[k] = 0;
}

int cli_text_outputs(mx_model *m, const cli_experiment *e, const char *out, const mx_history *h, const mx_dataset *test,
                     const mx_chars *chars, const char *command, int threads, const char *text_file, uint64_t seed,
                     int batch_size) {
    char path[4200];
    if (mx_model_save(m, out)) return -1;
    snprintf(path, sizeof path, "%s/history.json", out);
    if (cli_history_save(path, h)) return -1;

    /* the held-out streams from zero states, as validation reads them */
    double t0 = mx_now();
    mx_eval_result r;
    mx_model_reset_states(m);
    if (mx_evaluate(m, test, 1, 0, 65536, &r)) return -1;
    const double eval_s = mx_now() - t0;
    double train_s = 0;
    for (int i = 0; i < h->n; i++) train_s += h->epochs[i].seconds;
    const double val_loss = r.loss, val_acc = r.accuracy;
    mx_eval_result_free(&r); /* per-character predictions are not reported */
    const int64_t n_chars = test->n * test->shape[0];

    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    int64_t in_shape[MX_MAX_RANK];
    mx_model_input_shape(m, 0, in_shape);
    json_t *meta = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s, s:s, s:o, s:{s:i, s:s}, s:s, s:b, "
        "s:{s:f, s:f, s:f, s:I}, s:{s:i, s:i, s:I, s:i, s:f}, s:s, s:s, s:s}",
        "kind", "text", "experiment", e->name, "title", e->title, "description", e->description, "dataset", "text",
        "data_path", text_file, "vocabulary", cli_chars_vocab_json(chars), "input", "sequence_length",
        (int)in_shape[0], "encoding", "the index of each character in the vocabulary (Unicode code points in ascending order)",
        "loss", mx_loss_name(e->loss), "from_logits", e->from_logits, "metrics", "val_loss", val_loss,
        "val_bits_per_char", val_loss / log(2.0), "val_accuracy", val_acc, "val_characters", (json_int_t)n_chars,
        "training", "epochs", h->n, "batch_size", batch_size, "seed", (json_int_t)seed, "threads", threads, "seconds",
        train_s, "command", command, "date", date, "mlexp_version", MX_VERSION);
    if (!meta) return mx_fail("metadata.json: out of memory");
    json_t *tr = json_object_get(meta, "training");
    double chars_trained = 0; /* samples of every epoch, times their characters */
    for (int i = 0; i < h->n; i++) chars_trained += h->epochs[i].samples_per_s * h->epochs[i].seconds;
    json_object_set_new(tr, "characters", json_integer((json_int_t)llround(chars_trained * (double)test->shape[0])));
    snprintf(path, sizeof path, "%s/metadata.json", out);
    if (mx_json_save(meta, path)) {
        json_decref(meta);
        return -1;
    }

    /* samples from the saved model, as `mlexp generate` makes them */
    static const float temps[N_TEMPS] = {0.2f, 0.5f, 1.0f};
    char *samples[N_TEMPS] = {0}, prime[PRIME_CHARS * 4 + 8];
    held_out_prime(test, chars, prime, sizeof prime);
    int rc = 0;
    for (int i = 0; i < N_TEMPS && !rc; i++) {
        cli_gen_options g = {prime, SAMPLE_LENGTH, temps[i], seed};
        rc = cli_generate_text_run(out, meta, &g, NULL, &samples[i]);
    }
    json_decref(meta);

    char settings[2048];
    snprintf(settings, sizeof settings,
             "text: %s\ncharacters: %lld (%d distinct)\nheld out: the last %g%% (%lld characters read)\n"
             "layout: %d streams of %d-character windows, states carried (truncated BPTT)\noptimizer: %s, learning "
             "rate %g\nloss: %s%s\nepochs: %d\nseed: %llu\nthreads: %d",
             text_file, (long long)chars->n, chars->vocab_size, 100 * e->data.test_split, (long long)n_chars,
             batch_size, (int)in_shape[0], mx_optimizer_name(e->opt.kind), (double)e->opt.learning_rate,
             mx_loss_name(e->loss), e->from_logits ? " (from logits)" : "", h->n, (unsigned long long)seed, threads);
    char *summary = cli_summary_text(m);
    mx_report rep = {.title = e->title, .experiment = e->name, .description = e->description, .command = command,
                     .summary = summary, .settings = settings, .history = h, .test_loss = val_loss,
                     .test_accuracy = val_acc, .n_test = n_chars, .train_seconds = train_s, .eval_seconds = eval_s,
                     .threads = threads, .steps = 1, .per_char = 1, .n_samples = rc ? 0 : N_TEMPS,
                     .sample_prime = prime, .sample_temperatures = temps, .samples = samples};
    snprintf(path, sizeof path, "%s/report.html", out);
    if (!rc) rc = mx_report_write(path, &rep);
    free(summary);
    for (int i = 0; i < N_TEMPS; i++) free(samples[i]);
    if (!rc) {
        printf("validation: %.4f nats = %.4f bits per character, next character right %.2f%% (%lld characters)\n",
               val_loss, val_loss / log(2.0), 100 * val_acc, (long long)n_chars);
        printf("model:  %s/model.json\nreport: %s\n", out, path);
    }
    return rc;
}
