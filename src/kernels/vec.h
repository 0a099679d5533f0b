/* vec.h: small elementwise helpers shared by layers. */
#ifndef MX_VEC_H
#define MX_VEC_H

#include <stdint.h>

/* dst = src (accumulate == 0) or dst += src */
void mx_vec_store(float *dst, const float *src, int64_t n, int accumulate);
/* out[c] (=|+=) sum over rows of x[r][c] */
void mx_vec_sum_rows(const float *x, float *out, int64_t rows, int64_t cols, int accumulate);

#endif
