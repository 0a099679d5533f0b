/* pool2d.c: MaxPooling2D and AveragePooling2D on NHWC images.
 * As TensorFlow: padded positions never win a max, and a 'same' average
 * divides by the number of real pixels in the window. */
#include "kernels/simd.h"
#include "layers/common.h"

#include <string.h>

typedef struct pool_cfg {
    int pool_size[2];
    int strides[2];   /* null in Keras means pool_size: stored as 0 */
    int padding;
    int data_format;
} pool_cfg;

static const mx_field pool_fields[] = {
    {"pool_size", MX_FIELD_INTS, offsetof(pool_cfg, pool_size), "[2, 2]", 2, NULL},
    {"strides", MX_FIELD_INTS, offsetof(pool_cfg, strides), "null", 2, NULL},
    {"padding", MX_FIELD_ENUM, offsetof(pool_cfg, padding), "\"valid\"", 0, mx_padding_names},
    {"data_format", MX_FIELD_ENUM, offsetof(pool_cfg, data_format), "\"channels_last\"", 0,
     mx_data_format_names},
    {0},
};

typedef struct pool_geom {
    int64_t h, w, c, oh, ow;
    int ph, pw, sh, sw, pad_top, pad_left;
} pool_geom;

static int pool_build(mx_node *n) {
    pool_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    if (c->data_format != 0) return mx_fail("data_format 'channels_first' is not supported (NHWC only)");
    if (in->rank != 3) return mx_fail("expects input (batch, height, width, channels), got rank %d", in->rank + 1);
    pool_geom *g = mx_alloc(sizeof *g);
    if (!g) return -1;
    mx_free(n->state);
    n->state = g;
    g->h = in->dims[0];
    g->w = in->dims[1];
    g->c = in->dims[2];
    g->ph = c->pool_size[0];
    g->pw = c->pool_size[1];
    g->sh = c->strides[0] ? c->strides[0] : g->ph;
    g->sw = c->strides[1] ? c->strides[1] : g->pw;
    if (mx_conv_out(g->h, g->ph, g->sh, 1, c->padding, &g->oh, &g->pad_top) ||
        mx_conv_out(g->w, g->pw, g->sw, 1, c->padding, &g->ow, &g->pad_left))
        return -1;
    int64_t od[3] = {g->oh, g->ow, g->c};
    /* max pooling remembers the winning input index of every output */
    if (strcmp(n->layer->type->class_name, "MaxPooling2D") == 0) n->ws_per_sample = g->oh * g->ow * g->c;
    return mx_node_set_output(n, 0, 3, od);
}

typedef struct pool_job {
    const pool_geom *g;
    const float *x;
    float *y;
    int32_t *arg;
    const float *dy;
    float *dx;
    int accumulate;
} pool_job;

/* window of output (oy, ox) clipped to the image */
static void window(const pool_geom *g, int64_t oy, int64_t ox, int64_t *y0, int64_t *y1, int64_t *x0, int64_t *x1) {
    *y0 = oy * g->sh - g->pad_top;
    *x0 = ox * g->sw - g->pad_left;
    *y1 = MX_MIN(*y0 + g->ph, g->h);
    *x1 = MX_MIN(*x0 + g->pw, g->w);
    *y0 = MX_MAX(*y0, 0);
    *x0 = MX_MAX(*x0, 0);
}

/* Max over each window, channels in vectors. The first pixel of the
 * (clipped, never empty) window seeds the max, so the index is always valid;
 * in training the flat input index of every max is kept for backward. */
static void max_forward_range(void *p, int64_t b0, int64_t b1) {
    const pool_job *j = p;
    const pool_geom *g = j->g;
    const int64_t c = g->c;
    for (int64_t b = b0; b < b1; b++) {
        const float *img = j->x + b * g->h * g->w * c;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t o = ((b * g->oh + oy) * g->ow + ox) * c;
                float *y = j->y + o;
                int32_t *arg = j->arg ? j->arg + o : NULL;
                int64_t y0, y1, x0, x1;
                window(g, oy, ox, &y0, &y1, &x0, &x1);
                int32_t first = (int32_t)((y0 * g->w + x0) * c);
                int64_t ch = 0;
#if MX_VL > 1
                mx_vi lane;
                for (int l = 0; l < MX_VL; l++) lane[l] = l;
                for (; ch + MX_VL <= c; ch += MX_VL) {
                    mx_vf best = mx_vload(img + first + ch);
                    mx_vi at = lane + (first + (int32_t)ch);
                    for (int64_t iy = y0; iy < y1; iy++)
                        for (int64_t ix = x0; ix < x1; ix++) {
                            int32_t base = (int32_t)((iy * g->w + ix) * c + ch);
                            mx_vf v = mx_vload(img + base);
                            mx_vi gt = v > best;
                            best = mx_vselect(gt, v, best);
                            at = (gt & (lane + base)) | (~gt & at);
                        }
                    mx_vstore(y + ch, best);
                    if (arg) memcpy(arg + ch, &at, sizeof at);
                }
#endif
                for (; ch < c; ch++) {
                    float best = img[first + ch];
                    int32_t at = first + (int32_t)ch;
                    for (int64_t iy = y0; iy < y1; iy++)
                        for (int64_t ix = x0; ix < x1; ix++) {
                            int32_t i = (int32_t)((iy * g->w + ix) * c + ch);
                            if (img[i] > best) best = img[i], at = i;
                        }
                    y[ch] = best;
                    if (arg) arg[ch] = at;
                }
            }
    }
}

