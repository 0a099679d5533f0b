/* gemm.c: single-precision GEMM in the BLIS style.
 *
 * C is cut into NC-wide column panels and KC-deep k-blocks; for each, op(B) is
 * packed into NR-wide slivers (k-major, NR floats per k) and op(A), MC rows at
 * a time, into MR-tall slivers (MR floats per k). One micro-kernel multiplies
 * an MR x KC sliver of A by a KC x NR sliver of B into an MR x NR register
 * tile: per k it loads NV vectors of B and broadcasts MR scalars of A.
 * Packing pads partial slivers with zeros, so the kernel always runs full
 * tiles and only the write-back looks at edges.
 *
 * Written with the portable vector type of simd.h only, so the same source
 * serves AVX-512, AVX2, SSE, wasm simd128 and scalar builds.
 *
 * Determinism: the k-blocking depends on K alone, and every C element is
 * summed by one thread (threads own disjoint blocks of C), so results are
 * bit-identical for any thread count. */
#include "kernels/gemm.h"

#include "core/core.h"
#include "kernels/simd.h"

#include <string.h>

/* Register tile MR x NR (NR = NV vectors). The accumulators, NV B vectors and
 * one broadcast must fit the register file: 32 registers with AVX-512
 * (14 x 2 = 28 accumulators), 16 with AVX/SSE (6 x 2 = 12). WebAssembly
 * SIMD has no fused multiply-add, so each product needs a register of its
 * own, and the engine (V8) allocates them: 2 x 4 measured fastest there
 * (Fashion CNN 1.25x at batch 64 and 1.2x at batch 1 over 6 x 2, the
 * narrow tile also wasting less on one-row products). */
#ifndef MX_GEMM_MR
#if MX_VL == 16
#define MX_GEMM_MR 14
#elif MX_VL == 1
#define MX_GEMM_MR 4
#elif defined(__wasm_simd128__)
#define MX_GEMM_MR 2
#else
#define MX_GEMM_MR 6
#endif
#endif
#ifndef MX_GEMM_NV
#if MX_VL == 1 || defined(__wasm_simd128__)
#define MX_GEMM_NV 4
#else
#define MX_GEMM_NV 2
#endif
#endif
#define MR MX_GEMM_MR
#define NV MX_GEMM_NV
#define NR (NV * MX_VL)

/* Cache blocking. A KC x NR sliver of B (32 KiB with AVX-512) stays in L1
 * while the kernel walks the MC x KC block of A (L2); the KC x NC panel of B
 * lives in L2/L3. All three depend only on the build, never on threads. */
#ifndef MX_GEMM_KC
#define MX_GEMM_KC 256
#endif
#ifndef MX_GEMM_MC
#define MX_GEMM_MC (MR * 24)
#endif
#ifndef MX_GEMM_NC
#define MX_GEMM_NC 4096
#endif
#define KC MX_GEMM_KC
#define MC MX_GEMM_MC
#define NC MX_GEMM_NC

_Static_assert(NC % NR == 0 && MC % MR == 0, "blocks must hold whole slivers");
_Static_assert((size_t)KC * NC + (size_t)MC * KC + 2 * MX_VL <= MX_SCRATCH_FLOATS,
               "packed panels must fit the per-thread scratch");

/* Below this many multiply-adds (~3 us of one core) starting the pool costs
 * more than it saves. */
#define PARALLEL_MIN_MACS ((int64_t)1 << 19)

#define UNROLL _Pragma("GCC unroll 16")

typedef struct gemm_job {
    const mx_gemm_epilogue *epi;
    int accumulate;
    int split_n; /* threads own column ranges (1) or row ranges (0) */
    int64_t M, N, K;
    /* element (i, k) of op(A) is A[i * a_rs + k * a_cs]; (j, k) of op(B) is
     * B[j * b_rs + k * b_cs]: one of each pair is 1 */
    const float *A, *B;
    int64_t a_rs, a_cs, b_rs, b_cs, ldc;
    float *C;
} gemm_job;

