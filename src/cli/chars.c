/* chars.c: character-level text experiments (dataset "text"): where the
 * text file is, its training and held-out streams, the model rebuilt for a
 * batch and a sequence length with stateful recurrent layers, and the
 * vocabulary as metadata.json keeps it. */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_is_text(const char *dataset) { return dataset && !strcmp(dataset, "text"); }

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_chars_path(const cli_data *d, const char *override, char *out, size_t n) {
    if (override) {
        snprintf(out, n, "%s", override);
        if (!is_file(out)) return mx_fail("%s: no such text file", override);
        return 0;
    }
    if (!d->path) return mx_fail("dataset text: no path (give --data FILE or dataset.path)");
    const char *env = getenv("MLEXP_DATA");
    const char *bases[] = {env && *env ? env : NULL, "./data", NULL};
    char root[4200];
    snprintf(root, sizeof root, "%s/data", cli_root());
    bases[2] = root;
    if (d->path[0] == '/' || is_file(d->path)) {
        snprintf(out, n, "%s", d->path);
    } else {
        for (int i = 0; i < 3; i++) {
            if (!bases[i]) continue;
            snprintf(out, n, "%s/%s", bases[i], d->path);
            if (is_file(out)) return 0;
        }
    }
    if (!is_file(out))
        return mx_fail("text file '%s' not found in $MLEXP_DATA, ./data or %s (scripts/setup.sh installs it; or give --data FILE)",
                       d->path, root);
    return 0;
}

int cli_chars_datasets(const cli_data *d, const char *file, int streams, mx_chars **chars, mx_dataset **train,
                       mx_dataset **test) {
    *chars = NULL;
    *train = *test = NULL;
    mx_chars *c = mx_chars_load(file);
    if (!c) return -1;
    /* the last test_split of the text is held out, whole */
    const int64_t n_train = (int64_t)((double)c->n * (1.0 - d->test_split));
    *train = mx_chars_streams(c->ids, n_train, c->vocab_size, streams, d->seq_length);
    if (!*train) {
        mx_fail_context("%s: training text (the first %lld characters): ", file, (long long)n_train);
        goto fail;
    }
    *test = mx_chars_streams(c->ids + n_train, c->n - n_train, c->vocab_size, streams, d->seq_length);
    if (!*test) {
        mx_fail_context("%s: held-out text (the last %lld characters): ", file, (long long)(c->n - n_train));
        goto fail;
    }
    *chars = c;
    return 0;
fail:
    mx_dataset_free(*train);
    *train = NULL;
    mx_chars_free(c);
    return -1;
}

static int is_recurrent(const char *cls) {
    return cls && (!strcmp(cls, "LSTM") || !strcmp(cls, "GRU") || !strcmp(cls, "SimpleRNN"));
}

/* the layers of a Sequential or functional config, also inside the
 * converter's {"model_config": ...} wrapper */
static json_t *layers_of(json_t *model) {
    json_t *inner = json_object_get(model, "model_config");
    if (json_is_object(inner)) model = inner;
    return json_object_get(json_object_get(model, "config"), "layers");
}

/* "vocabulary" in place of a number (Embedding's input_dim, the last Dense's
 * units): the text's vocabulary size */
static void set_vocabulary(json_t *cfg, int vocab_size) {
    static const char *const keys[] = {"input_dim", "units", "output_dim"};
    for (int k = 0; k < 3; k++) {
        json_t *v = json_object_get(cfg, keys[k]);
        if (json_is_string(v) && !strcmp(json_string_value(v), "vocabulary"))
            json_object_set_new(cfg, keys[k], json_integer(vocab_size));
    }
}

char *cli_chars_model(json_t *model, int batch, int seq, int vocab_size, const char *origin) {
    json_t *copy = json_deep_copy(model);
    json_t *layers = copy ? layers_of(copy) : NULL;
    if (!json_is_array(layers)) {
        json_decref(copy);
        return mx_failp("%s: the model has no list of layers", origin);
    }
    size_t i;
    json_t *l;
    int inputs = 0;
    json_array_foreach(layers, i, l) {
        const char *cls = json_string_value(json_object_get(l, "class_name"));
        json_t *cfg = json_object_get(l, "config");
        if (!json_is_object(cfg)) continue;
        /* the input: an InputLayer, or the first layer of a Sequential model */
        if ((cls && !strcmp(cls, "InputLayer")) || json_object_get(cfg, "batch_input_shape") ||
            json_object_get(cfg, "batch_shape")) {
            json_object_del(cfg, "batch_shape"); /* Keras 3's name */
            json_object_set_new(cfg, "batch_input_shape", json_pack("[i, i]", batch, seq));
            inputs++;
        }
        if (is_recurrent(cls)) json_object_set_new(cfg, "stateful", json_true());
        set_vocabulary(cfg, vocab_size);
    }
    char *text = inputs == 1 ? json_dumps(copy, JSON_COMPACT) : NULL;
    json_decref(copy);
    if (inputs != 1) return mx_failp("%s: a text model needs exactly one input (with batch_input_shape), found %d", origin, inputs);
    return text ? text : mx_failp("%s: cannot serialise the model", origin);
}

json_t *cli_chars_vocab_json(const mx_chars *c) {
    json_t *a = json_array();
    for (int i = 0; a && i < c->vocab_size; i++) {
        char ch[5] = {0};
        mx_utf8_put(c->vocab[i], ch);
        json_array_append_new(a, json_string(ch));
    }
    return a;
}

int cli_chars_vocab_from_json(json_t *vocab, uint32_t **out, int *n) {
    *out = NULL;
    *n = 0;
    if (!json_is_array(vocab) || json_array_size(vocab) == 0) return mx_fail("no 'vocabulary' list");
    uint32_t *v = mx_alloc_array(json_array_size(vocab), sizeof(uint32_t));
    if (!v) return -1;
    size_t i;
    json_t *s;
    json_array_foreach(vocab, i, s) {
        const char *ch = json_string_value(s);
        mx_chars *c = ch ? mx_chars_decode(ch, strlen(ch), "vocabulary", NULL, 0) : NULL;
        const int one = c && c->n == 1;
        if (one) v[i] = c->vocab[0];
        mx_chars_free(c);
        if (!one) {
            mx_free(v);
            return mx_fail("vocabulary entry %zu is not one character", i);
        }
        if (i > 0 && v[i] <= v[i - 1]) {
            mx_free(v);
            return mx_fail("the vocabulary is not in ascending code point order at entry %zu", i);
        }
    }
    *out = v;
    *n = (int)json_array_size(vocab);
    return 0;
}
