/* depthwise.c: depthwise 2-D convolution on NHWC images: every input
 * channel c is convolved with its own depth_multiplier filters, output
 * channel c * dm + m. With dm = 1 (MobileNet) the channels of a pixel are
 * contiguous in input, kernel and output alike, so every loop runs along
 * channels in vectors; other multipliers take a plain loop.
 *
 * Forward and the input gradient are split by output rows / images (one
 * writer per output), the weight gradient by fixed chunks of rows summed in
 * order: results do not depend on the thread count. */
#include "kernels/depthwise.h"

#include "core/core.h"
#include "kernels/simd.h"

#include <string.h>

typedef struct dw_job {
    const mx_conv_geom *g;
    int dm;
    const float *x, *w, *bias, *dz;
    mx_act act;
    float *z, *out, *dx, *part;
    int64_t rows, nparts;
    int accumulate;
} dw_job;

/* taps of a kernel row/column inside the image: [k0, k1) */
static void clip(int64_t start, int64_t size, int k, int d, int *k0, int *k1) {
    *k0 = 0;
    *k1 = k;
    while (*k0 < *k1 && start + *k0 * d < 0) (*k0)++;
    while (*k1 > *k0 && start + (*k1 - 1) * d >= size) (*k1)--;
}

/* rows r = (image, output row) */
static void forward_rows(void *p, int64_t r0, int64_t r1) {
    const dw_job *j = p;
    const mx_conv_geom *g = j->g;
    const int64_t c = g->c, f = g->f, dm = j->dm;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t b = r / g->oh, oy = r % g->oh, y0 = oy * g->sh - g->pad_top;
        const float *img = j->x + b * g->h * g->w * c;
        int ky0, ky1;
        clip(y0, g->h, g->kh, g->dh, &ky0, &ky1);
        for (int64_t ox = 0; ox < g->ow; ox++) {
            const int64_t x0 = ox * g->sw - g->pad_left;
            int kx0, kx1;
            clip(x0, g->w, g->kw, g->dw, &kx0, &kx1);
            float *z = j->z + (r * g->ow + ox) * f;
            if (dm == 1) {
                int64_t cb = 0;
                for (; cb + MX_VL <= c; cb += MX_VL) {
                    mx_vf acc = j->bias ? mx_vload(j->bias + cb) : mx_vset1(0);
                    for (int ky = ky0; ky < ky1; ky++)
                        for (int kx = kx0; kx < kx1; kx++) {
                            const float *xp = img + ((y0 + ky * g->dh) * g->w + x0 + kx * g->dw) * c + cb;
                            acc += mx_vload(xp) * mx_vload(j->w + (ky * g->kw + kx) * c + cb);
                        }
                    mx_vstore(z + cb, acc);
                }
                for (; cb < c; cb++) {
                    float acc = j->bias ? j->bias[cb] : 0;
                    for (int ky = ky0; ky < ky1; ky++)
                        for (int kx = kx0; kx < kx1; kx++)
                            acc += img[((y0 + ky * g->dh) * g->w + x0 + kx * g->dw) * c + cb] * j->w[(ky * g->kw + kx) * c + cb];
                    z[cb] = acc;
                }
            } else {
                for (int64_t o = 0; o < f; o++) {
                    const int64_t ci = o / dm;
                    float acc = j->bias ? j->bias[o] : 0;
                    for (int ky = ky0; ky < ky1; ky++)
                        for (int kx = kx0; kx < kx1; kx++)
                            acc += img[((y0 + ky * g->dh) * g->w + x0 + kx * g->dw) * c + ci] *
                                   j->w[(ky * g->kw + kx) * f + o];
                    z[o] = acc;
                }
            }
        }
        if (j->out) { /* the row's activation while it is in cache */
            float *z = j->z + r * g->ow * f;
            mx_act_eltwise(j->act, z, j->out + (z - j->z), g->ow * f);
        }
    }
}

void mx_depthwise_forward(const mx_conv_geom *g, int dm, const float *x, const float *w, const float *bias, mx_act act,
                          float *z, float *out, int batch) {
    dw_job j = {.g = g, .dm = dm, .x = x, .w = w, .bias = bias, .act = act, .z = z, .out = out};
    mx_parallel_for(batch * g->oh, 2, forward_rows, &j);
}