#if MX_VL > 1 && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define HAVE_SHUFFLE 1
#endif
#endif

#ifdef HAVE_SHUFFLE
/* In-register transpose of r[MX_VL] rows. Stage h swaps the off-diagonal
 * h x h blocks of every 2h x 2h block: rows i and i + h exchange the lanes
 * where bit h is set (i) or clear (i + h). log2(MX_VL) stages of shuffles. */
#define LO(l, h) (((l) & (h)) ? MX_VL + (l) - (h) : (l))
#define HI(l, h) (((l) & (h)) ? MX_VL + (l) : (l) + (h))
#define L4(F, h, o) F(o, h), F(o + 1, h), F(o + 2, h), F(o + 3, h)
#define L8(F, h, o) L4(F, h, o), L4(F, h, o + 4)
#if MX_VL == 4
#define LANES(F, h) L4(F, h, 0)
#elif MX_VL == 8
#define LANES(F, h) L8(F, h, 0)
#else
#define LANES(F, h) L8(F, h, 0), L8(F, h, 8)
#endif
#define STAGE(h)                                                                   \
    UNROLL for (int i = 0; i < MX_VL; i++) if (!(i & (h))) {                       \
        mx_vf a = r[i], b = r[i + (h)];                                            \
        r[i] = __builtin_shufflevector(a, b, LANES(LO, h));                        \
        r[i + (h)] = __builtin_shufflevector(a, b, LANES(HI, h));                  \
    }

static inline void transpose(mx_vf r[MX_VL]) {
#if MX_VL >= 16
    STAGE(8)
#endif
#if MX_VL >= 8
    STAGE(4)
#endif
    STAGE(2)
    STAGE(1)
}
#endif

/* Packs rows [0, mn) x k [0, kc) of X, element (r, k) at x[r * rs + k * cs],
 * into slivers of w rows: (r, k) goes to dst[(r / w) * kc * w + k * w + r % w],
 * rows past mn are zero. dst: ceil(mn / w) * kc * w floats, plus MX_VL of
 * slack that the vector transpose may overwrite. w is a constant at each
 * call, so the copies below compile to fixed vector moves. */
static inline __attribute__((always_inline)) void pack(const float *x, int64_t rs, int64_t cs,
                                                       int64_t mn, int64_t kc, const int w,
                                                       float *restrict dst) {
    if (rs == 1) { /* rows contiguous for each k: copy, a few slivers at a time
                    * so every source row is read as one stream */
        const int64_t group = w * MX_MAX(1, 256 / w);
        for (int64_t s0 = 0; s0 < mn; s0 += group) {
            const int64_t s1 = MX_MIN(mn, s0 + group);
            for (int64_t k = 0; k < kc; k++) {
                const float *src = x + k * cs;
                for (int64_t s = s0; s < s1; s += w) {
                    float *d = dst + s * kc + k * w;
                    if (s + w <= mn) {
                        memcpy(d, src + s, (size_t)w * sizeof(float));
                    } else { /* not memcpy: a call per k costs more than the copy */
                        const int m = (int)(mn - s);
                        for (int i = 0; i < w; i++) d[i] = i < m ? src[s + i] : 0.0f;
                    }
                }
            }
        }
        return;
    }
    /* k contiguous in each row: transpose */
    for (int64_t s = 0; s < mn; s += w) {
        const float *src = x + s * rs;
        float *d = dst + s * kc;
        const int m = (int)MX_MIN(w, mn - s);
        int64_t k = 0;
#ifdef HAVE_SHUFFLE
        /* MX_VL x MX_VL blocks. A w-row group is written as whole vectors,
         * the last (partial) chunk first, so spill past a group's end is
         * overwritten by the next group or lands in the slack. */
        if (m == w)
            for (; k + MX_VL <= kc; k += MX_VL)
                for (int c = (w - 1) / MX_VL * MX_VL; c >= 0; c -= MX_VL) {
                    mx_vf r[MX_VL];
                    UNROLL for (int i = 0; i < MX_VL; i++)
                        r[i] = c + i < w ? mx_vload(src + (c + i) * rs + k) : mx_vset1(0.0f);
                    transpose(r);
                    UNROLL for (int l = 0; l < MX_VL; l++) mx_vstore(d + (k + l) * w + c, r[l]);
                }
#endif
        for (; k < kc; k++)
            for (int i = 0; i < w; i++) d[k * w + i] = i < m ? src[i * rs + k] : 0.0f;
    }
}

