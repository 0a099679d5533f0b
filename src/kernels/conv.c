/* conv.c: im2col, col2im and direct convolution. Work is split by output
 * rows (im2col, direct) or by
 * images (col2im: each image's gradient has one writer), so results never
 * depend on the thread count. */
#include "kernels/conv.h"

#include "core/core.h"
#include "kernels/simd.h"

#include <string.h>

typedef struct conv_job {
    const mx_conv_geom *g;
    const float *x; /* (batch, h, w, c) */
    float *col;     /* (rows, kdim) */
    float *dx;
    int accumulate;
    const float *w, *bias; /* direct: (kh, kw, c, f), (f) */
    mx_act act;
    float *z, *out;
} conv_job;

/* ---- im2col / col2im ---- */

/* Output rows [r0, r1) (r = image * oh + oy) of the column matrix. Taps
 * outside the image are zero; a few channels are copied by a plain loop (a
 * memcpy call per 4 bytes costs 10x more). */
static void im2col_rows(void *p, int64_t r0, int64_t r1) {
    const conv_job *j = p;
    const mx_conv_geom *g = j->g;
    const int64_t c = g->c;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t b = r / g->oh, oy = r % g->oh, y0 = oy * g->sh - g->pad_top;
        const float *img = j->x + b * g->h * g->w * c;
        float *dst = j->col + r * g->ow * g->kdim;
        for (int64_t ox = 0; ox < g->ow; ox++) {
            const int64_t x0 = ox * g->sw - g->pad_left;
            for (int ky = 0; ky < g->kh; ky++) {
                const int64_t iy = y0 + ky * g->dh;
                const int row_in = iy >= 0 && iy < g->h;
                for (int kx = 0; kx < g->kw; kx++, dst += c) {
                    const int64_t ix = x0 + kx * g->dw;
                    if (!row_in || ix < 0 || ix >= g->w) {
                        for (int64_t ch = 0; ch < c; ch++) dst[ch] = 0;
                        continue;
                    }
                    const float *src = img + (iy * g->w + ix) * c;
                    if (c < 16)
                        for (int64_t ch = 0; ch < c; ch++) dst[ch] = src[ch];
                    else
                        memcpy(dst, src, sizeof(float) * (size_t)c);
                }
            }
        }
    }
}

void mx_im2col(const mx_conv_geom *g, const float *x, float *col, int batch) {
    conv_job j = {.g = g, .x = x, .col = col};
    mx_parallel_for(batch * g->oh, 4, im2col_rows, &j);
}

static void col2im_range(void *p, int64_t b0, int64_t b1) {
    const conv_job *j = p;
    const mx_conv_geom *g = j->g;
    int64_t img_size = g->h * g->w * g->c;
    for (int64_t b = b0; b < b1; b++) {
        float *dimg = j->dx + b * img_size;
        if (!j->accumulate) memset(dimg, 0, sizeof(float) * (size_t)img_size);
        const float *src = j->col + b * g->oh * g->ow * g->kdim;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++)
                for (int ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh - g->pad_top + ky * g->dh;
                    for (int kx = 0; kx < g->kw; kx++, src += g->c) {
                        int64_t ix = ox * g->sw - g->pad_left + kx * g->dw;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                        float *d = dimg + (iy * g->w + ix) * g->c;
                        for (int64_t ch = 0; ch < g->c; ch++) d[ch] += src[ch];
                    }
                }
    }
}

void mx_col2im(const mx_conv_geom *g, const float *dcol, float *dx, int batch, int accumulate) {
    conv_job j = {.g = g, .col = (float *)dcol, .dx = dx, .accumulate = accumulate};
    mx_parallel_for(batch, 1, col2im_range, &j);
}

/* ---- direct convolution for few values per output ----
 * Each output pixel sums kdim input values, each broadcast against its row
 * of the kernel (a vector of filters). Per output row, the taps inside the
 * image are found once; only border pixels clip their kernel columns. */

int mx_conv_direct_ok(const mx_conv_geom *g) { return g->kdim <= MX_CONV_DIRECT_KDIM && g->f % MX_VL == 0; }

/* Filters per block: 32 (8 vectors of 128 bits, 4 of 256, 2 of 512), so the
 * accumulators and the broadcast input stay within 16 registers and each
 * tap's loop runs once per 32 filters rather than once per 2 vectors. */
