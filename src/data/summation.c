/* summation.c: the generated numbers_summation dataset (upstream's
 * "numbers summation" experiment): "a+b" for a, b drawn uniformly from 1 to
 * 99, written with spaces after to 7 characters and one-hot encoded over
 * the 12 symbols "0123456789+ "; the label is the sum as 3 characters (spaces
 * after), one class per character. There are 99 * 99 = 9,801 pairs, so a
 * large training set holds most of them; tests use another seed. Also the
 * text one-hot encoding shared with `mlexp predict --text`. */
#include "data/data.h"

#include <stdio.h>
#include <string.h>

#define IN_LEN 7
#define OUT_LEN 3

int mx_text_one_hot(const char *text, const char *alphabet, int length, char pad, float *out) {
    const size_t k = strlen(alphabet), n = strlen(text);
    if (n > (size_t)length) return mx_fail("text '%s' has %zu characters, more than the %d the model reads", text, n, length);
    memset(out, 0, sizeof(float) * (size_t)length * k);
    for (int i = 0; i < length; i++) {
        const char ch = (size_t)i < n ? text[i] : pad;
        const char *at = ch ? strchr(alphabet, ch) : NULL;
        if (!at) return mx_fail("text '%s': character '%c' is not one of \"%s\"", text, ch, alphabet);
        out[(size_t)i * k + (size_t)(at - alphabet)] = 1.0f;
    }
    return 0;
}

static mx_dataset *summation(int64_t n, uint64_t seed) {
    const char *abc = MX_SUMMATION_ALPHABET;
    const int k = (int)strlen(abc);
    mx_dataset *d = mx_dataset_new(n, 2, (const int64_t[]){IN_LEN, k}, OUT_LEN);
    if (!d) return NULL;
    d->class_names = mx_alloc_array((size_t)k, sizeof(char *));
    for (int i = 0; d->class_names && i < k; i++, d->n_classes = i) {
        char sym[2] = {abc[i], 0};
        if (!(d->class_names[i] = mx_strdup(sym))) break;
    }
    if (d->n_classes != k) {
        mx_dataset_free(d);
        return NULL;
    }
    mx_rng rng;
    mx_rng_seed(&rng, seed);
    for (int64_t s = 0; s < n; s++) {
        int a = 1 + (int)mx_rng_below(&rng, 99), b = 1 + (int)mx_rng_below(&rng, 99);
        char text[32], sum[16];
        snprintf(text, sizeof text, "%d+%d", a, b);
        snprintf(sum, sizeof sum, "%-3d", a + b);
        mx_text_one_hot(text, abc, IN_LEN, ' ', d->x + s * IN_LEN * k);
        for (int i = 0; i < OUT_LEN; i++) d->y[s * OUT_LEN + i] = (int32_t)(strchr(abc, sum[i]) - abc);
    }
    return d;
}

int mx_dataset_is_generated(const char *name) { return name && !strcmp(name, "numbers_summation"); }

mx_dataset *mx_dataset_generate(const char *name, int64_t n, uint64_t seed) {
    if (n < 0 || n > ((int64_t)1 << 28)) return mx_failp("%s: %lld samples is not a sensible size", name ? name : "?", (long long)n);
    if (name && !strcmp(name, "numbers_summation")) return summation(n, seed);
    return mx_failp("unknown generated dataset '%s' (valid: numbers_summation)", name ? name : "");
}
