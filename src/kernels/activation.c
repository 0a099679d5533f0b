/* activation.c: activation functions and their derivatives, shared by the
 * Activation layer, every layer with an `activation` argument and the GEMM
 * epilogue. */
#include "kernels/activation.h"

#include "core/core.h"
#include "kernels/simd.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    mx_act_kind kind;
} g_names[] = {
    {"linear", MX_ACT_LINEAR},     {"relu", MX_ACT_RELU},         {"relu6", MX_ACT_RELU6},
    {"leaky_relu", MX_ACT_LEAKY_RELU}, {"elu", MX_ACT_ELU},       {"selu", MX_ACT_SELU},
    {"sigmoid", MX_ACT_SIGMOID},   {"hard_sigmoid", MX_ACT_HARD_SIGMOID},
    {"tanh", MX_ACT_TANH},         {"softmax", MX_ACT_SOFTMAX},   {"softplus", MX_ACT_SOFTPLUS},
    {"softsign", MX_ACT_SOFTSIGN}, {"swish", MX_ACT_SWISH},       {"gelu", MX_ACT_GELU},
    {"exponential", MX_ACT_EXPONENTIAL}, {"heaviside", MX_ACT_HEAVISIDE},
    /* aliases: TF.js spellings, Keras synonyms, the textbook's identity */
    {"hardSigmoid", MX_ACT_HARD_SIGMOID}, {"silu", MX_ACT_SWISH},  {"leakyRelu", MX_ACT_LEAKY_RELU},
    {"identity", MX_ACT_LINEAR},
};

int mx_act_parse(const char *name, mx_act *out) {
    for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++)
        if (strcmp(g_names[i].name, name) == 0) {
            *out = (mx_act){g_names[i].kind, g_names[i].kind == MX_ACT_LEAKY_RELU ? 0.2f : 1.0f, INFINITY, 0, 1};
            return 0;
        }
    return -1;
}

float mx_act_temperature(mx_act a) { return a.temperature > 0 ? a.temperature : 1.0f; }

int mx_act_has_params(mx_act a) {
    return (a.kind == MX_ACT_LEAKY_RELU && a.alpha != 0.2f) || (a.kind == MX_ACT_SOFTMAX && mx_act_temperature(a) != 1);
}

mx_act mx_act_relu(float max_value, float negative_slope, float threshold) {
    if (threshold == 0 && negative_slope == 0 && isinf(max_value)) return (mx_act){MX_ACT_RELU, 0, INFINITY, 0, 1};
    if (threshold == 0 && negative_slope == 0 && max_value == 6) return (mx_act){MX_ACT_RELU6, 0, INFINITY, 0, 1};
    if (threshold == 0 && negative_slope > 0 && isinf(max_value))
        return (mx_act){MX_ACT_LEAKY_RELU, negative_slope, INFINITY, 0, 1};
    return (mx_act){MX_ACT_RELU_X, negative_slope, max_value, threshold, 1};
}

const char *mx_act_name(mx_act_kind kind) {
    for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++)
        if (g_names[i].kind == kind) return g_names[i].name;
    return "?";
}

#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static float act1(mx_act a, float x) {
    switch (a.kind) {
    case MX_ACT_LINEAR: return x;
    case MX_ACT_RELU: return x > 0 ? x : 0;
    case MX_ACT_RELU6: return x > 0 ? (x < 6 ? x : 6) : 0;
    case MX_ACT_LEAKY_RELU: return x > 0 ? x : a.alpha * x;
    case MX_ACT_ELU: return x > 0 ? x : a.alpha * expm1f(x);
    case MX_ACT_SELU: return SELU_SCALE * (x > 0 ? x : SELU_ALPHA * expm1f(x));
    case MX_ACT_SIGMOID: return sigmoidf(x);
    case MX_ACT_HARD_SIGMOID: return fminf(1.0f, fmaxf(0.0f, 0.2f * x + 0.5f));
    case MX_ACT_TANH: return tanhf(x);
    case MX_ACT_SOFTPLUS: return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
    case MX_ACT_SOFTSIGN: return x / (1.0f + fabsf(x));
    case MX_ACT_SWISH: return x * sigmoidf(x);
    case MX_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case MX_ACT_EXPONENTIAL: return expf(x);
    case MX_ACT_RELU_X: return x > a.threshold ? fminf(x, a.max_value) : a.alpha * (x - a.threshold);
    case MX_ACT_HEAVISIDE: return x > 0 ? 1.0f : 0.0f;
    case MX_ACT_SOFTMAX:
    case MX_ACT_COUNT: break;
    }
    return x;
}

