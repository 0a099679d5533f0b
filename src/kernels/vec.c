/* vec.c: elementwise helpers. */
#include "kernels/vec.h"

#include "core/core.h"
#include "kernels/simd.h"

#include <string.h>

typedef struct store_job {
    float *dst;
    const float *src;
} store_job;

static void add_range(void *p, int64_t b, int64_t e) {
    store_job *j = p;
    for (int64_t i = b; i < e; i++) j->dst[i] += j->src[i];
}

static void copy_range(void *p, int64_t b, int64_t e) {
    store_job *j = p;
    memcpy(j->dst + b, j->src + b, sizeof(float) * (size_t)(e - b));
}

void mx_vec_store(float *dst, const float *src, int64_t n, int accumulate) {
    store_job j = {dst, src};
    mx_parallel_for(n, 1 << 16, accumulate ? add_range : copy_range, &j);
}

typedef struct sum_job {
    const float *x;
    float *out;
    int64_t rows, cols;
    int accumulate;
} sum_job;

/* Rows are summed in order for every column: a fixed order, so results are
 * reproducible. Bias gradients are small next to the GEMMs around them. */
static void sum_cols(void *p, int64_t c0, int64_t c1) {
    sum_job *j = p;
    int64_t c = c0;
    for (; c + MX_VL <= c1; c += MX_VL) {
        mx_vf s = mx_vset1(0);
        for (int64_t r = 0; r < j->rows; r++) s += mx_vload(j->x + r * j->cols + c);
        if (j->accumulate) s += mx_vload(j->out + c);
        mx_vstore(j->out + c, s);
    }
    for (; c < c1; c++) {
        float s = 0;
        for (int64_t r = 0; r < j->rows; r++) s += j->x[r * j->cols + c];
        j->out[c] = j->accumulate ? j->out[c] + s : s;
    }
}

void mx_vec_sum_rows(const float *x, float *out, int64_t rows, int64_t cols, int accumulate) {
    sum_job j = {x, out, rows, cols, accumulate};
    sum_cols(&j, 0, cols);
}
