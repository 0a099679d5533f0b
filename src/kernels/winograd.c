/* winograd.c: 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3).
 *
 * Each 2x2 block of outputs (a tile) comes from a 4x4 block of inputs:
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * so per tile and channel pair 16 multiplications replace 36. The 16
 * elementwise products over all channels are 16 GEMMs:
 *   M[xi] (tiles, F) = V[xi] (tiles, C) * U[xi] (C, F),   xi = 0..15
 * with V the transformed input tiles and U the transformed filters.
 *
 * The transforms run along channels (NHWC keeps them contiguous), one
 * vector of channels at a time. Tiles are split among threads in
 * contiguous runs, and each thread takes its tiles through all three steps
 * in chunks that stay in its L2 cache; every output is computed by one
 * thread in one order, so results do not depend on the thread count. */
#include "kernels/conv.h"

#include "core/core.h"
#include "kernels/gemm.h"
#include "kernels/simd.h"

#include <string.h>

#define CHUNK 128 /* tiles per step: V and M of a chunk stay in L2 */

/* A convolution as the core sees it: out[y][x] = sum over ky, kx, c of
 * in[y + ky - pt][x + kx - pl][c] * w[ky][kx][c][f], zero outside in. */
typedef struct wino {
    int64_t h, w, c, oh, ow, f;
    int pt, pl;
    int64_t th, tw, tiles; /* tiles per image: th x tw */
} wino;

static wino make(int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow, int64_t f, int pt, int pl) {
    wino q = {h, w, c, oh, ow, f, pt, pl, (oh + 1) / 2, (ow + 1) / 2, 0};
    q.tiles = q.th * q.tw;
    return q;
}

static wino forward_of(const mx_conv_geom *g) { return make(g->h, g->w, g->c, g->oh, g->ow, g->f, g->pad_top, g->pad_left); }

/* the input gradient is a convolution of dz with the flipped kernel:
 * dx[i] = sum_k dz[i + k - (2 - pt)] w[2 - k] */
static wino backward_of(const mx_conv_geom *g) {
    return make(g->oh, g->ow, g->f, g->h, g->w, g->c, 2 - g->pad_top, 2 - g->pad_left);
}

int mx_winograd_ok(const mx_conv_geom *g) {
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
           g->pad_top <= 2 && g->pad_left <= 2;
}

/* workspace: U (16, c, f), the flipped kernel for the input gradient
 * (3, 3, f, c), then V and M of every tile */
int64_t mx_winograd_ws_fixed(const mx_conv_geom *g) { return 25 * g->c * g->f; }

int64_t mx_winograd_ws_per_sample(const mx_conv_geom *g) {
    wino a = forward_of(g), b = backward_of(g);
    return 16 * MX_MAX(a.tiles * (a.c + a.f), b.tiles * (b.c + b.f));
}

/* U[xi] (c, f) = G g G^T for every (c, f), g = w[.][.][c][f]:
 * G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] */
static void filter_transform(const float *w, int64_t c, int64_t f, float *u) {
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t fi = 0; fi < f; fi++) {
            float g[3][3], t[4][3];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) g[a][b] = w[((a * 3 + b) * c + ci) * f + fi];
            for (int b = 0; b < 3; b++) {
                t[0][b] = g[0][b];
                t[1][b] = 0.5f * (g[0][b] + g[1][b] + g[2][b]);
                t[2][b] = 0.5f * (g[0][b] - g[1][b] + g[2][b]);
                t[3][b] = g[2][b];
            }
            for (int a = 0; a < 4; a++) {
                float r[4] = {t[a][0], 0.5f * (t[a][0] + t[a][1] + t[a][2]), 0.5f * (t[a][0] - t[a][1] + t[a][2]), t[a][2]};
                for (int b = 0; b < 4; b++) u[((a * 4 + b) * c + ci) * f + fi] = r[b];
            }
        }
}

/* up to MX_VL floats as a vector, zeros after n */
static inline mx_vf load_n(const float *p, int64_t n) {
    if (n >= MX_VL) return mx_vload(p);
    float t[MX_VL] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return mx_vload(t);
}

