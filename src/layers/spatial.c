/* spatial.c: layers that move pixels without weights: ZeroPadding2D and
 * Cropping2D (one window copy: output pixel (y, x) is input pixel
 * (y + dy, x + dx), zero outside), UpSampling2D (nearest or bilinear), and
 * GlobalAveragePooling2D / GlobalMaxPooling2D. All on NHWC images. */
#include "kernels/simd.h"
#include "layers/common.h"

#include <float.h>
#include <string.h>

/* ---- padding and cropping ---- */

typedef struct pad_cfg {
    int pads[4]; /* top, bottom, left, right */
    int data_format;
} pad_cfg;

static const mx_field zeropad_fields[] = {
    {"padding", MX_FIELD_PADS, offsetof(pad_cfg, pads), "[[1, 1], [1, 1]]", 0, NULL},
    {"data_format", MX_FIELD_ENUM, offsetof(pad_cfg, data_format), "\"channels_last\"", 0, mx_data_format_names},
    {0},
};

static const mx_field cropping_fields[] = {
    {"cropping", MX_FIELD_PADS, offsetof(pad_cfg, pads), "[[0, 0], [0, 0]]", 0, NULL},
    {"data_format", MX_FIELD_ENUM, offsetof(pad_cfg, data_format), "\"channels_last\"", 0, mx_data_format_names},
    {0},
};

typedef struct window {
    int64_t h, w, c, oh, ow;
    int64_t dy, dx; /* output (y, x) reads input (y + dy, x + dx) */
} window;

static int window_build(mx_node *n, int crop) {
    pad_cfg *cf = n->layer->cfg;
    mx_value *in = n->in[0];
    if (cf->data_format != 0) return mx_fail("data_format 'channels_first' is not supported (NHWC only)");
    if (in->rank != 3) return mx_fail("expects input (batch, height, width, channels), got rank %d", in->rank + 1);
    window *g = mx_alloc(sizeof *g);
    if (!g) return -1;
    mx_free(n->state);
    n->state = g;
    int s = crop ? -1 : 1;
    g->h = in->dims[0], g->w = in->dims[1], g->c = in->dims[2];
    g->oh = g->h + s * (cf->pads[0] + cf->pads[1]);
    g->ow = g->w + s * (cf->pads[2] + cf->pads[3]);
    g->dy = -s * cf->pads[0];
    g->dx = -s * cf->pads[2];
    if (g->oh <= 0 || g->ow <= 0) return mx_fail("cropping leaves nothing of a %lldx%lld input", (long long)g->h, (long long)g->w);
    int64_t od[3] = {g->oh, g->ow, g->c};
    return mx_node_set_output(n, 0, 3, od);
}

static int zeropad_build(mx_node *n) { return window_build(n, 0); }
static int cropping_build(mx_node *n) { return window_build(n, 1); }

typedef struct window_job {
    const window *g;
    const float *src;
    float *dst;
    int backward, accumulate;
} window_job;

/* forward: every output row from its input row or zeros; backward: every
 * input row from its output row or zeros. Rows [r0, r1) of (batch, rows). */
static void window_rows(void *p, int64_t r0, int64_t r1) {
    const window_job *j = p;
    const window *g = j->g;
    const int64_t c = g->c;
    const int64_t oh = j->backward ? g->h : g->oh, ow = j->backward ? g->w : g->ow;
    const int64_t ih = j->backward ? g->oh : g->h, iw = j->backward ? g->ow : g->w;
    const int64_t dy = j->backward ? -g->dy : g->dy, dx = j->backward ? -g->dx : g->dx;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / oh, y = r % oh, sy = y + dy;
        float *out = j->dst + r * ow * c;
        const float *in = j->src + (b * ih + sy) * iw * c;
        /* columns [x0, x1) have a source pixel */
        int64_t x0 = MX_MAX(0, -dx), x1 = MX_MIN(ow, iw - dx);
        if (sy < 0 || sy >= ih || x0 >= x1) {
            if (!j->accumulate) memset(out, 0, sizeof(float) * (size_t)(ow * c));
            continue;
        }
        if (j->accumulate) {
            for (int64_t i = x0 * c; i < x1 * c; i++) out[i] += in[i + dx * c];
            continue;
        }
        memset(out, 0, sizeof(float) * (size_t)(x0 * c));
        memcpy(out + x0 * c, in + (x0 + dx) * c, sizeof(float) * (size_t)((x1 - x0) * c));
        memset(out + x1 * c, 0, sizeof(float) * (size_t)((ow - x1) * c));
    }
}

static void window_forward(mx_node *n, const mx_exec *ex) {
    const window *g = n->state;
    window_job j = {g, n->in[0]->data, n->z->data, 0, 0};
    mx_parallel_for(ex->batch * g->oh, 16, window_rows, &j);
}