int mx_act_output_grad(mx_act a) {
    switch (a.kind) {
    case MX_ACT_RELU:
    case MX_ACT_RELU6:
    case MX_ACT_SELU:
    case MX_ACT_SIGMOID:
    case MX_ACT_HARD_SIGMOID:
    case MX_ACT_TANH:
    case MX_ACT_EXPONENTIAL:
    case MX_ACT_HEAVISIDE: return 1;
    case MX_ACT_LEAKY_RELU:
    case MX_ACT_ELU: return a.alpha > 0; /* then y > 0 exactly when x > 0 */
    default: return 0;
    }
}

int mx_act_monotonic(mx_act a) {
    switch (a.kind) {
    case MX_ACT_SWISH:
    case MX_ACT_GELU:
    case MX_ACT_SOFTMAX: return 0;
    case MX_ACT_LEAKY_RELU:
    case MX_ACT_ELU: return a.alpha >= 0;
    default: return 1;
    }
}

/* f'(x) given x and y = f(x). Wherever mx_act_output_grad holds, only y is
 * read, so x may be the same buffer as y (in-place activation). */
static float dact1(mx_act a, float x, float y) {
    switch (a.kind) {
    case MX_ACT_LINEAR: return 1;
    case MX_ACT_RELU: return y > 0 ? 1.0f : 0.0f;
    case MX_ACT_RELU6: return y > 0 && y < 6 ? 1.0f : 0.0f;
    case MX_ACT_LEAKY_RELU: return (a.alpha > 0 ? y : x) > 0 ? 1.0f : a.alpha;
    case MX_ACT_ELU: return (a.alpha > 0 ? y : x) > 0 ? 1.0f : y + a.alpha;
    case MX_ACT_SELU: return y > 0 ? SELU_SCALE : y + SELU_SCALE * SELU_ALPHA;
    case MX_ACT_SIGMOID: return y * (1.0f - y);
    case MX_ACT_HARD_SIGMOID: return y > 0 && y < 1 ? 0.2f : 0.0f;
    case MX_ACT_TANH: return 1.0f - y * y;
    case MX_ACT_SOFTPLUS: return sigmoidf(x);
    case MX_ACT_SOFTSIGN: {
        float d = 1.0f + fabsf(x);
        return 1.0f / (d * d);
    }
    case MX_ACT_SWISH: {
        float s = sigmoidf(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case MX_ACT_GELU:
        return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) +
               x * 0.39894228040143268f * expf(-0.5f * x * x);
    case MX_ACT_EXPONENTIAL: return y;
    case MX_ACT_RELU_X: return x > a.threshold ? (x < a.max_value ? 1.0f : 0.0f) : a.alpha;
    case MX_ACT_HEAVISIDE: return 0; /* a step: zero wherever it is differentiable */
    case MX_ACT_SOFTMAX:
    case MX_ACT_COUNT: break;
    }
    return 1;
}

typedef struct act_job {
    mx_act a;
    const float *x, *y, *dy;
    float *out;
    int64_t cols;
    int accumulate;
} act_job;

/* y = softmax(x / T) per row */
static void softmax_rows(const act_job *j, int64_t r0, int64_t r1) {
    int64_t c = j->cols;
    float k = 1.0f / mx_act_temperature(j->a);
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * c;
        float *y = j->out + r * c;
        float mx = x[0];
        for (int64_t i = 1; i < c; i++) mx = x[i] > mx ? x[i] : mx;
        float s = 0;
        for (int64_t i = 0; i < c; i++) {
            y[i] = expf((x[i] - mx) * k);
            s += y[i];
        }
        float inv = 1.0f / s;
        for (int64_t i = 0; i < c; i++) y[i] *= inv;
    }
}

/* Sigmoid and tanh a vector at a time (the gates of recurrent layers). */
static inline mx_vf vsigmoid(mx_vf x) { return 1.0f / (1.0f + mx_vexp(-x)); }

static inline mx_vf vtanh(mx_vf x) {
#if MX_VL == 1
    return tanhf(x);
#else
    /* |x| < 0.625: Cephes's odd polynomial; beyond: 1 - 2 / (e^(2|x|) + 1) with x's sign */
    const mx_vf z = x * x;
    mx_vf p = z * -5.70498872745e-3f + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const mx_vf small = p * z * x + x;
    const mx_vf a = mx_vmax(x, -x);
    mx_vf big = 1.0f - 2.0f / (mx_vexp(2.0f * a) + 1.0f);
    big = mx_vselect(x < 0, -big, big);
    return mx_vselect(a < 0.625f, small, big);
#endif
}

/* f over n values with whole vectors; the tail through a padded vector, so
 * each value comes out the same wherever a range starts */
