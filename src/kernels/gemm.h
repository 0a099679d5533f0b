/* gemm.h: single-precision matrix multiply, the core of Dense and Conv2D.
 *
 *   C (M x N) = op(A) (M x K) * op(B) (K x N)      accumulate == 0
 *   C (M x N) += op(A) * op(B)                      accumulate != 0
 *
 * Row-major with leading dimensions in elements. op(A) = A (lda >= K) or,
 * with trans_a, A is stored K x M (lda >= M) and used transposed; likewise B.
 * Threads: uses the pool (mx_parallel); runs single-threaded inline when
 * called from inside a parallel region. Results are bit-identical for any
 * thread count: every C element is summed in the same fixed k order (one
 * thread per element, or per-block partial products added in block order
 * when C is a single tile with a long K). */
#ifndef MX_GEMM_H
#define MX_GEMM_H

#include "kernels/activation.h"

#include <stdint.h>

void mx_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
             const float *A, int64_t lda, const float *B, int64_t ldb,
             float *C, int64_t ldc, int accumulate);

/* Work done on each block of C as soon as its sum is complete, while it is
 * still in cache: C += bias (one value per column), then out = act(C) with
 * out laid out like C. Saves the separate passes over C that a bias and an
 * activation would otherwise take. act must be elementwise (not softmax). */
typedef struct mx_gemm_epilogue {
    const float *bias; /* (N) or NULL */
    mx_act act;
    float *out;        /* like C, or NULL for no activation */
} mx_gemm_epilogue;

void mx_gemm_ex(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                const float *A, int64_t lda, const float *B, int64_t ldb,
                float *C, int64_t ldc, int accumulate, const mx_gemm_epilogue *epi);

#endif