/* The micro-kernel: C[0..m) x [0..n) (=|+=) a (kc x MR) * b (kc x NR), b's
 * rows bs floats apart (NR when packed), of a's MR rows the first mr (MR,
 * or 1 for a single row). Constant-trip loops over MR and NV unroll fully,
 * so acc stays in registers; mr is a constant at each call, so the rows
 * past it fold away (a loop to mr would be unrolled before that is known). */
static inline __attribute__((always_inline)) void kernel_bs(int64_t kc, const float *restrict a,
                                                            const float *restrict b, const int64_t bs, const int mr,
                                                            float *restrict c, int64_t ldc, int m, int n, int add) {
    mx_vf acc[MR][NV];
    UNROLL for (int i = 0; i < MR; i++) {
        UNROLL for (int v = 0; v < NV; v++) acc[i][v] = mx_vset1(0.0f);
    }
    for (int64_t k = 0; k < kc; k++, a += MR, b += bs) {
        mx_vf bv[NV];
        UNROLL for (int v = 0; v < NV; v++) bv[v] = mx_vload(b + v * MX_VL);
        UNROLL for (int i = 0; i < MR; i++) {
            if (i < mr) UNROLL for (int v = 0; v < NV; v++) acc[i][v] += a[i] * bv[v];
        }
    }
    if (m == mr && n == NR) {
        UNROLL for (int i = 0; i < MR; i++) {
            if (i < mr) UNROLL for (int v = 0; v < NV; v++) {
                float *p = c + i * ldc + v * MX_VL;
                mx_vf x = acc[i][v];
                if (add) x = mx_vload(p) + x; /* C + partial everywhere, same bits */
                mx_vstore(p, x);
            }
        }
        return;
    }
    float t[MR * NR]; /* edge tile: through memory, then only the m x n corner */
    UNROLL for (int i = 0; i < MR; i++) {
        if (i < mr) UNROLL for (int v = 0; v < NV; v++) mx_vstore(t + i * NR + v * MX_VL, acc[i][v]);
    }
    for (int i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        const float *ti = t + i * NR;
        int j = 0;
        for (; j + MX_VL <= n; j += MX_VL) {
            mx_vf x = mx_vload(ti + j);
            if (add) x = mx_vload(ci + j) + x;
            mx_vstore(ci + j, x);
        }
        for (; j < n; j++) ci[j] = add ? ci[j] + ti[j] : ti[j];
    }
}

/* on packed B; on B in place (rows ldb apart), for m rows */
static void kernel(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int m, int n, int add) {
    kernel_bs(kc, a, b, NR, MR, c, ldc, m, n, add);
}
static void kernel_direct(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int m,
                          int add) {
    if (m == 1) /* one row: no work on the padding rows */
        kernel_bs(kc, a, b, ldb, 1, c, ldc, m, NR, add);
    else
        kernel_bs(kc, a, b, ldb, MR, c, ldc, m, NR, add);
}

/* The epilogue on rows [r0, r1) x columns [c0, c1) of a finished C. */
static void epilogue(const gemm_job *g, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    const mx_gemm_epilogue *e = g->epi;
    for (int64_t r = r0; r < r1; r++) {
        float *c = g->C + r * g->ldc;
        if (e->bias)
            for (int64_t j = c0; j < c1; j++) c[j] += e->bias[j];
        if (e->out) mx_act_eltwise(e->act, c + c0, e->out + r * g->ldc + c0, c1 - c0);
    }
}

