/* conv.c: im2col and col2im. Work is split by output pixels (im2col) or by
 * images (col2im: each image's gradient has one writer), so results never
 * depend on the thread count. */
#include "kernels/conv.h"

#include "core/core.h"

#include <string.h>

typedef struct conv_job {
    const mx_conv_geom *g;
    const float *x; /* (batch, h, w, c) */
    float *col;     /* (rows, kdim) */
    float *dx;
    int accumulate;
} conv_job;

/* ---- im2col / col2im ---- */

/* Rows [r0, r1) of the column matrix. A few channels are copied by a plain
 * loop: a memcpy call per 4 bytes costs 10x more. */
static void im2col_range(void *p, int64_t r0, int64_t r1) {
    const conv_job *j = p;
    const mx_conv_geom *g = j->g;
    const int64_t c = g->c;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / (g->oh * g->ow), pix = r % (g->oh * g->ow);
        int64_t oy = pix / g->ow, ox = pix % g->ow;
        const float *img = j->x + b * g->h * g->w * c;
        float *dst = j->col + r * g->kdim;
        for (int ky = 0; ky < g->kh; ky++) {
            int64_t iy = oy * g->sh - g->pad_top + ky * g->dh;
            for (int kx = 0; kx < g->kw; kx++, dst += c) {
                int64_t ix = ox * g->sw - g->pad_left + kx * g->dw;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) {
                    for (int64_t ch = 0; ch < c; ch++) dst[ch] = 0;
                } else {
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
    mx_parallel_for(batch * g->oh * g->ow, 256, im2col_range, &j);
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
