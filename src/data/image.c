/* image.c: resizing images (decoding is in decode.c, the one file that needs
 * libpng and libjpeg).
 *
 * Resizing follows TensorFlow 2's tf.image.resize: bilinear and nearest with
 * half-pixel centres, area as ResizeArea's box filter (exact footprint weights,
 * which upscaling also uses). Output rows are independent, so large resizes
 * are split over the thread pool. */
#include "data/data.h"

#include <math.h>
#include <string.h>

/* ---- resizing ---- */

int mx_resize_parse(const char *name) {
    static const char *const names[] = {"bilinear", "nearest", "area"}; /* mx_resize order */
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) return i;
    return mx_fail("unknown resize method '%s' (valid: bilinear, nearest, area)", name ? name : "");
}

typedef struct resize_job {
    const float *src; /* (h, w, c) */
    float *dst;       /* (oh, ow, c) */
    int h, w, c, oh, ow;
    mx_resize method;
} resize_job;

/* TF's half-pixel bilinear: source coordinate (o + 0.5) * in / out - 0.5,
 * neighbours clamped to the image, lerp along x then y. */
static inline void bilinear_row(const resize_job *j, int oy, int c) {
    const float sy = (float)j->h / (float)j->oh, sx = (float)j->w / (float)j->ow;
    float in_y = ((float)oy + 0.5f) * sy - 0.5f, fy = floorf(in_y), ly = in_y - fy;
    int y0 = MX_MAX((int)fy, 0), y1 = MX_MIN((int)ceilf(in_y), j->h - 1);
    const float *top = j->src + (size_t)y0 * j->w * c, *bot = j->src + (size_t)y1 * j->w * c; /* (w, c) */
    float *out = j->dst + (size_t)oy * j->ow * c;                                             /* (ow, c) */
    for (int ox = 0; ox < j->ow; ox++, out += c) {
        float in_x = ((float)ox + 0.5f) * sx - 0.5f, fx = floorf(in_x), lx = in_x - fx;
        int x0 = MX_MAX((int)fx, 0) * c, x1 = MX_MIN((int)ceilf(in_x), j->w - 1) * c;
        for (int k = 0; k < c; k++) {
            float t = top[x0 + k] + (top[x1 + k] - top[x0 + k]) * lx;
            float b = bot[x0 + k] + (bot[x1 + k] - bot[x0 + k]) * lx;
            out[k] = t + (b - t) * ly;
        }
    }
}

/* TF's half-pixel nearest: floor((o + 0.5) * in / out), clamped */
static inline void nearest_row(const resize_job *j, int oy, int c) {
    const float sy = (float)j->h / (float)j->oh, sx = (float)j->w / (float)j->ow;
    int y = MX_MIN((int)floorf(((float)oy + 0.5f) * sy), j->h - 1);
    const float *in = j->src + (size_t)y * j->w * c; /* (w, c) */
    float *out = j->dst + (size_t)oy * j->ow * c;    /* (ow, c) */
    for (int ox = 0; ox < j->ow; ox++, out += c) {
        int x = MX_MIN((int)floorf(((float)ox + 0.5f) * sx), j->w - 1);
        memcpy(out, in + (size_t)x * c, sizeof(float) * (size_t)c);
    }
}

/* Output pixel (oy, ox) covers [oy, oy + 1) * h / oh by [ox, ox + 1) * w / ow
 * of the source; each source pixel weighs its overlap with that box, and the
 * sum is divided by the box's area. Bounds in double: oy * h / oh is exact
 * wherever the division is, so block shrinks average whole blocks. Only a
 * box's end rows and columns are partly covered: the ones between are summed
 * without weights. */
/* a row of source columns 0..last (stride c): the end ones weighted */
static inline float box_row(const float *in, int c, int last, float w_first, float w_last) {
    float s = w_first * in[0];
    for (int i = 1; i < last; i++) s += in[i * c];
    return last > 0 ? s + w_last * in[last * c] : s;
}

static inline void area_row(const resize_job *j, int oy, int c) {
    const int w = j->w;
    double y0 = (double)oy * j->h / j->oh, y1 = (double)(oy + 1) * j->h / j->oh;
    int iy0 = (int)y0, ylast = MX_MIN((int)ceil(y1), j->h) - 1 - iy0; /* rows iy0..iy0 + ylast */
    float wy0 = (float)(fmin(iy0 + 1, y1) - y0), wy1 = (float)(y1 - fmax(iy0 + ylast, y0));
    const float *rows = j->src + (size_t)iy0 * w * c; /* (ylast + 1, w, c) */
    float *out = j->dst + (size_t)oy * j->ow * c;     /* (ow, c) */
    double x1 = 0;
    for (int ox = 0; ox < j->ow; ox++, out += c) {
        double x0 = x1;
        x1 = (double)(ox + 1) * w / j->ow;
        int ix0 = (int)x0, xlast = MX_MIN((int)ceil(x1), w) - 1 - ix0; /* columns ix0..ix0 + xlast */
        float wx0 = (float)(fmin(ix0 + 1, x1) - x0), wx1 = (float)(x1 - fmax(ix0 + xlast, x0));
        float inv = (float)(1.0 / ((y1 - y0) * (x1 - x0)));
        for (int k = 0; k < c; k++) {
            const float *in = rows + (size_t)ix0 * c + k;
            float sum = wy0 * box_row(in, c, xlast, wx0, wx1);
            for (int r = 1; r < ylast; r++) sum += box_row(in + (size_t)r * w * c, c, xlast, wx0, wx1);
            if (ylast > 0) sum += wy1 * box_row(in + (size_t)ylast * w * c, c, xlast, wx0, wx1);
            out[k] = sum * inv;
        }
    }
}

/* the channel count as a constant for the common cases, so the inner loops unroll */
static inline void resize_row(const resize_job *j, int oy, int c) {
    switch (j->method) {
    case MX_RESIZE_NEAREST: nearest_row(j, oy, c); break;
    case MX_RESIZE_AREA: area_row(j, oy, c); break;
    default: bilinear_row(j, oy, c); break;
    }
}

static void resize_rows(void *p, int64_t begin, int64_t end) {
    const resize_job *j = p;
    for (int64_t y = begin; y < end; y++) {
        if (j->c == 3)
            resize_row(j, (int)y, 3);
        else if (j->c == 1)
            resize_row(j, (int)y, 1);
        else
            resize_row(j, (int)y, j->c);
    }
}

void mx_image_resize(const float *src, int h, int w, int c, float *dst, int oh, int ow, mx_resize method) {
    if (!src || !dst || h <= 0 || w <= 0 || c <= 0 || oh <= 0 || ow <= 0) return;
    if (oh == h && ow == w) { /* every method is the identity there */
        if (src != dst) memcpy(dst, src, sizeof(float) * (size_t)h * w * c);
        return;
    }
    resize_job j = {src, dst, h, w, c, oh, ow, method};
    /* about 32K multiply-adds per task at least */
    int64_t per_row = (int64_t)ow * c;
    if (method == MX_RESIZE_AREA) per_row = ((int64_t)h / oh + 2) * ((int64_t)w + ow) * c;
    mx_parallel_for(oh, MX_MAX(1, 32768 / MX_MAX(per_row, 1)), resize_rows, &j);
}