/* One row of C with B's rows contiguous (a recurrent step or Dense layer at
 * batch 1): B is streamed row by row, a page of columns at a time. Walking
 * each NR-wide sliver down all of K instead touches a new page per k once
 * B's rows are a page or more apart (an LSTM's 4U-wide weights), and the
 * TLB misses made batch-1 generation with a 1024-unit LSTM 2.5x slower (41
 * against 103 characters/s on a busy machine). Each element is summed
 * as the kernel sums it: a k-block into an accumulator, then C (=|+=) it. */
#define GEMV_JC 1024
static void gemv_row(const gemm_job *g, int64_t m, int64_t n0, int64_t n1) {
    const int64_t K = g->K, nkb = (K + KC - 1) / KC, kb = (K + nkb - 1) / nkb;
    const float *a = g->A + m * g->a_rs;
    float *restrict c = g->C + m * g->ldc;
    float acc[GEMV_JC] __attribute__((aligned(64)));
    for (int64_t jc = n0; jc < n1; jc += GEMV_JC) {
        const int64_t nc = MX_MIN(GEMV_JC, n1 - jc);
        for (int64_t pc = 0; pc < K; pc += kb) {
            const int64_t kc = MX_MIN(kb, K - pc);
            memset(acc, 0, sizeof(float) * (size_t)nc);
            for (int64_t k = pc; k < pc + kc; k++) {
                const float av = a[k * g->a_cs];
                const float *restrict b = g->B + k * g->b_cs + jc;
                for (int64_t j = 0; j < nc; j++) acc[j] += av * b[j];
            }
            if (g->accumulate || pc > 0)
                for (int64_t j = 0; j < nc; j++) c[jc + j] = c[jc + j] + acc[j];
            else
                memcpy(c + jc, acc, sizeof(float) * (size_t)nc);
        }
        if (g->epi) epilogue(g, m, m + 1, jc, jc + nc);
    }
}

/* C[m0..m1) x [n0..n1) on the calling thread, packing into its scratch. */
static void gemm_block(const gemm_job *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    if (m1 - m0 == 1 && g->b_rs == 1) {
        gemv_row(g, m0, n0, n1);
        return;
    }
    float *bp = mx_scratch();                 /* KC x NC: NC / NR slivers of KC x NR */
    const int64_t K = g->K, ldc = g->ldc;
    if (!bp) { /* no scratch (out of memory): slow, but no crash */
        for (int64_t i = m0; i < m1; i++)
            for (int64_t j = n0; j < n1; j++) {
                float s = g->accumulate ? g->C[i * ldc + j] : 0.0f;
                for (int64_t k = 0; k < K; k++)
                    s += g->A[i * g->a_rs + k * g->a_cs] * g->B[j * g->b_rs + k * g->b_cs];
                g->C[i * ldc + j] = s;
            }
        if (g->epi) epilogue(g, m0, m1, n0, n1);
        return;
    }
    float *ap = bp + (size_t)KC * NC + MX_VL; /* MC x KC: MC / MR slivers of KC x MR */
    /* equal k-blocks of at most KC, from K alone (gemm_ksplit relies on it) */
    const int64_t nkb = (K + KC - 1) / KC, kb = (K + nkb - 1) / nkb;
    /* One tile of rows (batch-1 inference): packing B would copy all of it
     * for one use, so where B's rows are contiguous the kernel reads them in
     * place; only a last partial sliver is packed. Same sums, same order. */
    const int b_in_place = g->b_rs == 1 && m1 - m0 <= MR;
    for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = MX_MIN(NC, n1 - jc);
        for (int64_t pc = 0; pc < K; pc += kb) {
            const int64_t kc = MX_MIN(kb, K - pc);
            const int add = g->accumulate || pc > 0;
            if (b_in_place) {
                const int64_t whole = nc / NR * NR;
                pack(g->A + m0 * g->a_rs + pc * g->a_cs, g->a_rs, g->a_cs, m1 - m0, kc, MR, ap);
                for (int64_t jr = 0; jr < whole; jr += NR)
                    kernel_direct(kc, ap, g->B + jc + jr + pc * g->b_cs, g->b_cs, g->C + m0 * ldc + jc + jr, ldc,
                                  (int)(m1 - m0), add);
                if (whole < nc) {
                    pack(g->B + jc + whole + pc * g->b_cs, 1, g->b_cs, nc - whole, kc, NR, bp);
                    kernel(kc, ap, bp, g->C + m0 * ldc + jc + whole, ldc, (int)(m1 - m0), (int)(nc - whole), add);
                }
                if (g->epi && pc + kc >= K) epilogue(g, m0, m1, jc, jc + nc);
                continue;
            }
            pack(g->B + jc * g->b_rs + pc * g->b_cs, g->b_rs, g->b_cs, nc, kc, NR, bp);
            for (int64_t ic = m0; ic < m1; ic += MC) {
                const int64_t mc = MX_MIN(MC, m1 - ic);
                pack(g->A + ic * g->a_rs + pc * g->a_cs, g->a_rs, g->a_cs, mc, kc, MR, ap);
                for (int64_t jr = 0; jr < nc; jr += NR)
                    for (int64_t ir = 0; ir < mc; ir += MR)
                        kernel(kc, ap + ir * kc, bp + jr * kc, g->C + (ic + ir) * ldc + jc + jr, ldc,
                               (int)MX_MIN(MR, mc - ir), (int)MX_MIN(NR, nc - jr), add);
                if (g->epi && pc + kc >= K) epilogue(g, ic, ic + mc, jc, jc + nc);
            }
        }
    }
}