static void max_backward_range(void *p, int64_t b0, int64_t b1) {
    const pool_job *j = p;
    const pool_geom *g = j->g;
    int64_t isz = g->h * g->w * g->c, osz = g->oh * g->ow * g->c;
    for (int64_t b = b0; b < b1; b++) {
        float *dimg = j->dx + b * isz;
        if (!j->accumulate) memset(dimg, 0, sizeof(float) * (size_t)isz);
        const float *dy = j->dy + b * osz;
        const int32_t *arg = j->arg + b * osz;
        for (int64_t i = 0; i < osz; i++) dimg[arg[i]] += dy[i];
    }
}

static void avg_forward_range(void *p, int64_t b0, int64_t b1) {
    const pool_job *j = p;
    const pool_geom *g = j->g;
    for (int64_t b = b0; b < b1; b++) {
        const float *img = j->x + b * g->h * g->w * g->c;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                float *y = j->y + ((b * g->oh + oy) * g->ow + ox) * g->c;
                int64_t y0, y1, x0, x1;
                window(g, oy, ox, &y0, &y1, &x0, &x1);
                memset(y, 0, sizeof(float) * (size_t)g->c);
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        const float *row = img + (iy * g->w + ix) * g->c;
                        for (int64_t ch = 0; ch < g->c; ch++) y[ch] += row[ch];
                    }
                float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
                for (int64_t ch = 0; ch < g->c; ch++) y[ch] *= inv;
            }
    }
}

static void avg_backward_range(void *p, int64_t b0, int64_t b1) {
    const pool_job *j = p;
    const pool_geom *g = j->g;
    int64_t isz = g->h * g->w * g->c;
    for (int64_t b = b0; b < b1; b++) {
        float *dimg = j->dx + b * isz;
        if (!j->accumulate) memset(dimg, 0, sizeof(float) * (size_t)isz);
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const float *dy = j->dy + ((b * g->oh + oy) * g->ow + ox) * g->c;
                int64_t y0, y1, x0, x1;
                window(g, oy, ox, &y0, &y1, &x0, &x1);
                float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        float *row = dimg + (iy * g->w + ix) * g->c;
                        for (int64_t ch = 0; ch < g->c; ch++) row[ch] += dy[ch] * inv;
                    }
            }
    }
}

extern const mx_layer_type mx_layer_max_pooling2d;

int mx_pool_is_2x2(const mx_node *n) {
    if (n->layer->type != &mx_layer_max_pooling2d) return 0;
    const pool_geom *g = n->state;
    return g->ph == 2 && g->pw == 2 && g->sh == 2 && g->sw == 2 && g->pad_top == 0 && g->pad_left == 0 &&
           g->oh == g->h / 2 && g->ow == g->w / 2;
}

static void max_forward(mx_node *n, const mx_exec *ex) {
    /* the argmax is only needed for a backward pass */
    pool_job j = {n->state, n->in[0]->data, n->z->data, ex->training ? (int32_t *)n->ws : NULL, NULL, NULL, 0};
    mx_parallel_for(ex->batch, 1, max_forward_range, &j);
}

static void max_backward(mx_node *n, const mx_exec *ex) {
    if (!n->in[0]->grad) return;
    pool_job j = {n->state, NULL, NULL, (int32_t *)n->ws, n->z->grad, n->in[0]->grad, n->in_acc[0]};
    mx_parallel_for(ex->batch, 1, max_backward_range, &j);
}

static void avg_forward(mx_node *n, const mx_exec *ex) {
    pool_job j = {n->state, n->in[0]->data, n->z->data, NULL, NULL, NULL, 0};
    mx_parallel_for(ex->batch, 1, avg_forward_range, &j);
}

static void avg_backward(mx_node *n, const mx_exec *ex) {
    if (!n->in[0]->grad) return;
    pool_job j = {n->state, NULL, NULL, NULL, n->z->grad, n->in[0]->grad, n->in_acc[0]};
    mx_parallel_for(ex->batch, 1, avg_backward_range, &j);
}

static int pool_window(const mx_node *n, mx_conv_geom *out) {
    const pool_geom *g = n->state;
    *out = (mx_conv_geom){.h = g->h, .w = g->w, .c = g->c, .oh = g->oh, .ow = g->ow, .f = g->c, .kh = g->ph,
                          .kw = g->pw, .sh = g->sh, .sw = g->sw, .dh = 1, .dw = 1, .pad_top = g->pad_top,
                          .pad_left = g->pad_left, .kdim = (int64_t)g->ph * g->pw};
    return 0;
}

static void pool_explain_shape(const mx_node *n, mx_text *t) {
    mx_conv_geom g;
    pool_window(n, &g);
    mx_explain_window_shape(&g, ((const pool_cfg *)n->layer->cfg)->padding == MX_PAD_SAME, t);
    mx_text_add(t, ", channels unchanged = %lld", (long long)g.c);
}

const mx_layer_type mx_layer_max_pooling2d = {
    .class_name = "MaxPooling2D",
    .fields = pool_fields,
    .cfg_size = sizeof(pool_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = pool_build,
    .forward = max_forward,
    .backward = max_backward,
    .window = pool_window,
    .explain_shape = pool_explain_shape,
    .example = "{\"input\": [4, 4, 2], \"config\": {\"pool_size\": 2}}",
};

const mx_layer_type mx_layer_average_pooling2d = {
    .class_name = "AveragePooling2D",
    .fields = pool_fields,
    .cfg_size = sizeof(pool_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = pool_build,
    .forward = avg_forward,
    .backward = avg_backward,
    .window = pool_window,
    .explain_shape = pool_explain_shape,
    .example = "{\"input\": [5, 5, 2], \"config\": {\"pool_size\": 2, \"padding\": \"same\"}}",
};
