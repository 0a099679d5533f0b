/* activation.h: elementwise activations (and softmax over the last axis),
 * shared by the Activation layer and every layer with an `activation`
 * argument. */
#ifndef MX_ACTIVATION_H
#define MX_ACTIVATION_H

#include <stdint.h>

typedef enum mx_act_kind {
    MX_ACT_LINEAR,
    MX_ACT_RELU,
    MX_ACT_RELU6,
    MX_ACT_LEAKY_RELU,   /* alpha 0.2, as tf.nn.leaky_relu */
    MX_ACT_ELU,          /* alpha 1 */
    MX_ACT_SELU,
    MX_ACT_SIGMOID,
    MX_ACT_HARD_SIGMOID, /* Keras 2 / TF.js: clip(0.2 x + 0.5, 0, 1) */
    MX_ACT_TANH,
    MX_ACT_SOFTMAX,      /* over the last axis */
    MX_ACT_SOFTPLUS,
    MX_ACT_SOFTSIGN,
    MX_ACT_SWISH,        /* x * sigmoid(x), Keras "swish" / "silu" */
    MX_ACT_GELU,         /* exact (erf) form, Keras default approximate=False */
    MX_ACT_EXPONENTIAL,
    MX_ACT_RELU_X,       /* Keras's ReLU layer: x > threshold ? min(x, max_value) : alpha (x - threshold) */
    /* textbook pieces that Keras lacks (names of our own, docs/explain.md) */
    MX_ACT_HEAVISIDE,    /* "heaviside": 1 for x > 0, else 0; derivative 0 (undefined at 0) */
    MX_ACT_COUNT
} mx_act_kind;

typedef struct mx_act {
    mx_act_kind kind;
    float alpha;              /* leaky_relu and ReLU-layer slope, elu alpha */
    float max_value, threshold; /* MX_ACT_RELU_X */
    float temperature;        /* softmax(x / T); mx_act_parse sets 1, 0 is read as 1 */
} mx_act;

/* Keras's ReLU(max_value, negative_slope, threshold) as the simplest kind
 * that computes it (relu, relu6, leaky_relu or the general form). */
mx_act mx_act_relu(float max_value, float negative_slope, float threshold);

/* Parse a Keras activation name ("identity" is also "linear"); -1 if unknown. */
int mx_act_parse(const char *name, mx_act *out);
const char *mx_act_name(mx_act_kind kind);
/* The softmax temperature T (1 unless set). */
float mx_act_temperature(mx_act a);
/* Whether the activation has parameters beyond what its name gives (a
 * leaky_relu slope other than 0.2, a softmax temperature other than 1):
 * configs then write it as {"name": ..., "alpha"/"temperature": ...}. */
int mx_act_has_params(mx_act a);

/* f'(x) follows from y = f(x) alone (ReLU, sigmoid, tanh, ...): the
 * activation may then run in place, without keeping x. */
int mx_act_output_grad(mx_act a);

/* f is non-decreasing (commutes with max): all but swish, gelu, softmax. */
int mx_act_monotonic(mx_act a);

/* y = f(x) over rows x cols (softmax along cols). x and y may alias. */
void mx_act_forward(mx_act a, const float *x, float *y, int64_t rows, int64_t cols);
/* y = f(x) for n values on the calling thread; not softmax. */
void mx_act_eltwise(mx_act a, const float *x, float *y, int64_t n);
/* dx = f'(x) * dy for n values on the calling thread; not softmax. Reads x
 * only where mx_act_output_grad does not hold; dx may be any of the inputs. */
void mx_act_grad_eltwise(mx_act a, const float *x, const float *y, const float *dy, float *dx, int64_t n);
/* d = f'(x) elementwise from x and y = f(x) (not softmax): the factor the
 * backward pass multiplies by, for traces that show it. */
void mx_act_derivative(mx_act a, const float *x, const float *y, float *d, int64_t n);
/* dx (=|+=) f'(x) * dy, using x and/or y = f(x) as the function needs
 * (only y when mx_act_output_grad holds; dx may then be dy, in place). */
void mx_act_backward(mx_act a, const float *x, const float *y, const float *dy, float *dx,
                     int64_t rows, int64_t cols, int accumulate);

#endif
