/* test_chars.c: character-level text: UTF-8 decoding and its errors, the
 * vocabulary, the stream layout for truncated backpropagation through time,
 * sampling at a temperature, generation with carried states against
 * re-running the prefix, and fit resumed mid-epoch or stopped by a time
 * budget. */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

MX_TEST(chars_utf8_vocabulary) {
    const char *s = "b\xc3\xa9" "a\xe2\x82\xac" "b\xf0\x9f\x90\x8b"; /* b é a € b 🐋 */
    mx_chars *c = mx_chars_decode(s, strlen(s), "t", NULL, 0);
    CHECK_MSG(c != NULL, "%s", mx_error());
    if (!c) return;
    CHECK(c->n == 6 && c->vocab_size == 5);
    const uint32_t want_vocab[5] = {'a', 'b', 0xe9, 0x20ac, 0x1f40b};
    const int32_t want_ids[6] = {1, 2, 0, 3, 1, 4};
    for (int i = 0; i < 5; i++) CHECK(c->vocab[i] == want_vocab[i]);
    for (int i = 0; i < 6; i++) CHECK(c->ids[i] == want_ids[i]);
    CHECK(mx_chars_index(c, 0x20ac) == 3 && mx_chars_index(c, 'z') == -1);
    /* encoding back gives the same bytes */
    char out[64];
    size_t k = 0;
    for (int i = 0; i < 6; i++) k += (size_t)mx_utf8_put(c->vocab[c->ids[i]], out + k);
    CHECK(k == strlen(s) && !memcmp(out, s, k));
    /* with a given vocabulary, a character outside it is named */
    mx_chars *d = mx_chars_decode("ab\xc3\xa9z", 5, "prime", c->vocab, c->vocab_size);
    CHECK(d == NULL && strstr(mx_error(), "prime") && strstr(mx_error(), "'z'"));
    d = mx_chars_decode("ba", 2, "prime", c->vocab, c->vocab_size);
    CHECK(d && d->n == 2 && d->ids[0] == 1 && d->ids[1] == 0 && d->vocab_size == 5);
    mx_chars_free(d);
    mx_chars_free(c);
}

MX_TEST(chars_invalid_utf8) {
    static const struct {
        const char *bytes;
        size_t n, offset;
    } bad[] = {
        {"ab\xff", 3, 2},           /* a byte that starts nothing */
        {"a\xc0\x80", 3, 1},        /* overlong NUL */
        {"abc\xe2\x82", 5, 3},      /* truncated at the end */
        {"\xed\xa0\x80", 3, 0},     /* a surrogate */
        {"xy\xe2(\xa1", 5, 2},      /* a continuation byte missing */
        {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mx_chars *c = mx_chars_decode(bad[i].bytes, bad[i].n, "book.txt", NULL, 0);
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu", bad[i].offset);
        CHECK_MSG(c == NULL && strstr(mx_error(), "book.txt") && strstr(mx_error(), want), "case %zu: %s", i,
                  mx_error());
        mx_chars_free(c);
    }
    /* files: a missing one, and bad bytes named with the file */
    CHECK(mx_chars_load("/nonexistent/text.txt") == NULL && strstr(mx_error(), "/nonexistent/text.txt"));
    const char *path = tu_write("bad.txt", "fine so far \xc3");
    CHECK(mx_chars_load(path) == NULL && strstr(mx_error(), path) && strstr(mx_error(), "offset 12"));
}

/* sample w * streams + b is window w of stream b; y is x one character on */
MX_TEST(chars_streams_layout) {
    enum { N = 103, B = 4, SEQ = 5 };
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = i % 7;
    mx_dataset *d = mx_chars_streams(ids, N, 7, B, SEQ);
    CHECK_MSG(d != NULL, "%s", mx_error());
    if (!d) return;
    const int per = (N - 1) / B, windows = per / SEQ; /* 25 and 5 */
    CHECK(d->n == windows * B && d->rank == 1 && d->shape[0] == SEQ && d->y_steps == SEQ && d->n_classes == 7);
    int ok = 1;
    for (int w = 0; w < windows; w++)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < SEQ; t++) {
                const int at = b * per + w * SEQ + t, i = w * B + b;
                ok &= d->x[i * SEQ + t] == (float)ids[at] && d->y[i * SEQ + t] == ids[at + 1];
            }
    CHECK(ok);
    mx_dataset_free(d);
    CHECK(mx_chars_streams(ids, 10, 7, 4, 5) == NULL && strstr(mx_error(), "too few"));
}

MX_TEST(chars_sample_temperature) {
    const float logits[4] = {0.5f, 2.0f, -1.0f, 1.0f};
    /* temperature 0 (and tiny): the most likely class, whatever u */
    for (int i = 0; i < 10; i++) CHECK(mx_sample_class(logits, 4, 1, 0, i / 10.0) == 1);
    CHECK(mx_sample_class(logits, 4, 1, 1e-4f, 0.99) == 1);
    /* temperature 1: the softmax's cumulative distribution */
    double p[4], s = 0;
    for (int k = 0; k < 4; k++) s += p[k] = exp(logits[k]);
    double cum = 0;
    for (int k = 0; k < 4; k++) {
        cum += p[k] / s;
        CHECK(mx_sample_class(logits, 4, 1, 1, cum - 1e-6) == k);
        if (k < 3) CHECK(mx_sample_class(logits, 4, 1, 1, cum + 1e-6) == k + 1);
    }
    /* from probabilities: p^(1/T) normalised, the same as logits / T */
    float probs[4];
    for (int k = 0; k < 4; k++) probs[k] = (float)(p[k] / s);
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= mx_sample_class(probs, 4, 0, 0.5f, i / 100.0) == mx_sample_class(logits, 4, 1, 0.5f, i / 100.0);
    CHECK(same);
}

