/* augment.c: random distortions of NHWC images for training.
 *
 * Affine: sample i gets rotation r ~ U(-rotation, rotation) degrees, scale
 * s ~ U(1 - zoom, 1 + zoom) and shift (tx, ty) ~ U(-shift, shift) * (w, h),
 * applied about the image centre: a source point p lands at
 * c + s R(r) (p - c) + t. Each output pixel samples the source at the
 * inverse map bilinearly, zero outside.
 * Then, as the upstream rock-paper-scissors pipeline: horizontal and vertical
 * flips (each with probability 1/2), k ~ U{0..3} counter-clockwise quarter
 * turns (tf.image.rot90; square images only), then colour: brightness adds
 * U(-b, b) * 255, contrast scales each channel about its mean by
 * U(1 - c, 1 + c), hue turns the colour wheel by U(-h, h) (RGB only), and
 * the result is clamped to 0..255.
 * Draws: elements 0..3 (affine) and 4..9 (flips, turns, brightness,
 * contrast, hue) of the stream mx_stream(seed, first + i, 0, 0), each with a
 * fixed element whether or not the others are on, so a sample's distortion
 * does not depend on batching, threads or the other options.
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

/* stream elements of the draws after the affine ones (0..3) */
enum { E_FLIP_H = 4, E_FLIP_V, E_TURNS, E_BRIGHTNESS, E_CONTRAST, E_HUE };

/* In place on x (h, w, c): mirror left-right. */
static void flip_h(float *x, int h, int w, int c) {
    for (int y = 0; y < h; y++) {
        float *row = x + (int64_t)y * w * c; /* (w, c) */
        for (int a = 0, b = w - 1; a < b; a++, b--)
            for (int k = 0; k < c; k++) {
                float t = row[a * c + k];
                row[a * c + k] = row[b * c + k];
                row[b * c + k] = t;
            }
    }
}

/* In place on x (h, w, c): mirror top-bottom. */
static void flip_v(float *x, int h, int w, int c) {
    const int64_t n = (int64_t)w * c;
    for (int a = 0, b = h - 1; a < b; a++, b--)
        for (int64_t k = 0; k < n; k++) {
            float t = x[a * n + k];
            x[a * n + k] = x[b * n + k];
            x[b * n + k] = t;
        }
}

/* In place on x (n, n, c): swap rows and columns. */
static void transpose(float *x, int n, int c) {
    for (int y = 0; y < n; y++)
        for (int i = y + 1; i < n; i++)
            for (int k = 0; k < c; k++) {
                float *p = x + ((int64_t)y * n + i) * c + k, *q = x + ((int64_t)i * n + y) * c + k;
                float t = *p;
                *p = *q;
                *q = t;
            }
}

/* RGB pixel p: turn its hue by dh of the wheel, keeping its max and min (so
 * value and chroma; gray stays exactly gray). HSV's hexcone, as tf.image's
 * adjust_hue. */
static void turn_hue(float *p, float dh) {
    float hi = fmaxf(p[0], fmaxf(p[1], p[2])), lo = fminf(p[0], fminf(p[1], p[2])), chroma = hi - lo;
    if (!(chroma > 0)) return;
    float hue; /* in sixths of the wheel */
    if (hi == p[0])
        hue = (p[1] - p[2]) / chroma;
    else if (hi == p[1])
        hue = 2.0f + (p[2] - p[0]) / chroma;
    else
        hue = 4.0f + (p[0] - p[1]) / chroma;
    hue = hue / 6.0f + dh;
    hue = 6.0f * (hue - floorf(hue));
    int sector = MX_MIN((int)hue, 5); /* hue - floor(hue) can round up to 1 */
    float f = hue - (float)sector, up = lo + chroma * f, down = hi - chroma * f;
    const float rgb[6][3] = {{hi, up, lo}, {down, hi, lo}, {lo, hi, up}, {lo, down, hi}, {up, lo, hi}, {hi, lo, down}};
    memcpy(p, rgb[sector], sizeof rgb[0]);
}

static void colour(const mx_augment *a, uint64_t s, float *x, int64_t pixels, int c) {
    const int64_t n = pixels * c;
    if (a->brightness != 0) {
        float delta = symmetric(s, E_BRIGHTNESS, a->brightness) * 255.0f;
        for (int64_t k = 0; k < n; k++) x[k] += delta;
    }
    if (a->contrast != 0) {
        float f = 1.0f + symmetric(s, E_CONTRAST, a->contrast);
        for (int k = 0; k < c; k++) {
            double sum = 0;
            for (int64_t p = 0; p < pixels; p++) sum += x[p * c + k];
            float mean = (float)(sum / (double)pixels);
            for (int64_t p = 0; p < pixels; p++) x[p * c + k] = (x[p * c + k] - mean) * f + mean;
        }
    }
    if (a->hue != 0 && c == 3) {
        float dh = symmetric(s, E_HUE, a->hue);
        for (int64_t p = 0; p < pixels; p++) turn_hue(x + p * 3, dh);
    }
    for (int64_t k = 0; k < n; k++) x[k] = fminf(fmaxf(x[k], 0.0f), 255.0f);
}

static void augment_one(const aug_job *j, int64_t i) {
    const mx_augment *a = j->a;
    const int h = j->h, w = j->w, c = j->c;
    const int64_t size = (int64_t)h * w * c;
    float *dst = j->dst + i * size; /* (h, w, c) */
    if (a->shift != 0 || a->rotation != 0 || a->zoom != 0)
        warp_one(j, i);
    else if (j->src != j->dst)
        memcpy(dst, j->src + i * size, sizeof(float) * (size_t)size);
    uint64_t s = mx_stream(j->seed, (uint64_t)(j->first + i), 0, 0);
    if (a->flip_horizontal && mx_uniform(s, E_FLIP_H) < 0.5f) flip_h(dst, h, w, c);
    if (a->flip_vertical && mx_uniform(s, E_FLIP_V) < 0.5f) flip_v(dst, h, w, c);
    if (a->rotate90 && h == w) {
        /* counter-clockwise: once = transpose then flip top-bottom */
        int turns = MX_MIN((int)(mx_uniform(s, E_TURNS) * 4.0f), 3);
        if (turns == 2) {
            flip_h(dst, h, w, c);
            flip_v(dst, h, w, c);
        } else if (turns) {
            transpose(dst, h, c);
            (turns == 1 ? flip_v : flip_h)(dst, h, w, c);
        }
    }
    if (a->brightness != 0 || a->contrast != 0 || (a->hue != 0 && c == 3)) colour(a, s, dst, (int64_t)h * w, c);
}

static void augment_range(void *p, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) augment_one(p, i);
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
    mx_parallel_for(n, 1, augment_range, &j);
}