#define DIRECT_NV (MX_VL >= 4 ? 32 / MX_VL : 8)

/* One pixel's filters [fb, fb + nv * MX_VL) over the taps [ky0, ky1) x
 * [kx0, kx1) inside the image, starting from the bias, in (ky, kx, channel)
 * order. nv is a constant at each call: acc stays in registers. */
static inline __attribute__((always_inline)) void direct_pixel(const conv_job *j, const float *img, int64_t y0,
                                                               int64_t x0, int ky0, int ky1, int kx0, int kx1,
                                                               int64_t fb, const int nv, float *z, float *out,
                                                               int relu) {
    const mx_conv_geom *g = j->g;
    const int64_t c = g->c, f = g->f;
    mx_vf acc[DIRECT_NV];
    for (int v = 0; v < nv; v++) acc[v] = j->bias ? mx_vload(j->bias + fb + v * MX_VL) : mx_vset1(0);
    for (int ky = ky0; ky < ky1; ky++) {
        const float *row = img + (y0 + ky * g->dh) * g->w * c;
        for (int kx = kx0; kx < kx1; kx++) {
            const float *xp = row + (x0 + kx * g->dw) * c;
            const float *wp = j->w + ((ky * g->kw + kx) * c) * f + fb;
            for (int64_t ch = 0; ch < c; ch++, wp += f) {
                const mx_vf xv = mx_vset1(xp[ch]);
                for (int v = 0; v < nv; v++) acc[v] += xv * mx_vload(wp + v * MX_VL);
            }
        }
    }
    for (int v = 0; v < nv; v++) {
        if (out != z) mx_vstore(z + fb + v * MX_VL, acc[v]); /* z keeps the sums */
        if (relu) acc[v] = mx_vmax(acc[v], mx_vset1(0)); /* the common case, in registers */
        mx_vstore(out + fb + v * MX_VL, acc[v]);
    }
}

static void direct_rows(void *p, int64_t r0, int64_t r1) {
    const conv_job *j = p;
    const mx_conv_geom *g = j->g;
    const int64_t c = g->c, f = g->f;
    const int relu = j->out && j->act.kind == MX_ACT_RELU;
    for (int64_t r = r0; r < r1; r++) { /* r = (image, output row) */
        const int64_t b = r / g->oh, oy = r % g->oh;
        const float *img = j->x + b * g->h * g->w * c;
        const int64_t y0 = oy * g->sh - g->pad_top;
        int ky0 = 0, ky1 = g->kh;
        while (ky0 < ky1 && y0 + ky0 * g->dh < 0) ky0++;
        while (ky1 > ky0 && y0 + (ky1 - 1) * g->dh >= g->h) ky1--;
        for (int64_t ox = 0; ox < g->ow; ox++) {
            const int64_t x0 = ox * g->sw - g->pad_left;
            int kx0 = 0, kx1 = g->kw;
            while (kx0 < kx1 && x0 + kx0 * g->dw < 0) kx0++;
            while (kx1 > kx0 && x0 + (kx1 - 1) * g->dw >= g->w) kx1--;
            float *z = j->z + ((b * g->oh + oy) * g->ow + ox) * f;
            float *out = relu ? j->out + (z - j->z) : z;
            int64_t fb = 0;
            for (; fb + DIRECT_NV * MX_VL <= f; fb += DIRECT_NV * MX_VL)
                direct_pixel(j, img, y0, x0, ky0, ky1, kx0, kx1, fb, DIRECT_NV, z, out, relu);
            for (; fb < f; fb += MX_VL) direct_pixel(j, img, y0, x0, ky0, ky1, kx0, kx1, fb, 1, z, out, relu);
        }
        if (j->out && !relu) { /* the row's activation in one pass */
            float *z = j->z + (b * g->oh + oy) * g->ow * f;
            mx_act_eltwise(j->act, z, j->out + (z - j->z), g->ow * f);
        }
    }
}

void mx_conv_direct(const mx_conv_geom *g, const float *x, const float *w, const float *bias, mx_act act, float *z,
                    float *out, int batch) {
    conv_job j = {.g = g, .x = x, .w = w, .bias = bias, .act = act, .z = z, .out = out};
    mx_parallel_for(batch * g->oh, 4, direct_rows, &j);
}