static mx_model *char_model(int batch, int seq, int stateful) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"c\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [%d, %d]}},"
             "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 5, \"output_dim\": 3}},"
             "{\"class_name\": \"LSTM\", \"config\": {\"units\": 6, \"return_sequences\": true, \"stateful\": %s}},"
             "{\"class_name\": \"Dense\", \"config\": {\"units\": 5}}]}}",
             batch, seq, stateful ? "true" : "false");
    mx_model *m = mx_model_from_json(json, "char model", 7);
    CHECK_MSG(m != NULL, "%s", mx_error());
    return m;
}

/* What generation does, one character per step with the states carried,
 * gives the scores of running the whole prefix at once. */
MX_TEST(chars_generation_carries_state) {
    enum { L = 9 };
    mx_model *step = char_model(1, 1, 1), *full = char_model(1, L, 0);
    if (!step || !full) return;
    float *w = malloc(sizeof(float) * (size_t)mx_model_weights_size(full));
    tu_fill(w, mx_model_weights_size(full), 3, -0.6f, 0.6f);
    mx_model_weights_set(full, w);
    mx_model_weights_set(step, w);
    free(w);
    const float text[L] = {1, 4, 0, 2, 2, 3, 1, 0, 4};
    const float *y_full = tu_forward(full, text, 1, 0); /* (L, 5) */
    float want[L * 5];
    memcpy(want, y_full, sizeof want);
    mx_model_reset_states(step);
    double worst = 0;
    for (int t = 0; t < L; t++) worst = fmax(worst, tu_maxdiff(tu_forward(step, &text[t], 1, 0), want + t * 5, 5));
    CHECK_MSG(worst < 1e-5, "carried states differ from the whole prefix by %g", worst);
    /* a reset starts again from the first character */
    mx_model_reset_states(step);
    CHECK(tu_maxdiff(tu_forward(step, &text[0], 1, 0), want, 5) < 1e-6);
    mx_model_free(step);
    mx_model_free(full);
}

typedef struct stop_at {
    int64_t step;
    volatile int flag;
} stop_at;

static void stop_after(const mx_fit_progress *p, void *user) {
    stop_at *s = user;
    if (p->epoch == 2 && p->step == s->step) s->flag = 1;
}

static mx_dataset *stream_data(void) {
    int32_t ids[400];
    mx_rng r;
    mx_rng_seed(&r, 9);
    for (int i = 0; i < 400; i++) ids[i] = i % 5 == 4 ? 0 : (int32_t)mx_rng_below(&r, 5);
    return mx_chars_streams(ids, 400, 5, 4, 6);
}

static mx_model *compiled(void) {
    mx_model *m = char_model(4, 6, 1);
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    o.global_clipnorm = 5;
    if (m) CHECK(mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 1, &o) == 0);
    return m;
}

/* Interrupted in the middle of epoch 2 and resumed from that step (the
 * states where they were) gives the uninterrupted run's weights, bit for bit. */
MX_TEST(chars_fit_resume_mid_epoch) {
    mx_dataset *d = stream_data();
    mx_model *a = compiled(), *b = compiled();
    if (!d || !a || !b) goto done;
    mx_fit_options o = mx_fit_defaults();
    o.epochs = 3;
    o.batch_size = 4;
    o.shuffle = 0;
    o.reset_states = 1;
    o.validation_data = d;
    mx_history ha = {0}, hb = {0};
    CHECK_MSG(mx_fit(a, d, &o, &ha) == 0, "%s", mx_error());
    stop_at s = {7, 0};
    mx_fit_options ob = o;
    ob.on_batch = stop_after;
    ob.user = &s;
    ob.interrupt = &s.flag;
    CHECK(mx_fit(b, d, &ob, &hb) != 0 && hb.n == 1);
    ob.interrupt = NULL;
    ob.on_batch = NULL;
    ob.initial_epoch = hb.n;
    ob.initial_step = s.step;
    CHECK_MSG(mx_fit(b, d, &ob, &hb) == 0, "%s", mx_error());
    CHECK(hb.n == 3);
    const int64_t n = mx_model_weights_size(a);
    float *wa = malloc(sizeof(float) * (size_t)n), *wb = malloc(sizeof(float) * (size_t)n);
    mx_model_weights_get(a, wa);
    mx_model_weights_get(b, wb);
    CHECK_MSG(!memcmp(wa, wb, sizeof(float) * (size_t)n), "resumed weights differ by %g", tu_maxdiff(wa, wb, n));
    CHECK(ha.epochs[2].val_loss == hb.epochs[2].val_loss);
    free(wa);
    free(wb);
    mx_history_free(&ha);
    mx_history_free(&hb);
done:
    mx_model_free(a);
    mx_model_free(b);
    mx_dataset_free(d);
}

/* A time budget ends the epoch under way early; it is still validated. */
MX_TEST(chars_fit_time_budget) {
    mx_dataset *d = stream_data();
    mx_model *m = compiled();
    if (!d || !m) goto done;
    mx_fit_options o = mx_fit_defaults();
    o.epochs = 1000000;
    o.batch_size = 4;
    o.shuffle = 0;
    o.reset_states = 1;
    o.validation_data = d;
    o.max_seconds = 0.2;
    mx_history h = {0};
    double t = mx_now();
    CHECK_MSG(mx_fit(m, d, &o, &h) == 0, "%s", mx_error());
    CHECK(mx_now() - t < 5 && h.n >= 1 && h.stopped_early && isfinite(h.epochs[h.n - 1].val_loss));
    mx_history_free(&h);
done:
    mx_model_free(m);
    mx_dataset_free(d);
}