#define VECTOR_MAP(f, x, y, n)                                                       \
    do {                                                                             \
        int64_t i_ = 0;                                                              \
        for (; i_ + MX_VL <= (n); i_ += MX_VL) mx_vstore((y) + i_, f(mx_vload((x) + i_))); \
        if (i_ < (n)) {                                                              \
            float t_[MX_VL] = {0};                                                   \
            memcpy(t_, (x) + i_, sizeof(float) * (size_t)((n) - i_));                \
            mx_vstore(t_, f(mx_vload(t_)));                                          \
            memcpy((y) + i_, t_, sizeof(float) * (size_t)((n) - i_));                \
        }                                                                            \
    } while (0)

void mx_act_eltwise(mx_act a, const float *x, float *y, int64_t n) {
    /* the common cases get loops the compiler can vectorise */
    if (a.kind == MX_ACT_RELU) {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
    } else if (a.kind == MX_ACT_RELU6) {
        for (int64_t i = 0; i < n; i++) y[i] = fminf(fmaxf(x[i], 0.0f), 6.0f);
    } else if (a.kind == MX_ACT_LEAKY_RELU) {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : a.alpha * x[i];
    } else if (a.kind == MX_ACT_LINEAR) {
        if (y != x) memmove(y, x, sizeof(float) * (size_t)n);
    } else if (a.kind == MX_ACT_SIGMOID) {
        VECTOR_MAP(vsigmoid, x, y, n);
    } else if (a.kind == MX_ACT_TANH) {
        VECTOR_MAP(vtanh, x, y, n);
    } else if (a.kind == MX_ACT_HARD_SIGMOID) {
        for (int64_t i = 0; i < n; i++) y[i] = fminf(1.0f, fmaxf(0.0f, 0.2f * x[i] + 0.5f));
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = act1(a, x[i]);
    }
}

void mx_act_derivative(mx_act a, const float *x, const float *y, float *d, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = dact1(a, x[i], y[i]);
}

static void forward_range(void *p, int64_t b, int64_t e) {
    const act_job *j = p;
    if (j->a.kind == MX_ACT_SOFTMAX)
        softmax_rows(j, b, e);
    else
        mx_act_eltwise(j->a, j->x + b, j->out + b, e - b);
}

static void backward_range(void *p, int64_t b, int64_t e) {
    const act_job *j = p;
    const float *x = j->x, *y = j->y, *dy = j->dy;
    float *dx = j->out;
    if (j->a.kind == MX_ACT_SOFTMAX) {
        /* dx = y * (dy - sum(dy * y)) / T per row; b, e count rows */
        int64_t c = j->cols;
        float k = 1.0f / mx_act_temperature(j->a);
        for (int64_t r = b; r < e; r++) {
            const float *yr = y + r * c, *dyr = dy + r * c;
            float *dxr = dx + r * c;
            float dot = 0;
            for (int64_t i = 0; i < c; i++) dot += dyr[i] * yr[i];
            for (int64_t i = 0; i < c; i++) {
                float g = yr[i] * (dyr[i] - dot) * k;
                dxr[i] = j->accumulate ? dxr[i] + g : g;
            }
        }
        return;
    }
    if (j->accumulate) {
        for (int64_t i = b; i < e; i++) dx[i] += dy[i] * dact1(j->a, x[i], y[i]);
        return;
    }
    mx_act_grad_eltwise(j->a, x + b, y + b, dy + b, dx + b, e - b);
}

void mx_act_grad_eltwise(mx_act a, const float *x, const float *y, const float *dy, float *dx, int64_t n) {
    switch (a.kind) { /* loops the compiler can vectorise for the common cases */
    case MX_ACT_RELU:
        for (int64_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
        return;
    case MX_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
        return;
    case MX_ACT_TANH:
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        return;
    case MX_ACT_LINEAR:
        if (dx != dy) memmove(dx, dy, sizeof(float) * (size_t)n);
        return;
    default:
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * dact1(a, x[i], y[i]);
    }
}

void mx_act_forward(mx_act a, const float *x, float *y, int64_t rows, int64_t cols) {
    act_job j = {a, x, NULL, NULL, y, cols, 0};
    if (a.kind == MX_ACT_SOFTMAX)
        mx_parallel_for(rows, 64, forward_range, &j);
    else
        mx_parallel_for(rows * cols, 1 << 15, forward_range, &j);
}

void mx_act_backward(mx_act a, const float *x, const float *y, const float *dy, float *dx,
                     int64_t rows, int64_t cols, int accumulate) {
    act_job j = {a, x, y, dy, dx, cols, accumulate};
    if (a.kind == MX_ACT_SOFTMAX)
        mx_parallel_for(rows, 64, backward_range, &j);
    else
        mx_parallel_for(rows * cols, 1 << 15, backward_range, &j);
}