/* dx (=|+=) the taps of every output pixel scattered back, one image per writer */
static void data_images(void *p, int64_t b0, int64_t b1) {
    const dw_job *j = p;
    const mx_conv_geom *g = j->g;
    const int64_t c = g->c, f = g->f, dm = j->dm;
    for (int64_t b = b0; b < b1; b++) {
        float *dimg = j->dx + b * g->h * g->w * c;
        if (!j->accumulate) memset(dimg, 0, sizeof(float) * (size_t)(g->h * g->w * c));
        for (int64_t oy = 0; oy < g->oh; oy++) {
            const int64_t y0 = oy * g->sh - g->pad_top;
            int ky0, ky1;
            clip(y0, g->h, g->kh, g->dh, &ky0, &ky1);
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const int64_t x0 = ox * g->sw - g->pad_left;
                int kx0, kx1;
                clip(x0, g->w, g->kw, g->dw, &kx0, &kx1);
                const float *dz = j->dz + ((b * g->oh + oy) * g->ow + ox) * f;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        float *d = dimg + ((y0 + ky * g->dh) * g->w + x0 + kx * g->dw) * c;
                        const float *wk = j->w + (ky * g->kw + kx) * f;
                        if (dm == 1) {
                            int64_t cb = 0;
                            for (; cb + MX_VL <= c; cb += MX_VL)
                                mx_vstore(d + cb, mx_vload(d + cb) + mx_vload(dz + cb) * mx_vload(wk + cb));
                            for (; cb < c; cb++) d[cb] += dz[cb] * wk[cb];
                        } else {
                            for (int64_t o = 0; o < f; o++) d[o / dm] += dz[o] * wk[o];
                        }
                    }
            }
        }
    }
}

void mx_depthwise_backward_data(const mx_conv_geom *g, int dm, const float *dz, const float *w, float *dx,
                                int accumulate, int batch) {
    dw_job j = {.g = g, .dm = dm, .dz = dz, .w = w, .dx = dx, .accumulate = accumulate};
    mx_parallel_for(batch, 1, data_images, &j);
}

/* part k (kh, kw, f) = the weight gradient over its chunk of output rows */
static void weight_parts(void *p, int64_t k0, int64_t k1) {
    const dw_job *j = p;
    const mx_conv_geom *g = j->g;
    const int64_t c = g->c, f = g->f, dm = j->dm, size = g->kh * g->kw * f;
    for (int64_t k = k0; k < k1; k++) {
        float *part = j->part + k * size;
        memset(part, 0, sizeof(float) * (size_t)size);
        int64_t r0, r1;
        mx_split_range(j->rows, (int)k, (int)j->nparts, &r0, &r1);
        for (int64_t r = r0; r < r1; r++) {
            const int64_t b = r / g->oh, oy = r % g->oh, y0 = oy * g->sh - g->pad_top;
            const float *img = j->x + b * g->h * g->w * c;
            int ky0, ky1;
            clip(y0, g->h, g->kh, g->dh, &ky0, &ky1);
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const int64_t x0 = ox * g->sw - g->pad_left;
                int kx0, kx1;
                clip(x0, g->w, g->kw, g->dw, &kx0, &kx1);
                const float *dz = j->dz + (r * g->ow + ox) * f;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        const float *xp = img + ((y0 + ky * g->dh) * g->w + x0 + kx * g->dw) * c;
                        float *pk = part + (ky * g->kw + kx) * f;
                        if (dm == 1) {
                            int64_t cb = 0;
                            for (; cb + MX_VL <= c; cb += MX_VL)
                                mx_vstore(pk + cb, mx_vload(pk + cb) + mx_vload(xp + cb) * mx_vload(dz + cb));
                            for (; cb < c; cb++) pk[cb] += xp[cb] * dz[cb];
                        } else {
                            for (int64_t o = 0; o < f; o++) pk[o] += xp[o / dm] * dz[o];
                        }
                    }
            }
        }
    }
}

void mx_depthwise_weight_grad(const mx_conv_geom *g, int dm, const float *x, const float *dz, float *dw, float *part,
                              int batch, int accumulate) {
    const int64_t size = g->kh * g->kw * g->f, rows = batch * g->oh;
    dw_job j = {.g = g, .dm = dm, .x = x, .dz = dz, .part = part, .rows = rows,
                .nparts = MX_MIN((int64_t)MX_DEPTHWISE_PARTS, rows)};
    mx_parallel_for(j.nparts, 1, weight_parts, &j);
    for (int64_t i = 0; i < size; i++) {
        float s = accumulate ? dw[i] : 0;
        for (int64_t k = 0; k < j.nparts; k++) s += part[k * size + i];
        dw[i] = s;
    }
}