/* Worker ith of nth takes a contiguous run of whole MR-row or NR-column tiles. */
static void gemm_task(void *ctx, int ith, int nth) {
    const gemm_job *g = ctx;
    int64_t b, e;
    if (g->split_n) {
        mx_split_range((g->N + NR - 1) / NR, ith, nth, &b, &e);
        if (b < e) gemm_block(g, 0, g->M, b * NR, MX_MIN(e * NR, g->N));
    } else {
        mx_split_range((g->M + MR - 1) / MR, ith, nth, &b, &e);
        if (b < e) gemm_block(g, b * MR, MX_MIN(e * MR, g->M), 0, g->N);
    }
}

/* When C has fewer tiles than there are threads but K is long (conv1's weight
 * gradient: 9 x 32 with K = 25088), threads take runs of k-blocks instead.
 * Each stores the partial product of every k-block it owns in its scratch,
 * past the packing buffers; then, split by rows, they add the partials to C
 * in k-block order. That is the float-for-float sequence of the one-thread
 * loop (C = P0, then C += P1, ...), so results stay bit-identical for any
 * thread count. */
#define PART_OFFSET (((size_t)KC * NC + (size_t)MC * KC + 2 * MX_VL + 15) / 16 * 16)
#define PART_FLOATS ((int64_t)(MX_SCRATCH_FLOATS - PART_OFFSET))

typedef struct ksplit_job {
    const gemm_job *g;
    int64_t nkb, kb;             /* k-blocks: count and size, as in gemm_block */
    int nth;
    float *part[MX_MAX_THREADS]; /* thread's partials, M x N per k-block */
} ksplit_job;

static void ksplit_task(void *ctx, int ith, int nth) {
    ksplit_job *t = ctx;
    const gemm_job *g = t->g;
    int64_t b, e;
    mx_split_range(t->nkb, ith, nth, &b, &e);
    float *part = mx_scratch() + PART_OFFSET;
    t->part[ith] = part;
    if (ith == 0) t->nth = nth; /* the caller is worker 0 */
    for (int64_t i = b; i < e; i++, part += g->M * g->N) {
        const int64_t pc = i * t->kb;
        gemm_job s = *g;
        s.K = MX_MIN(t->kb, g->K - pc);
        s.A += pc * g->a_cs;
        s.B += pc * g->b_cs;
        s.C = part;
        s.ldc = g->N;
        s.accumulate = 0;
        s.epi = NULL; /* applied once the partials are summed */
        gemm_block(&s, 0, g->M, 0, g->N);
    }
}

