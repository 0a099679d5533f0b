/* text.c: models that read and write characters (numbers_summation): their
 * encoding as metadata.json keeps it, and decoding their outputs. */
#include "cli/cli.h"

#include <string.h>

int cli_text_of(const char *dataset, const mx_dataset *d, cli_text *t) {
    if (!dataset || strcmp(dataset, "numbers_summation") || !d || d->rank != 2) return 0;
    *t = (cli_text){MX_SUMMATION_ALPHABET, (int)d->shape[0], mx_dataset_label_steps(d), ' '};
    return 1;
}

int cli_text_from_metadata(json_t *meta, cli_text *t) {
    json_t *in = json_object_get(json_object_get(meta, "input"), "text");
    json_t *out = json_object_get(json_object_get(meta, "output"), "text");
    const char *abc = json_string_value(json_object_get(in, "alphabet"));
    const char *pad = json_string_value(json_object_get(in, "pad"));
    if (!abc || !pad || strlen(pad) != 1) return 0;
    t->alphabet = abc;
    t->pad = pad[0];
    t->in_length = (int)json_integer_value(json_object_get(in, "length"));
    t->out_length = (int)json_integer_value(json_object_get(out, "length"));
    return t->in_length > 0 && t->out_length > 0;
}

void cli_text_decode(const cli_text *t, const float *y, int steps, int classes, char *out, size_t n) {
    size_t k = 0, len = strlen(t->alphabet);
    for (int s = 0; s < steps && k + 1 < n; s++) {
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (y[s * classes + c] > y[s * classes + best]) best = c;
        out[k++] = (size_t)best < len ? t->alphabet[best] : '?';
    }
    while (k > 0 && out[k - 1] == t->pad) k--;
    out[k] = 0;
}
