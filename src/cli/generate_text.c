/* generate_text.c: sampling from a character-level language model. The
 * model is rebuilt from model.json for batch 1 and one character per step
 * with its recurrent layers stateful, so each character is fed once: the
 * prime, then every sampled character, the states carried from step to
 * step (never re-running the text so far). Draw i uses element i of a
 * random stream of the seed, so a seed always gives the same text. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* model.json of dir as a batch-1, one-step, stateful model with its weights */
static mx_model *generator_model(const char *dir, int vocab_size) {
    char path[4200];
    snprintf(path, sizeof path, "%s/model.json", dir);
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    if (!root) return mx_failp("%s: %s", path, e.text);
    json_t *topo = json_object_get(root, "modelTopology");
    char *js = json_is_object(topo) ? cli_chars_model(topo, 1, 1, vocab_size, path) : mx_failp("%s: no modelTopology", path);
    json_decref(root);
    if (!js) return NULL;
    mx_model *m = mx_model_from_json(js, path, 1);
    free(js);
    int loaded = 0;
    if (m && mx_model_load_weights(m, dir, &loaded)) {
        mx_model_free(m);
        return NULL;
    }
    if (m && loaded == 0) {
        mx_model_free(m);
        return mx_failp("%s: no weights found for the model", path);
    }
    return m;
}

/* one character into out (the stream) or the growing text */
static void put_char(uint32_t cp, FILE *out, FILE *mem) {
    char ch[5] = {0};
    mx_utf8_put(cp, ch);
    if (out) {
        fputs(ch, out);
        fflush(out);
    }
    if (mem) fputs(ch, mem);
}

int cli_generate_text_run(const char *model_dir, json_t *meta, const cli_gen_options *o, FILE *out, char **text) {
    uint32_t *vocab = NULL;
    int nv = 0, rc = -1;
    if (cli_chars_vocab_from_json(json_object_get(meta, "vocabulary"), &vocab, &nv))
        return mx_fail_context("%s/metadata.json: ", model_dir);
    const int from_logits = json_is_true(json_object_get(meta, "from_logits"));
    /* without a prime: a newline, if the text had any */
    mx_chars *prime = NULL;
    if (o->prime && o->prime[0])
        prime = mx_chars_decode(o->prime, strlen(o->prime), "--prime", vocab, nv);
    else
        prime = mx_chars_decode("\n", 1, "an empty --prime (a newline)", vocab, nv);
    mx_model *m = prime ? generator_model(model_dir, nv) : NULL;
    mx_tensor *x = mx_tensor_new(2, (int64_t[]){1, 1}), *y = mx_tensor_new(3, (int64_t[]){1, 1, nv});
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = text ? open_memstream(&buf, &len) : NULL;
    if (!m || !x || !y || (text && !mem)) goto done;
    int64_t shape[MX_MAX_RANK];
    if (mx_model_output_shape(m, 0, shape) != 2 || shape[1] != nv) {
        mx_fail("%s: the model's output is not one score per character of the %d in the vocabulary", model_dir, nv);
        goto done;
    }
    mx_model_reset_states(m);
    for (int64_t i = 0; i < prime->n; i++) { /* the prime, once */
        if (o->prime && o->prime[0]) put_char(vocab[prime->ids[i]], out, mem);
        x->data[0] = (float)prime->ids[i];
        if (mx_predict(m, x, y, 1)) goto done;
    }
    const uint64_t stream = mx_stream(o->seed, 0x6e78, 0, 0);
    for (int i = 0; i < o->length; i++) {
        const int id = mx_sample_class(y->data, nv, from_logits, o->temperature, mx_uniform(stream, (uint64_t)i));
        put_char(vocab[id], out, mem);
        x->data[0] = (float)id;
        if (i + 1 < o->length && mx_predict(m, x, y, 1)) goto done;
    }
    rc = 0;
done:
    if (mem) fclose(mem);
    if (text && rc == 0) *text = buf;
    else free(buf);
    mx_tensor_free(x);
    mx_tensor_free(y);
    mx_model_free(m);
    mx_chars_free(prime);
    mx_free(vocab);
    return rc;
}

int cli_generate_text(const char *model_dir, json_t *meta, int argc, char **argv) {
    const char *prime = NULL, *length_s = NULL, *temp_s = NULL, *seed_s = NULL, *threads_s = NULL;
    const cli_opt opts[] = {
        {"--prime", "TEXT", "text to start from, fed once (default: a newline)", &prime, NULL},
        {"--length", "N", "characters to sample (default 500)", &length_s, NULL},
        {"--temperature", "T", "randomness: 1 samples the model's probabilities, lower is more conservative, "
                               "0 always takes the likeliest character (default 0.5)", &temp_s, NULL},
        {"--seed", "S", "random seed; the same seed gives the same text (default 1)", &seed_s, NULL},
        {"--threads", "N", "worker threads (default: all cores)", &threads_s, NULL},
        {0},
    };
    const cli_cmd c = {"generate", "MODEL_DIR [options]",
                       "Sample text from a character-level language model, one character at a time,\n"
                       "each written as soon as it is drawn; the prime is echoed first.",
                       "Sampling: p(char) proportional to exp(logit / T); T below 0.001 (0 included) is argmax.",
                       opts};
    int p = cli_parse(&c, argc, argv, NULL, 0, 0);
    if (p) return p > 0 ? 0 : 2;
    cli_gen_options o = {prime, 500, 0.5f, 1};
    int threads = 0;
    if ((length_s && cli_int(length_s, "--length", 0, 100000000, &o.length)) ||
        (seed_s && cli_u64(seed_s, "--seed", &o.seed)) || (threads_s && cli_int(threads_s, "--threads", 1, 64, &threads)))
        return cli_error("generate", "%s", mx_error()) + 1;
    if (temp_s) {
        char *end;
        errno = 0;
        double t = strtod(temp_s, &end);
        if (errno || end == temp_s || *end || !(t >= 0) || t > 100)
            return cli_error("generate", "--temperature must be a number from 0 to 100, got '%s'", temp_s) + 1;
        o.temperature = (float)t;
    }
    if (mx_set_threads(threads)) return cli_error("generate", "%s", mx_error());
    if (cli_generate_text_run(model_dir, meta, &o, stdout, NULL)) {
        fputc('\n', stdout);
        return cli_error("generate", "%s", mx_error());
    }
    fputc('\n', stdout);
    return 0;
}
