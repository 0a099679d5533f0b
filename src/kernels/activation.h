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
    MX_ACT_COUNT
} mx_act_kind;

typedef struct mx_act {
    mx_act_kind kind;
    float alpha;              /* leaky_relu and ReLU-layer slope, elu alpha */
    float max_value, threshold; /* MX_ACT_RELU_X */
} mx_act;

/* Keras's ReLU(max_value, negative_slope, threshold) as the simplest kind
 * that computes it (relu, relu6, leaky_relu or the general form). */
mx_act mx_act_relu(float max_value, float negative_slope, float threshold);

/* Parse a Keras activation name; -1 if unknown. */
int mx_act_parse(const char *name, mx_act *out);
const char *mx_act_name(mx_act_kind kind);

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
/* dx (=|+=) f'(x) * dy, using x and/or y = f(x) as the function needs
 * (only y when mx_act_output_grad holds; dx may then be dy, in place). */
void mx_act_backward(mx_act a, const float *x, const float *y, const float *dy, float *dx,
                     int64_t rows, int64_t cols, int accumulate);

#endif
