/* augment.c: random affine distortions of NHWC images for training.
 *
 * Sample i gets rotation r ~ U(-rotation, rotation) degrees, scale
 * s ~ U(1 - zoom, 1 + zoom) and shift (tx, ty) ~ U(-shift, shift) * (w, h),
 * applied about the image centre: a source point p lands at
 * c + s R(r) (p - c) + t. Each output pixel samples the source at the
 * inverse map bilinearly, zero outside. The four draws are elements 0..3 of
 * the stream mx_stream(seed, first + i, 0, 0), so a sample's distortion does
 * not depend on how samples are batched or split across threads.
 * Called once per training batch: allocates nothing. */
#include "data/data.h"

#include <math.h>
#include <string.h>

/* zoom >= 1 could reach scale 0; keep the inverse map finite */
#define MIN_SCALE 0.05f

typedef struct aug_job {
    const mx_augment *a;
    const float *src; /* (n, h, w, c) */
    float *dst;       /* (n, h, w, c) */
    int h, w, c;
    uint64_t seed;
    int64_t first;
} aug_job;

static float symmetric(uint64_t stream, uint64_t k, float range) {
    return (2.0f * mx_uniform(stream, k) - 1.0f) * range;
}

static void warp_one(const aug_job *j, int64_t i) {
    const int h = j->h, w = j->w, c = j->c;
    const float *src = j->src + i * h * w * c; /* (h, w, c) */
    float *dst = j->dst + i * h * w * c;       /* (h, w, c) */
    uint64_t s = mx_stream(j->seed, (uint64_t)(j->first + i), 0, 0);
    float angle = symmetric(s, 0, j->a->rotation) * (float)(M_PI / 180.0);
    float scale = fmaxf(1.0f + symmetric(s, 1, j->a->zoom), MIN_SCALE);
    float tx = symmetric(s, 2, j->a->shift) * (float)w, ty = symmetric(s, 3, j->a->shift) * (float)h;
    /* inverse map: p = c + R(-r) (q - c - t) / s */
    float ca = cosf(angle) / scale, sa = sinf(angle) / scale;
    float cx = 0.5f * (float)(w - 1), cy = 0.5f * (float)(h - 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float dx = (float)x - cx - tx, dy = (float)y - cy - ty;
            float sx = ca * dx + sa * dy + cx, sy = -sa * dx + ca * dy + cy;
            float *out = dst + ((int64_t)y * w + x) * c;
            memset(out, 0, sizeof(float) * (size_t)c);
            if (!(sx > -1.0f && sx < (float)w && sy > -1.0f && sy < (float)h)) continue; /* also NaN */
            int x0 = (int)floorf(sx), y0 = (int)floorf(sy);
            float fx = sx - (float)x0, fy = sy - (float)y0;
            for (int k = 0; k < 4; k++) {
                int xx = x0 + (k & 1), yy = y0 + (k >> 1);
                if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
                float wt = ((k & 1) ? fx : 1.0f - fx) * ((k >> 1) ? fy : 1.0f - fy);
                const float *in = src + ((int64_t)yy * w + xx) * c;
                for (int ch = 0; ch < c; ch++) out[ch] += wt * in[ch];
            }
        }
}

static void warp_range(void *p, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) warp_one(p, i);
}

int mx_augment_active(const mx_augment *a) {
    return a && (a->shift != 0 || a->rotation != 0 || a->zoom != 0 || a->flip_horizontal || a->flip_vertical ||
                 a->rotate90 || a->brightness != 0 || a->contrast != 0 || a->hue != 0);
}

void mx_augment_images(const mx_augment *a, const float *src, float *dst, int64_t n, int h, int w, int c,
                       uint64_t seed, int64_t first) {
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0) return;
    if (!mx_augment_active(a)) {
        if (src != dst) memmove(dst, src, sizeof(float) * (size_t)(n * h * w * c));
        return;
    }
    aug_job j = {a, src, dst, h, w, c, seed, first};
    mx_parallel_for(n, 1, warp_range, &j);
}