/* Rows of C split across threads: C (=|+=) the partials, in k-block order. */
static void ksum_task(void *ctx, int ith, int nth) {
    const ksplit_job *t = ctx;
    const gemm_job *g = t->g;
    int64_t r0, r1;
    mx_split_range(g->M, ith, nth, &r0, &r1);
    for (int th = 0; th < t->nth; th++) {
        int64_t b, e;
        mx_split_range(t->nkb, th, t->nth, &b, &e);
        const float *p = t->part[th];
        for (int64_t i = b; i < e; i++, p += g->M * g->N)
            for (int64_t r = r0; r < r1; r++) {
                float *c = g->C + r * g->ldc;
                const float *pr = p + r * g->N;
                if (i == 0 && !g->accumulate)
                    memcpy(c, pr, (size_t)g->N * sizeof(float));
                else
                    for (int64_t j = 0; j < g->N; j++) c[j] = c[j] + pr[j];
            }
    }
    if (g->epi) epilogue(g, r0, r1, 0, g->N);
}

/* Both phases run in the pool, back to back: a serial gap between regions
 * would let the workers fall asleep. */
static void gemm_ksplit(const gemm_job *g, int64_t nkb, int64_t kb) {
    ksplit_job t = {g, nkb, kb, 1, {0}};
    mx_parallel(ksplit_task, &t);
    mx_parallel(ksum_task, &t);
}

/* Work per thread, in multiply-adds per unit of K, when nth threads split
 * C by rows (split_n = 0) or columns: the padded tiles each thread computes,
 * plus packing, which is duplicated: every thread packs all of op(B) for a
 * row split, all of op(A) for a column split. One packed float costs about
 * PACK_COST multiply-adds. */
#define PACK_COST 16
static int64_t split_cost(int64_t M, int64_t N, int nth, int split_n) {
    const int64_t mt = (M + MR - 1) / MR, nt = (N + NR - 1) / NR;
    if (split_n) {
        const int64_t n = (nt + nth - 1) / nth * NR;
        return n * mt * MR + PACK_COST * (mt * MR + n);
    }
    const int64_t m = (mt + nth - 1) / nth * MR;
    return m * nt * NR + PACK_COST * (nt * NR + m);
}

void mx_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
             const float *A, int64_t lda, const float *B, int64_t ldb,
             float *C, int64_t ldc, int accumulate) {
    mx_gemm_ex(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate, NULL);
}

void mx_gemm_ex(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                const float *A, int64_t lda, const float *B, int64_t ldb,
                float *C, int64_t ldc, int accumulate, const mx_gemm_epilogue *epi) {
    if (M <= 0 || N <= 0) return;
    gemm_job g = {epi, accumulate, 0, M, N, K, A, B,
                  trans_a ? 1 : lda, trans_a ? lda : 1, trans_b ? ldb : 1, trans_b ? 1 : ldb, ldc, C};
    if (K <= 0) { /* empty sum */
        if (!accumulate)
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
        if (epi) epilogue(&g, 0, M, 0, N);
        return;
    }
    const int nth = mx_threads();
    if (nth <= 1 || (double)M * (double)N * (double)K < (double)PARALLEL_MIN_MACS) {
        gemm_task(&g, 0, 1);
        return;
    }
    const int64_t tiles = ((M + MR - 1) / MR) * ((N + NR - 1) / NR);
    const int64_t nkb = (K + KC - 1) / KC, kb = (K + nkb - 1) / nkb;
    if (tiles < nth && nkb >= 2 * nth && nkb * M * N <= PART_FLOATS && mx_scratch()) {
        gemm_ksplit(&g, nkb, kb);
        return;
    }
    g.split_n = split_cost(M, N, nth, 1) < split_cost(M, N, nth, 0);
    if ((g.split_n ? (N + NR - 1) / NR : (M + MR - 1) / MR) < 2)
        gemm_task(&g, 0, 1);
    else
        mx_parallel(gemm_task, &g);
}