static inline void store_n(float *p, mx_vf v, int64_t n) {
    if (n >= MX_VL) {
        mx_vstore(p, v);
        return;
    }
    float t[MX_VL];
    mx_vstore(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}

/* V[xi][t - t0] = B^T d B for tiles [t0, t1): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] */
static void input_transform(const wino *q, const float *x, int64_t t0, int64_t t1, float *v, int64_t vstride) {
    const int64_t c = q->c;
    for (int64_t t = t0; t < t1; t++) {
        int64_t b = t / q->tiles, r = t % q->tiles;
        int64_t y0 = 2 * (r / q->tw) - q->pt, x0 = 2 * (r % q->tw) - q->pl;
        const float *img = x + b * q->h * q->w * c;
        for (int64_t cb = 0; cb < c; cb += MX_VL) {
            const int64_t n = MX_MIN((int64_t)MX_VL, c - cb);
            mx_vf d[4][4], s[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    int64_t yy = y0 + i, xx = x0 + j;
                    d[i][j] = yy < 0 || yy >= q->h || xx < 0 || xx >= q->w ? mx_vset1(0)
                                                                           : load_n(img + (yy * q->w + xx) * c + cb, n);
                }
            for (int j = 0; j < 4; j++) {
                s[0][j] = d[0][j] - d[2][j];
                s[1][j] = d[1][j] + d[2][j];
                s[2][j] = d[2][j] - d[1][j];
                s[3][j] = d[1][j] - d[3][j];
            }
            float *dst = v + (t - t0) * c + cb;
            for (int i = 0; i < 4; i++) {
                store_n(dst + (i * 4 + 0) * vstride, s[i][0] - s[i][2], n);
                store_n(dst + (i * 4 + 1) * vstride, s[i][1] + s[i][2], n);
                store_n(dst + (i * 4 + 2) * vstride, s[i][2] - s[i][1], n);
                store_n(dst + (i * 4 + 3) * vstride, s[i][1] - s[i][3], n);
            }
        }
    }
}

typedef struct out_spec {
    const float *bias;
    mx_act act;
    float *z, *out; /* out: act(z), or NULL */
    int accumulate;
    float *pooled;  /* instead: act(max of each 2x2 tile + bias), (batch, oh/2, ow/2, f) */
} out_spec;

/* Y = A^T M A for tiles [t0, t1): A^T = [1 1 1 0; 0 1 -1 -1]; outputs past
 * the edge (odd sizes) are dropped */
static void output_transform(const wino *q, const float *m, int64_t t0, int64_t t1, int64_t mstride,
                             const out_spec *o) {
    const int64_t f = q->f;
    for (int64_t t = t0; t < t1; t++) {
        int64_t b = t / q->tiles, r = t % q->tiles;
        int64_t y0 = 2 * (r / q->tw), x0 = 2 * (r % q->tw);
        for (int64_t fb = 0; fb < f; fb += MX_VL) {
            const int64_t n = MX_MIN((int64_t)MX_VL, f - fb);
            const float *src = m + (t - t0) * f + fb;
            mx_vf a[4][4], s[2][4];
            for (int k = 0; k < 16; k++) a[k / 4][k % 4] = load_n(src + k * mstride, n);
            for (int j = 0; j < 4; j++) {
                s[0][j] = a[0][j] + a[1][j] + a[2][j];
                s[1][j] = a[1][j] - a[2][j] - a[3][j];
            }
            mx_vf bias = o->bias ? load_n(o->bias + fb, n) : mx_vset1(0);
            if (o->pooled) { /* a whole tile is a 2x2 pooling window; edge tiles are dropped */
                if (y0 + 1 >= q->oh || x0 + 1 >= q->ow) continue;
                mx_vf top = mx_vmax(s[0][0] + s[0][1] + s[0][2], s[0][1] - s[0][2] - s[0][3]);
                mx_vf bot = mx_vmax(s[1][0] + s[1][1] + s[1][2], s[1][1] - s[1][2] - s[1][3]);
                int64_t at = ((b * (q->oh / 2) + y0 / 2) * (q->ow / 2) + x0 / 2) * f + fb;
                store_n(o->pooled + at, mx_vmax(top, bot) + bias, n);
                mx_act_eltwise(o->act, o->pooled + at, o->pooled + at, n);
                continue;
            }
            for (int i = 0; i < 2; i++) {
                if (y0 + i >= q->oh) break;
                mx_vf y[2] = {s[i][0] + s[i][1] + s[i][2], s[i][1] - s[i][2] - s[i][3]};
                for (int j = 0; j < 2; j++) {
                    if (x0 + j >= q->ow) break;
                    int64_t at = ((b * q->oh + y0 + i) * q->ow + x0 + j) * f + fb;
                    mx_vf v = y[j] + bias;
                    if (o->accumulate) v += load_n(o->z + at, n);
                    store_n(o->z + at, v, n);
                    if (o->out) mx_act_eltwise(o->act, o->z + at, o->out + at, n);
                }
            }
        }
    }
}

typedef struct wino_job {
    const wino *q;
    const float *x, *u;
    float *v, *m; /* (16, all tiles, c) and (16, all tiles, f) */
    int64_t total;
    out_spec o;
} wino_job;

static void wino_task(void *p, int ith, int nth) {
    const wino_job *j = p;
    const wino *q = j->q;
    int64_t b, e;
    mx_split_range(j->total, ith, nth, &b, &e);
    for (int64_t t0 = b; t0 < e; t0 += CHUNK) {
        const int64_t t1 = MX_MIN(e, t0 + CHUNK), n = t1 - t0;
        float *v = j->v + t0 * q->c, *m = j->m + t0 * q->f;
        input_transform(q, j->x, t0, t1, v, j->total * q->c);
        for (int xi = 0; xi < 16; xi++) /* inside a region: runs on this thread */
            mx_gemm(0, 0, n, q->f, q->c, v + xi * j->total * q->c, q->c, j->u + xi * q->c * q->f, q->f,
                    m + xi * j->total * q->f, q->f, 0);
        output_transform(q, m, t0, t1, j->total * q->f, &j->o);
    }
}

/* with the transformed filters U at the start of ws */
static void run(const wino *q, const float *x, const out_spec *o, float *ws, int batch) {
    float *u = ws, *v = ws + 25 * q->c * q->f;
    int64_t total = batch * q->tiles;
    wino_job j = {q, x, u, v, v + 16 * total * q->c, total, *o};
    mx_parallel(wino_task, &j);
}

void mx_winograd_filters(const mx_conv_geom *g, const float *w, float *ws) { filter_transform(w, g->c, g->f, ws); }

void mx_winograd_forward(const mx_conv_geom *g, const float *x, const float *bias, mx_act act, float *z, float *out,
                         float *ws, int batch) {
    wino q = forward_of(g);
    out_spec o = {bias, act, z, out, 0, NULL};
    run(&q, x, &o, ws, batch);
}

void mx_winograd_forward_pool2(const mx_conv_geom *g, const float *x, const float *bias, mx_act act, float *pooled,
                               float *ws, int batch) {
    wino q = forward_of(g);
    out_spec o = {bias, act, NULL, NULL, 0, pooled};
    run(&q, x, &o, ws, batch);
}

void mx_winograd_backward_data(const mx_conv_geom *g, const float *dz, const float *w, float *dx, int accumulate,
                               float *ws, int batch) {
    wino q = backward_of(g);
    float *flipped = ws + 16 * g->c * g->f; /* (3, 3, f, c): w[2 - ky][2 - kx][c][f] */
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
            for (int64_t ci = 0; ci < g->c; ci++)
                for (int64_t fi = 0; fi < g->f; fi++)
                    flipped[((ky * 3 + kx) * g->f + fi) * g->c + ci] = w[(((2 - ky) * 3 + 2 - kx) * g->c + ci) * g->f + fi];
    out_spec o = {NULL, {.kind = MX_ACT_LINEAR}, dx, NULL, accumulate, NULL};
    filter_transform(flipped, q.c, q.f, ws);
    run(&q, dz, &o, ws, batch);
}

/* ---- weight gradient: the forward pass transposed. With M = V U and
 * U = G g G^T:  dM = A dY A^T,  dU[xi] = V[xi]^T dM[xi],  dg = G^T dU G.
 * V is the forward pass's, still in the workspace. ---- */

typedef struct grad_job {
    const wino *q;
    const float *dz, *v;
    float *dm, *du;
    int64_t total;
} grad_job;

/* dM[xi][t] = A dY_t A^T, A = [1 0; 1 1; 1 -1; 0 -1]; outputs past the edge are 0 */
static void dm_range(void *p, int64_t t0, int64_t t1) {
    const grad_job *j = p;
    const wino *q = j->q;
    const int64_t f = q->f, stride = j->total * f;
    for (int64_t t = t0; t < t1; t++) {
        int64_t b = t / q->tiles, r = t % q->tiles;
        int64_t y0 = 2 * (r / q->tw), x0 = 2 * (r % q->tw);
        for (int64_t fb = 0; fb < f; fb += MX_VL) {
            const int64_t n = MX_MIN((int64_t)MX_VL, f - fb);
            mx_vf y[2][2], a[4][2];
            for (int i = 0; i < 2; i++)
                for (int k = 0; k < 2; k++)
                    y[i][k] = y0 + i < q->oh && x0 + k < q->ow
                                  ? load_n(j->dz + ((b * q->oh + y0 + i) * q->ow + x0 + k) * f + fb, n)
                                  : mx_vset1(0);
            for (int k = 0; k < 2; k++) {
                a[0][k] = y[0][k];
                a[1][k] = y[0][k] + y[1][k];
                a[2][k] = y[0][k] - y[1][k];
                a[3][k] = -y[1][k];
            }
            float *dst = j->dm + t * f + fb;
            for (int i = 0; i < 4; i++) {
                store_n(dst + (i * 4 + 0) * stride, a[i][0], n);
                store_n(dst + (i * 4 + 1) * stride, a[i][0] + a[i][1], n);
                store_n(dst + (i * 4 + 2) * stride, a[i][0] - a[i][1], n);
                store_n(dst + (i * 4 + 3) * stride, -a[i][1], n);
            }
        }
    }
}

/* each of the 16 products is summed over all tiles by one thread */
static void du_task(void *p, int ith, int nth) {
    const grad_job *j = p;
    const wino *q = j->q;
    int64_t b, e;
    mx_split_range(16, ith, nth, &b, &e);
    for (int64_t xi = b; xi < e; xi++)
        mx_gemm(1, 0, q->c, q->f, j->total, j->v + xi * j->total * q->c, q->c, j->dm + xi * j->total * q->f, q->f,
                j->du + xi * q->c * q->f, q->f, 0);
}

void mx_winograd_weight_grad(const mx_conv_geom *g, const float *dz, float *dw, int accumulate, float *ws, int batch) {
    wino q = forward_of(g);
    int64_t total = batch * q.tiles, cf = q.c * q.f;
    float *du = ws, *v = ws + 25 * cf; /* dU replaces U, no longer needed */
    grad_job j = {&q, dz, v, v + 16 * total * q.c, du, total};
    mx_parallel_for(total, 16, dm_range, &j);
    mx_parallel(du_task, &j);
    /* G^T dU G, G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1] */
    for (int64_t i = 0; i < cf; i++) {
        float u[4][4], s[3][4];
        for (int k = 0; k < 16; k++) u[k / 4][k % 4] = du[k * cf + i];
        for (int k = 0; k < 4; k++) {
            s[0][k] = u[0][k] + 0.5f * (u[1][k] + u[2][k]);
            s[1][k] = 0.5f * (u[1][k] - u[2][k]);
            s[2][k] = 0.5f * (u[1][k] + u[2][k]) + u[3][k];
        }
        for (int a = 0; a < 3; a++) {
            float d[3] = {s[a][0] + 0.5f * (s[a][1] + s[a][2]), 0.5f * (s[a][1] - s[a][2]),
                          0.5f * (s[a][1] + s[a][2]) + s[a][3]};
            for (int bb = 0; bb < 3; bb++) {
                float *o = dw + (a * 3 + bb) * cf + i;
                *o = accumulate ? *o + d[bb] : d[bb];
            }
        }
    }
}