static void window_backward(mx_node *n, const mx_exec *ex) {
    const window *g = n->state;
    if (!n->in[0]->grad) return;
    window_job j = {g, n->z->grad, n->in[0]->grad, 1, n->in_acc[0]};
    mx_parallel_for(ex->batch * g->h, 16, window_rows, &j);
}

static void window_explain_shape(const mx_node *n, mx_text *t) {
    const pad_cfg *cf = n->layer->cfg;
    const window *g = n->state;
    char op = n->layer->type->build == cropping_build ? '-' : '+';
    mx_text_add(t, "height %lld %c %d %c %d = %lld, width %lld %c %d %c %d = %lld, channels unchanged", (long long)g->h,
                op, cf->pads[0], op, cf->pads[1], (long long)g->oh, (long long)g->w, op, cf->pads[2], op, cf->pads[3],
                (long long)g->ow);
}

const mx_layer_type mx_layer_zero_padding2d = {
    .class_name = "ZeroPadding2D",
    .fields = zeropad_fields,
    .cfg_size = sizeof(pad_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = zeropad_build,
    .forward = window_forward,
    .backward = window_backward,
    .explain_shape = window_explain_shape,
    .example = "{\"input\": [3, 3, 2], \"config\": {\"padding\": 1}}",
};

const mx_layer_type mx_layer_cropping2d = {
    .class_name = "Cropping2D",
    .fields = cropping_fields,
    .cfg_size = sizeof(pad_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = cropping_build,
    .forward = window_forward,
    .backward = window_backward,
    .explain_shape = window_explain_shape,
    .example = "{\"input\": [4, 4, 2], \"config\": {\"cropping\": 1}}",
};

/* ---- UpSampling2D ---- */

enum { UP_NEAREST, UP_BILINEAR };
static const char *const up_names[] = {"nearest", "bilinear", NULL};

typedef struct up_cfg {
    int size[2];
    int data_format;
    int interpolation;
} up_cfg;

static const mx_field up_fields[] = {
    {"size", MX_FIELD_INTS, offsetof(up_cfg, size), "[2, 2]", 2, NULL},
    {"data_format", MX_FIELD_ENUM, offsetof(up_cfg, data_format), "\"channels_last\"", 0, mx_data_format_names},
    {"interpolation", MX_FIELD_ENUM, offsetof(up_cfg, interpolation), "\"nearest\"", 0, up_names},
    {0},
};

static int up_build(mx_node *n) {
    up_cfg *cf = n->layer->cfg;
    mx_value *in = n->in[0];
    if (cf->data_format != 0) return mx_fail("data_format 'channels_first' is not supported (NHWC only)");
    if (in->rank != 3) return mx_fail("expects input (batch, height, width, channels), got rank %d", in->rank + 1);
    int64_t od[3] = {in->dims[0] * cf->size[0], in->dims[1] * cf->size[1], in->dims[2]};
    return mx_node_set_output(n, 0, 3, od);
}

/* Source coordinate of output pixel o for a scale: nearest takes o / s;
 * bilinear follows TF.js's resizeBilinear (no half-pixel offset, no corner
 * alignment): o * (in / out). Two taps and weights per axis. */
static void taps(int interp, int64_t o, int64_t in, int64_t out, int64_t *i0, int64_t *i1, float *w1) {
    if (interp == UP_NEAREST) {
        *i0 = *i1 = o * in / out;
        *w1 = 0;
        return;
    }
    float src = (float)o * (float)in / (float)out;
    *i0 = (int64_t)src;
    *i1 = MX_MIN(*i0 + 1, in - 1);
    *w1 = src - (float)*i0;
}

typedef struct up_job {
    const up_cfg *cf;
    int64_t h, w, c;
    const float *src;
    float *dst;
    int accumulate;
} up_job;

static void up_rows(void *p, int64_t r0, int64_t r1) {
    const up_job *j = p;
    const int64_t oh = j->h * j->cf->size[0], ow = j->w * j->cf->size[1], c = j->c;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / oh, y = r % oh, y0, y1, x0, x1;
        float wy, wx;
        taps(j->cf->interpolation, y, j->h, oh, &y0, &y1, &wy);
        const float *img = j->src + b * j->h * j->w * c;
        float *out = j->dst + r * ow * c;
        for (int64_t x = 0; x < ow; x++) {
            taps(j->cf->interpolation, x, j->w, ow, &x0, &x1, &wx);
            const float *a = img + (y0 * j->w + x0) * c, *bb = img + (y0 * j->w + x1) * c;
            const float *cc = img + (y1 * j->w + x0) * c, *d = img + (y1 * j->w + x1) * c;
            for (int64_t ch = 0; ch < c; ch++) {
                float top = a[ch] + wx * (bb[ch] - a[ch]), bot = cc[ch] + wx * (d[ch] - cc[ch]);
                out[x * c + ch] = top + wy * (bot - top);
            }
        }
    }
}

/* The transpose: every input pixel gathers the gradients of the outputs that
 * read it, with their weights. Images [b0, b1), one writer each. */
static void up_back_images(void *p, int64_t b0, int64_t b1) {
    const up_job *j = p;
    const int64_t oh = j->h * j->cf->size[0], ow = j->w * j->cf->size[1], c = j->c;
    for (int64_t b = b0; b < b1; b++) {
        float *dimg = j->dst + b * j->h * j->w * c;
        if (!j->accumulate) memset(dimg, 0, sizeof(float) * (size_t)(j->h * j->w * c));
        for (int64_t y = 0; y < oh; y++) {
            int64_t y0, y1, x0, x1;
            float wy, wx;
            taps(j->cf->interpolation, y, j->h, oh, &y0, &y1, &wy);
            const float *dy = j->src + (b * oh + y) * ow * c;
            for (int64_t x = 0; x < ow; x++) {
                taps(j->cf->interpolation, x, j->w, ow, &x0, &x1, &wx);
                const float *g = dy + x * c;
                float w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
                float *a = dimg + (y0 * j->w + x0) * c, *bb = dimg + (y0 * j->w + x1) * c;
                float *cc = dimg + (y1 * j->w + x0) * c, *d = dimg + (y1 * j->w + x1) * c;
                for (int64_t ch = 0; ch < c; ch++) {
                    a[ch] += w00 * g[ch];
                    bb[ch] += w01 * g[ch];
                    cc[ch] += w10 * g[ch];
                    d[ch] += w11 * g[ch];
                }
            }
        }
    }
}

static void up_forward(mx_node *n, const mx_exec *ex) {
    const mx_value *in = n->in[0];
    up_job j = {n->layer->cfg, in->dims[0], in->dims[1], in->dims[2], in->data, n->z->data, 0};
    mx_parallel_for(ex->batch * n->z->dims[0], 8, up_rows, &j);
}

static void up_backward(mx_node *n, const mx_exec *ex) {
    const mx_value *in = n->in[0];
    if (!in->grad) return;
    up_job j = {n->layer->cfg, in->dims[0], in->dims[1], in->dims[2], n->z->grad, in->grad, n->in_acc[0]};
    mx_parallel_for(ex->batch, 1, up_back_images, &j);
}

static void up_explain_shape(const mx_node *n, mx_text *t) {
    const up_cfg *cf = n->layer->cfg;
    const mx_value *in = n->in[0];
    mx_text_add(t, "height %lld*%d = %lld, width %lld*%d = %lld, channels unchanged", (long long)in->dims[0], cf->size[0],
                (long long)in->dims[0] * cf->size[0], (long long)in->dims[1], cf->size[1],
                (long long)in->dims[1] * cf->size[1]);
}

const mx_layer_type mx_layer_upsampling2d = {
    .class_name = "UpSampling2D",
    .fields = up_fields,
    .cfg_size = sizeof(up_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = up_build,
    .forward = up_forward,
    .backward = up_backward,
    .explain_shape = up_explain_shape,
    .example = "{\"input\": [2, 2, 2], \"config\": {\"size\": 2, \"interpolation\": \"bilinear\"}}",
};

/* ---- global pooling over height and width ---- */

typedef struct gpool_cfg {
    int data_format;
    int keepdims;
} gpool_cfg;

static const mx_field gpool_fields[] = {
    {"data_format", MX_FIELD_ENUM, offsetof(gpool_cfg, data_format), "\"channels_last\"", 0, mx_data_format_names},
    {"keepdims", MX_FIELD_BOOL, offsetof(gpool_cfg, keepdims), "false", 0, NULL},
    {0},
};

static int gpool_build(mx_node *n) {
    gpool_cfg *cf = n->layer->cfg;
    mx_value *in = n->in[0];
    if (cf->data_format != 0) return mx_fail("data_format 'channels_first' is not supported (NHWC only)");
    if (in->rank != 3) return mx_fail("expects input (batch, height, width, channels), got rank %d", in->rank + 1);
    if (!strcmp(n->layer->type->class_name, "GlobalMaxPooling2D")) n->ws_per_sample = in->dims[2]; /* argmax */
    int64_t od[3] = {1, 1, in->dims[2]};
    return cf->keepdims ? mx_node_set_output(n, 0, 3, od) : mx_node_set_output(n, 0, 1, od + 2);
}

typedef struct gpool_job {
    int64_t hw, c;
    const float *x, *dy;
    float *y, *dx;
    int32_t *arg;
    int accumulate;
} gpool_job;

static void gavg_images(void *p, int64_t b0, int64_t b1) {
    const gpool_job *j = p;
    for (int64_t b = b0; b < b1; b++) {
        const float *x = j->x + b * j->hw * j->c;
        float *y = j->y + b * j->c;
        memset(y, 0, sizeof(float) * (size_t)j->c);
        for (int64_t i = 0; i < j->hw; i++)
            for (int64_t ch = 0; ch < j->c; ch++) y[ch] += x[i * j->c + ch];
        for (int64_t ch = 0; ch < j->c; ch++) y[ch] /= (float)j->hw;
    }
}

static void gavg_back_images(void *p, int64_t b0, int64_t b1) {
    const gpool_job *j = p;
    for (int64_t b = b0; b < b1; b++) {
        const float *dy = j->dy + b * j->c;
        float *dx = j->dx + b * j->hw * j->c;
        for (int64_t i = 0; i < j->hw; i++)
            for (int64_t ch = 0; ch < j->c; ch++) {
                float g = dy[ch] / (float)j->hw;
                dx[i * j->c + ch] = j->accumulate ? dx[i * j->c + ch] + g : g;
            }
    }
}

static void gmax_images(void *p, int64_t b0, int64_t b1) {
    const gpool_job *j = p;
    for (int64_t b = b0; b < b1; b++) {
        const float *x = j->x + b * j->hw * j->c;
        float *y = j->y + b * j->c;
        int32_t *arg = j->arg + b * j->c;
        memcpy(y, x, sizeof(float) * (size_t)j->c);
        memset(arg, 0, sizeof(int32_t) * (size_t)j->c);
        for (int64_t i = 1; i < j->hw; i++)
            for (int64_t ch = 0; ch < j->c; ch++)
                if (x[i * j->c + ch] > y[ch]) y[ch] = x[i * j->c + ch], arg[ch] = (int32_t)i;
    }
}

static void gmax_back_images(void *p, int64_t b0, int64_t b1) {
    const gpool_job *j = p;
    for (int64_t b = b0; b < b1; b++) {
        float *dx = j->dx + b * j->hw * j->c;
        if (!j->accumulate) memset(dx, 0, sizeof(float) * (size_t)(j->hw * j->c));
        for (int64_t ch = 0; ch < j->c; ch++) dx[j->arg[b * j->c + ch] * j->c + ch] += j->dy[b * j->c + ch];
    }
}

static gpool_job gpool_job_of(const mx_node *n) {
    const mx_value *in = n->in[0];
    gpool_job j = {in->dims[0] * in->dims[1], in->dims[2], in->data, n->z->grad, n->z->data, in->grad,
                   (int32_t *)n->ws, n->in_acc[0]};
    return j;
}

static void gavg_forward(mx_node *n, const mx_exec *ex) {
    gpool_job j = gpool_job_of(n);
    mx_parallel_for(ex->batch, 1, gavg_images, &j);
}

static void gavg_backward(mx_node *n, const mx_exec *ex) {
    if (!n->in[0]->grad) return;
    gpool_job j = gpool_job_of(n);
    mx_parallel_for(ex->batch, 1, gavg_back_images, &j);
}

static void gmax_forward(mx_node *n, const mx_exec *ex) {
    gpool_job j = gpool_job_of(n);
    mx_parallel_for(ex->batch, 1, gmax_images, &j);
}

static void gmax_backward(mx_node *n, const mx_exec *ex) {
    if (!n->in[0]->grad) return;
    gpool_job j = gpool_job_of(n);
    mx_parallel_for(ex->batch, 1, gmax_back_images, &j);
}

static void gpool_explain_shape(const mx_node *n, mx_text *t) {
    const mx_value *in = n->in[0];
    mx_text_add(t, "one value per channel over all %lld*%lld positions: %lld channels%s", (long long)in->dims[0],
                (long long)in->dims[1], (long long)in->dims[2],
                ((const gpool_cfg *)n->layer->cfg)->keepdims ? " (keepdims: 1, 1 kept)" : "");
}

const mx_layer_type mx_layer_global_average_pooling2d = {
    .class_name = "GlobalAveragePooling2D",
    .fields = gpool_fields,
    .cfg_size = sizeof(gpool_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = gpool_build,
    .forward = gavg_forward,
    .backward = gavg_backward,
    .explain_shape = gpool_explain_shape,
    .example = "{\"input\": [3, 3, 2], \"config\": {}}",
};

const mx_layer_type mx_layer_global_max_pooling2d = {
    .class_name = "GlobalMaxPooling2D",
    .fields = gpool_fields,
    .cfg_size = sizeof(gpool_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = gpool_build,
    .forward = gmax_forward,
    .backward = gmax_backward,
    .explain_shape = gpool_explain_shape,
    .example = "{\"input\": [3, 3, 2], \"config\": {}}",
};
