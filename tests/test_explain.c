/* test_explain.c: `mlexp explain`'s trace (the JSON of --format json, made
 * by mx_explain) against examples worked out by hand from the textbook
 * formulas; the parameter-count and shape formulas of `mlexp info`; and
 * clear errors for bad network descriptions. */
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *trace_of(const char *desc, int steps) {
    mx_explain_options o = {steps, 6};
    char *s = mx_explain(desc, "test.json", &o);
    if (!s) {
        mx_test_fail(__FILE__, __LINE__, "mx_explain: %s", mx_error());
        return NULL;
    }
    json_error_t e;
    json_t *t = json_loads(s, 0, &e);
    free(s);
    CHECK_MSG(t, "the trace is not JSON: %s", e.text);
    CHECK_MSG(json_is_true(json_object_get(json_object_get(t, "check"), "ok")),
              "the written-out formulas disagree with the engine: %s",
              json_string_value(json_array_get(json_object_get(json_object_get(t, "check"), "notes"), 0)));
    return t;
}

/* the trace of examples/explain/NAME.json */
static json_t *example_trace(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/explain/%s.json", mx_test_root(), name);
    char *desc = mx_read_file(path, NULL, 1 << 20);
    CHECK_MSG(desc, "%s", mx_error());
    json_t *t = desc ? trace_of(desc, 0) : NULL;
    mx_free(desc);
    return t;
}

static json_t *step_of(json_t *t, int i) { return json_array_get(json_object_get(t, "steps"), (size_t)i); }

/* the entry of a list whose `key` is `value` */
static json_t *find(json_t *list, const char *key, const char *value) {
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *s = json_string_value(json_object_get(e, key));
        if (s && !strcmp(s, value)) return e;
    }
    mx_test_fail(__FILE__, __LINE__, "no entry with %s = %s", key, value);
    return NULL;
}

/* the symbol's values in the step's forward pass, its gradient in the
 * backward pass, a weight after the update */
static double fwd(json_t *t, int step, const char *sym, int i) {
    return json_number_value(json_array_get(json_object_get(find(json_object_get(step_of(t, step), "forward"), "symbol", sym), "data"), (size_t)i));
}
static double grad(json_t *t, int step, const char *sym, int i) {
    json_t *bw = json_object_get(step_of(t, step), "backward");
    size_t k;
    json_t *e;
    json_array_foreach(bw, k, e) /* gradients are listed by the symbol of what they are of */
        if (json_object_get(e, "grad_of") && !strcmp(json_string_value(json_object_get(e, "symbol")), sym))
            return json_number_value(json_array_get(json_object_get(e, "data"), (size_t)i));
    mx_test_fail(__FILE__, __LINE__, "no gradient of %s", sym);
    return NAN;
}
static double after(json_t *t, int step, const char *sym, int i) {
    json_t *u = json_object_get(json_object_get(step_of(t, step), "update"), "params");
    return json_number_value(json_array_get(json_object_get(find(u, "symbol", sym), "after"), (size_t)i));
}
static double state(json_t *t, int step, const char *sym, const char *slot, int i) {
    json_t *u = json_object_get(json_object_get(step_of(t, step), "update"), "params");
    return json_number_value(json_array_get(json_object_get(json_object_get(find(u, "symbol", sym), "state_after"), slot), (size_t)i));
}

/* A ReLU network by hand: x = (1, -2)
 *   z_h = x W_h + b_h = (1*1 + (-2)*0.5 + 0.5, 1*(-1) + (-2)*2 + 0) = (0.5, -5)
 *   h = relu(z_h) = (0.5, 0)
 *   y = h W_y + b_y = 0.5*2 + 0*3 - 1 = 0;  L = 1/2 (0 - 1)^2 = 0.5
 * backward:
 *   dL/dy = y - t = -1;  dL/dW_y = h^T dL/dy = (-0.5, 0);  dL/db_y = -1
 *   dL/dh = dL/dy W_y^T = (-2, -3);  relu'(z_h) = (1, 0);  dL/dz_h = (-2, 0)
 *   dL/dW_h = x^T dL/dz_h = [[-2, 0], [4, 0]];  dL/db_h = (-2, 0)
 *   dL/dx = dL/dz_h W_h^T = (-2*1 + 0*(-1), -2*0.5 + 0*2) = (-2, -1)
 * SGD, lr 0.1: W_h = [[1.2, -1], [0.1, 2]], b_h = (0.7, 0), W_y = (2.05, 3), b_y = -0.9 */
MX_TEST(explain_relu_net_by_hand) {
    json_t *t = trace_of("{\"inputs\": [1, -2], \"layers\": ["
                         "{\"type\": \"Dense\", \"name\": \"h\", \"units\": 2, \"activation\": \"relu\", "
                         "\"kernel\": [[1, -1], [0.5, 2]], \"bias\": [0.5, 0]},"
                         "{\"type\": \"Dense\", \"name\": \"y\", \"units\": 1, \"kernel\": [[2], [3]], \"bias\": [-1]}],"
                         "\"loss\": \"half_squared_error\", \"targets\": [1], "
                         "\"optimizer\": {\"class_name\": \"SGD\", \"learning_rate\": 0.1}}", 0);
    if (!t) return;
    CHECK_NEAR(fwd(t, 0, "z_h", 0), 0.5, 1e-6);
    CHECK_NEAR(fwd(t, 0, "z_h", 1), -5, 1e-6);
    CHECK_NEAR(fwd(t, 0, "h", 0), 0.5, 1e-6);
    CHECK_NEAR(fwd(t, 0, "h", 1), 0, 1e-6);
    CHECK_NEAR(fwd(t, 0, "y", 0), 0, 1e-6);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(step_of(t, 0), "loss"), "value")), 0.5, 1e-6);
    CHECK_NEAR(grad(t, 0, "y", 0), -1, 1e-6);
    CHECK_NEAR(grad(t, 0, "W_y", 0), -0.5, 1e-6);
    CHECK_NEAR(grad(t, 0, "W_y", 1), 0, 1e-6);
    CHECK_NEAR(grad(t, 0, "h", 0), -2, 1e-6);
    CHECK_NEAR(grad(t, 0, "h", 1), -3, 1e-6);
    CHECK_NEAR(grad(t, 0, "z_h", 0), -2, 1e-6);
    CHECK_NEAR(grad(t, 0, "z_h", 1), 0, 1e-6);
    const double dwh[4] = {-2, 0, 4, 0}, wh[4] = {1.2, -1, 0.1, 2};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(grad(t, 0, "W_h", i), dwh[i], 1e-6);
        CHECK_NEAR(after(t, 0, "W_h", i), wh[i], 1e-6);
    }
    CHECK_NEAR(grad(t, 0, "x", 0), -2, 1e-6);
    CHECK_NEAR(grad(t, 0, "x", 1), -1, 1e-6);
    CHECK_NEAR(after(t, 0, "b_h", 0), 0.7, 1e-6);
    CHECK_NEAR(after(t, 0, "W_y", 0), 2.05, 1e-6);
    CHECK_NEAR(after(t, 0, "b_y", 0), -0.9, 1e-6);
    /* the chain-rule factor relu'(z_h) is in the trace, and the line shows it */
    json_t *dz = find(json_object_get(step_of(t, 0), "backward"), "grad_of", "h/z");
    CHECK(json_number_value(json_array_get(json_object_get(dz, "factor"), 0)) == 1);
    CHECK(json_number_value(json_array_get(json_object_get(dz, "factor"), 1)) == 0);
    CHECK(strstr(json_string_value(json_array_get(json_object_get(dz, "lines"), 0)),
                 "dL/dz_h[0] = dL/dh[0]*relu'(z_h[0]) = (-2)*1 = -2"));
    json_decref(t);
}

/* The 2-2-1 sigmoid network, by hand (as in M. Mazur's worked example,
 * with the first output only): x = (0.05, 0.1), t = 0.01
 *   z_h = (0.05*0.15 + 0.1*0.2 + 0.35, 0.05*0.25 + 0.1*0.3 + 0.35) = (0.3775, 0.3925)
 *   h = sigmoid(z_h) = (0.593269992, 0.596884378)
 *   z_o = 0.593269992*0.4 + 0.596884378*0.45 + 0.6 = 1.105905967;  o = 0.75136507
 *   L = 1/2 (0.75136507 - 0.01)^2 = 0.274811083
 *   dL/do = 0.74136507;  sigmoid'(z_o) = o (1 - o) = 0.186815602
 *   dL/dz_o = 0.74136507 * 0.186815602 = 0.138498562
 *   dL/dW_o = h^T dL/dz_o = (0.082167041, 0.082667628)
 *   dL/dh = dL/dz_o W_o^T = (0.055399425, 0.062324353)
 *   dL/dz_h = dL/dh * h (1 - h) = (0.055399425 * 0.241300709, 0.062324353 * 0.240613417) = (0.013367915, 0.014996055)
 *   dL/dW_h = x^T dL/dz_h = [[0.000668396, 0.000749803], [0.001336792, 0.001499606]]
 * SGD with lr 0.5: W_o[0] = 0.4 - 0.5 * 0.082167041 = 0.35891648 */
MX_TEST(explain_sigmoid_221_backprop_by_hand) {
    json_t *t = example_trace("sigmoid_221");
    if (!t) return;
    CHECK_NEAR(fwd(t, 0, "z_h", 0), 0.3775, 1e-6);
    CHECK_NEAR(fwd(t, 0, "h", 0), 0.593269992, 1e-6);
    CHECK_NEAR(fwd(t, 0, "h", 1), 0.596884378, 1e-6);
    CHECK_NEAR(fwd(t, 0, "z_o", 0), 1.105905967, 1e-6);
    CHECK_NEAR(fwd(t, 0, "o", 0), 0.75136507, 1e-6);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(step_of(t, 0), "loss"), "value")), 0.274811083, 1e-6);
    CHECK_NEAR(grad(t, 0, "o", 0), 0.74136507, 1e-6);
    CHECK_NEAR(grad(t, 0, "z_o", 0), 0.138498562, 1e-6);
    CHECK_NEAR(grad(t, 0, "W_o", 0), 0.082167041, 1e-6);
    CHECK_NEAR(grad(t, 0, "W_o", 1), 0.082667628, 1e-6);
    CHECK_NEAR(grad(t, 0, "h", 0), 0.055399425, 1e-6);
    CHECK_NEAR(grad(t, 0, "z_h", 0), 0.013367915, 1e-6);
    CHECK_NEAR(grad(t, 0, "z_h", 1), 0.014996055, 1e-6);
    CHECK_NEAR(grad(t, 0, "W_h", 0), 0.000668396, 1e-7);
    CHECK_NEAR(grad(t, 0, "W_h", 1), 0.000749803, 1e-7);
    CHECK_NEAR(grad(t, 0, "W_h", 2), 0.001336792, 1e-7);
    CHECK_NEAR(grad(t, 0, "W_h", 3), 0.001499606, 1e-7);
    CHECK_NEAR(after(t, 0, "W_o", 0), 0.35891648, 1e-6);
    /* the factor sigmoid'(z_o) = o (1 - o) is the one in the line */
    json_t *dz = find(json_object_get(step_of(t, 0), "backward"), "grad_of", "o/z");
    CHECK_NEAR(json_number_value(json_array_get(json_object_get(dz, "factor"), 0)), 0.186815602, 1e-6);
    CHECK(strstr(json_string_value(json_array_get(json_object_get(dz, "factor_lines"), 0)), "o*(1 - o)"));
    json_decref(t);
}

/* One neuron y = w1 x1 + w2 x2 + b with x = (1, 2), w = (0.5, -0.25), b = 0,
 * t = 2 under 1/2 squared error: y = 0, dL/dy = -2, g = (-2, -4), g_b = -2. */
static json_t *neuron(const char *optimizer, int steps) {
    char desc[1024];
    snprintf(desc, sizeof desc,
             "{\"inputs\": [1, 2], \"layers\": [{\"type\": \"Dense\", \"name\": \"y\", \"units\": 1, "
             "\"kernel\": [[0.5], [-0.25]], \"bias\": [0]}], \"loss\": \"half_squared_error\", \"targets\": [2], "
             "\"optimizer\": %s}", optimizer);
    return trace_of(desc, steps);
}

MX_TEST(explain_optimizer_steps_by_hand) {
    /* SGD, lr 0.1: w = (0.5 + 0.2, -0.25 + 0.4) = (0.7, 0.15), b = 0.2 */
    json_t *t = neuron("{\"class_name\": \"SGD\", \"learning_rate\": 0.1}", 1);
    if (t) {
        CHECK_NEAR(after(t, 0, "W_y", 0), 0.7, 1e-6);
        CHECK_NEAR(after(t, 0, "W_y", 1), 0.15, 1e-6);
        CHECK_NEAR(after(t, 0, "b_y", 0), 0.2, 1e-6);
    }
    json_decref(t);
    /* momentum 0.9, Keras form: v1 = -lr g = (0.2, 0.4), w1 = (0.7, 0.15), b1 = 0.2;
     * step 2: y = 0.7 + 0.3 + 0.2 = 1.2, dL/dy = -0.8, g = (-0.8, -1.6), g_b = -0.8;
     * v2 = 0.9 v1 - 0.1 g = (0.26, 0.52), w2 = (0.96, 0.67), b2 = 0.46.
     * The PyTorch form b = mu b + g; w -= lr b gives the same weights with
     * b1 = g = (-2, -4), b2 = 0.9 b1 + g = (-2.6, -5.2). */
    for (int f = 0; f < 2; f++) {
        t = neuron(f ? "{\"class_name\": \"SGD\", \"learning_rate\": 0.1, \"momentum\": 0.9, \"form\": \"pytorch\"}"
                     : "{\"class_name\": \"SGD\", \"learning_rate\": 0.1, \"momentum\": 0.9}", 2);
        if (!t) continue;
        CHECK_NEAR(after(t, 1, "W_y", 0), 0.96, 1e-6);
        CHECK_NEAR(after(t, 1, "W_y", 1), 0.67, 1e-6);
        CHECK_NEAR(after(t, 1, "b_y", 0), 0.46, 1e-6);
        CHECK_NEAR(state(t, 1, "W_y", f ? "b" : "v", 1), f ? -5.2 : 0.52, 1e-5);
        json_decref(t);
    }
    /* Nesterov, Keras form: v1 = (0.2, 0.4), w1 = w + 0.9 v1 - 0.1 g = (0.5 + 0.18 + 0.2, -0.25 + 0.36 + 0.4) = (0.88, 0.51) */
    t = neuron("{\"class_name\": \"SGD\", \"learning_rate\": 0.1, \"momentum\": 0.9, \"nesterov\": true}", 1);
    if (t) {
        CHECK_NEAR(after(t, 0, "W_y", 0), 0.88, 1e-6);
        CHECK_NEAR(after(t, 0, "W_y", 1), 0.51, 1e-6);
    }
    json_decref(t);
    /* Nesterov, textbook (Sutskever): step 1 as plain momentum, w1 = (0.7, 0.15), b1 = 0.2;
     * step 2 takes the gradient at w~ = w1 + 0.9 v1 = (0.88, 0.51), b~ = 0.38:
     * y = 0.88 + 1.02 + 0.38 = 2.28, dL/dy = 0.28, g = (0.28, 0.56), g_b = 0.28;
     * v2 = 0.9 v1 - 0.1 g = (0.152, 0.304), w2 = w1 + v2 = (0.852, 0.454), b2 = 0.2 + 0.152 = 0.352 */
    t = neuron("{\"class_name\": \"SGD\", \"learning_rate\": 0.1, \"momentum\": 0.9, \"nesterov\": true, \"form\": \"textbook\"}", 2);
    if (t) {
        json_t *look = find(json_object_get(step_of(t, 1), "lookahead"), "symbol", "W_y");
        CHECK_NEAR(json_number_value(json_array_get(json_object_get(look, "data"), 0)), 0.88, 1e-6);
        CHECK_NEAR(fwd(t, 1, "y", 0), 2.28, 1e-6);
        CHECK_NEAR(after(t, 1, "W_y", 0), 0.852, 1e-6);
        CHECK_NEAR(after(t, 1, "W_y", 1), 0.454, 1e-6);
        CHECK_NEAR(after(t, 1, "b_y", 0), 0.352, 1e-6);
    }
    json_decref(t);
    /* RMSprop, lr 0.01, rho 0.9, eps 0.1 (large, to tell the forms apart): s = 0.1 g^2 = (0.4, 1.6);
     *   Keras (eps inside the root): w = 0.5 + 0.01*2/sqrt(0.5) = 0.528284, -0.25 + 0.04/sqrt(1.7) = -0.219321
     *   PyTorch (eps outside): w = 0.5 + 0.02/(sqrt(0.4) + 0.1) = 0.527305 */
    t = neuron("{\"class_name\": \"RMSprop\", \"learning_rate\": 0.01, \"epsilon\": 0.1}", 1);
    if (t) {
        CHECK_NEAR(state(t, 0, "W_y", "s", 0), 0.4, 1e-6);
        CHECK_NEAR(after(t, 0, "W_y", 0), 0.528284, 1e-6);
        CHECK_NEAR(after(t, 0, "W_y", 1), -0.219321, 1e-6);
    }
    json_decref(t);
    t = neuron("{\"class_name\": \"RMSprop\", \"learning_rate\": 0.01, \"epsilon\": 0.1, \"form\": \"pytorch\"}", 1);
    if (t) CHECK_NEAR(after(t, 0, "W_y", 0), 0.527305, 1e-6);
    json_decref(t);
    /* Adam, lr 0.1, eps 0.1, t = 1: m = 0.1 g = (-0.2, -0.4), v = 0.001 g^2 = (0.004, 0.016)
     *   Keras: alpha_1 = 0.1 sqrt(0.001) / 0.1 = 0.0316228; w = 0.5 + 0.0316228*0.2/(sqrt(0.004) + 0.1) = 0.538743
     *   Kingma & Ba: m_hat = -2, v_hat = 4; w = 0.5 + 0.1*2/(2 + 0.1) = 0.595238 */
    t = neuron("{\"class_name\": \"Adam\", \"learning_rate\": 0.1, \"epsilon\": 0.1}", 1);
    if (t) {
        CHECK_NEAR(state(t, 0, "W_y", "m", 0), -0.2, 1e-6);
        CHECK_NEAR(state(t, 0, "W_y", "v", 0), 0.004, 1e-6);
        CHECK_NEAR(json_number_value(json_object_get(json_object_get(step_of(t, 0), "update"), "alpha_t")), 0.0316228, 1e-6);
        CHECK_NEAR(after(t, 0, "W_y", 0), 0.538743, 1e-5);
    }
    json_decref(t);
    t = neuron("{\"class_name\": \"Adam\", \"learning_rate\": 0.1, \"epsilon\": 0.1, \"form\": \"textbook\"}", 1);
    if (t) {
        json_t *p = find(json_object_get(json_object_get(step_of(t, 0), "update"), "params"), "symbol", "W_y");
        CHECK_NEAR(json_number_value(json_array_get(json_object_get(json_object_get(p, "derived"), "m_hat"), 0)), -2, 1e-5);
        CHECK_NEAR(json_number_value(json_array_get(json_object_get(json_object_get(p, "derived"), "v_hat"), 0)), 4, 1e-4);
        CHECK_NEAR(after(t, 0, "W_y", 0), 0.595238, 1e-5);
    }
    json_decref(t);
}

/* A 5x5 image, 3x3 kernel, stride 2, padding 'same' (one zero pixel all
 * round: TensorFlow pads (3-1)*2 + 3 - 5 = 2 rows, 1 before and 1 after).
 * Output (oy, ox) reads the padded rows 2 oy .. 2 oy + 2:
 *   c[0,0] = 1*0 + 2*(-2) + 0*0 + 1*(-1) + 0.5 = -4.5   (x[0..1][0..1] under taps [1..2][1..2])
 *   c[1,1] = 1*1 + 2*0 + 3*(-1) + 0*2 + 1*0 + 2*(-2) + 1*1 + 0*0 + 1*(-1) + 0.5 = -5.5
 *   c[1,2] = 3*1 + 1*0 + 2*2 + 2*0 + 1*1 + 0*0 + 0.5 = 8.5   (the right column is padding)
 * all nine: [[-4.5, 0.5, 5.5], [-1.5, -5.5, 8.5], [-6.5, 6.5, 1.5]];
 * 2x2 max pooling, stride 1: [[0.5, 8.5], [6.5, 8.5]];
 * o = 0.5*0.1 + 8.5*(-0.2) + 6.5*0.3 + 8.5*0.05 = 0.725, MSE (0.725 - 1)^2 = 0.075625.
 * Backward: dL/do = 2 (o - t) = -0.55; dL/df = -0.55 W_o = (-0.055, 0.11, -0.165, -0.0275);
 * the pooling sends each to its window's maximum: c[1,2] is the maximum of
 * two windows, dL/dc[1,2] = 0.11 - 0.0275 = 0.0825. */
MX_TEST(explain_strided_padded_convolution_by_hand) {
    json_t *t = example_trace("conv_pool");
    if (!t) return;
    const double c[9] = {-4.5, 0.5, 5.5, -1.5, -5.5, 8.5, -6.5, 6.5, 1.5}, m[4] = {0.5, 8.5, 6.5, 8.5};
    for (int i = 0; i < 9; i++) CHECK_NEAR(fwd(t, 0, "c", i), c[i], 1e-6);
    for (int i = 0; i < 4; i++) CHECK_NEAR(fwd(t, 0, "m", i), m[i], 1e-6);
    CHECK_NEAR(fwd(t, 0, "o", 0), 0.725, 1e-6);
    CHECK_NEAR(grad(t, 0, "c", 5), 0.0825, 1e-6);
    CHECK_NEAR(grad(t, 0, "c", 0), 0, 1e-7);
    json_t *g = find(json_object_get(t, "graph"), "symbol", "c");
    CHECK(strstr(json_string_value(json_object_get(g, "shape_rule")), "ceil(5 / 2) = 3"));
    CHECK(strstr(json_string_value(json_object_get(g, "params_rule")), "(3*3*1 + 1) * 1 = 10"));
    json_t *cl = json_object_get(find(json_object_get(step_of(t, 0), "forward"), "symbol", "c"), "lines");
    CHECK(strstr(json_string_value(json_array_get(cl, 0)), "= 1*0 + 2*(-2) + 0*0 + 1*(-1) + 0.5 = -4.5"));
    json_t *ml = json_object_get(find(json_object_get(step_of(t, 0), "forward"), "symbol", "m"), "lines");
    CHECK(strstr(json_string_value(json_array_get(ml, 1)), "max(0.5, 5.5, -5.5, 8.5) = 8.5"));
    json_decref(t);
}

/* A step unit: its derivative is 0, so no gradient reaches the weights and
 * gradient descent leaves them where they are; the trace says why. */
MX_TEST(explain_heaviside_has_no_gradient) {
    json_t *t = trace_of("{\"inputs\": [[0, 1], [1, 1]], \"layers\": [{\"type\": \"Dense\", \"name\": \"y\", \"units\": 1, "
                         "\"activation\": \"heaviside\", \"kernel\": [[1], [1]], \"bias\": [-1.5]}], "
                         "\"loss\": \"half_squared_error\", \"targets\": [[1], [1]], \"optimizer\": \"sgd\"}", 0);
    if (!t) return;
    CHECK(fwd(t, 0, "y", 0) == 0 && fwd(t, 0, "y", 1) == 1);
    CHECK(grad(t, 0, "W_y", 0) == 0 && grad(t, 0, "W_y", 1) == 0);
    CHECK(after(t, 0, "W_y", 0) == 1 && after(t, 0, "b_y", 0) == -1.5);
    json_t *dz = find(json_object_get(step_of(t, 0), "backward"), "grad_of", "y/z");
    CHECK(strstr(json_string_value(json_object_get(dz, "note")), "no gradient"));
    json_decref(t);
}

/* A branch: s = a + x with a = x I (identity kernel), y = s[0] + s[1].
 * x = (1, 2): a = (1, 2), s = (2, 4), y = 6; t = 0: L = 1/2 * 36 = 18.
 * dL/dy = 6, dL/ds = 6 W_y^T = (6, 6), dL/da = dL/ds = (6, 6);
 * x feeds both a and s: dL/dx = dL/da I^T + dL/ds = (12, 12). */
MX_TEST(explain_branches_sum_their_gradients) {
    json_t *t = trace_of("{\"inputs\": [1, 2], \"layers\": ["
                         "{\"type\": \"Dense\", \"name\": \"a\", \"units\": 2, \"kernel\": [[1, 0], [0, 1]], \"bias\": [0, 0]},"
                         "{\"type\": \"Add\", \"name\": \"s\", \"inputs\": [\"a\", \"x\"]},"
                         "{\"type\": \"Dense\", \"name\": \"y\", \"units\": 1, \"kernel\": [[1], [1]], \"bias\": [0]}],"
                         "\"loss\": \"half_squared_error\", \"targets\": [0]}", 0);
    if (!t) return;
    CHECK_NEAR(fwd(t, 0, "s", 1), 4, 1e-6);
    CHECK_NEAR(fwd(t, 0, "y", 0), 6, 1e-6);
    CHECK_NEAR(grad(t, 0, "a", 0), 6, 1e-6);
    CHECK_NEAR(grad(t, 0, "x", 0), 12, 1e-6);
    CHECK_NEAR(grad(t, 0, "x", 1), 12, 1e-6);
    json_t *dx = find(json_object_get(step_of(t, 0), "backward"), "grad_of", "x");
    CHECK(strstr(json_string_value(json_object_get(dx, "rule")), "dL/da W_a^T + dL/ds"));
    json_decref(t);
}

/* examples/explain/rnn_unrolled.json by hand: one tanh unit, W_h = 0.5,
 * U_h = 0.8, b_h = 0.1, h_0 = 0, x = (1, 0.5, -1); head y_t = 2 h_t; targets
 * (0.5, 0.5, -0.5); L = 1/2 sum_t (y_t - t_t)^2; SGD with lr 0.1.
 * Forward, a_t = x_t W_h + h_(t-1) U_h + b_h, h_t = tanh(a_t):
 *   a_1 = 1*0.5 + 0*0.8 + 0.1 = 0.6;                      h_1 = tanh(0.6) = 0.537049567
 *   a_2 = 0.5*0.5 + 0.537049567*0.8 + 0.1 = 0.779639654;  h_2 = 0.652499828
 *   a_3 = (-1)*0.5 + 0.652499828*0.8 + 0.1 = 0.121999862; h_3 = 0.121398164
 *   y = 2 h = (1.074099134, 1.304999656, 0.242796327)
 *   L = 1/2 (0.574099134^2 + 0.804999656^2 + 0.742796327^2) = 0.764680323
 * Backpropagation through time, dL/dy_t = y_t - t_t, dL/dh[t] = 2 dL/dy_t:
 *   dL/dh_3 = 2*0.742796327 = 1.485592655
 *   dL/da_3 = dL/dh_3 (1 - h_3^2) = 1.485592655*0.985262486 = 1.463698712
 *   dL/dh_2 = 2*0.804999656 + dL/da_3 U_h = 1.609999311 + 1.463698712*0.8 = 2.780958281
 *   dL/da_2 = 2.780958281*(1 - 0.652499828^2) = 2.780958281*0.574243974 = 1.596948537
 *   dL/dh_1 = 2*0.574099134 + 1.596948537*0.8 = 2.425757097
 *   dL/da_1 = 2.425757097*(1 - 0.537049567^2) = 2.425757097*0.711577763 = 1.726114808
 *   dL/dW_h = sum_t x_t dL/da_t = 1.726114808 + 0.5*1.596948537 - 1.463698712 = 1.060890364
 *   dL/dU_h = sum_t h_(t-1) dL/da_t = 0 + 0.537049567*1.596948537 + 0.652499828*1.463698712 = 1.812703678
 *   dL/db_h = sum_t dL/da_t = 4.786762056
 *   dL/dW_y = sum_t h_t dL/dy_t = 0.923755938;  dL/db_y = sum_t dL/dy_t = 2.121895117
 * Update w - 0.1 g: W_h = 0.393910964, U_h = 0.618729632, b_h = -0.378676206,
 *   W_y = 1.907624406, b_y = -0.212189512 */
MX_TEST(explain_rnn_unrolled_by_hand) {
    json_t *t = example_trace("rnn_unrolled");
    if (!t) return;
    const double a[3] = {0.6, 0.779639654, 0.121999862}, h[3] = {0.537049567, 0.652499828, 0.121398164};
    const double dh[3] = {2.425757097, 2.780958281, 1.485592655}, da[3] = {1.726114808, 1.596948537, 1.463698712};
    char sym[16];
    for (int k = 0; k < 3; k++) {
        snprintf(sym, sizeof sym, "a_%d", k + 1);
        CHECK_NEAR(fwd(t, 0, sym, 0), a[k], 1e-6);
        CHECK_NEAR(grad(t, 0, sym, 0), da[k], 1e-5);
        snprintf(sym, sizeof sym, "h_%d", k + 1);
        CHECK_NEAR(fwd(t, 0, sym, 0), h[k], 1e-6);
        CHECK_NEAR(grad(t, 0, sym, 0), dh[k], 1e-5);
        /* the unrolled states are the engine's output, row by row */
        CHECK(fwd(t, 0, sym, 0) == fwd(t, 0, "h", k));
        CHECK_NEAR(fwd(t, 0, "y", k), 2 * h[k], 1e-6);
    }
    CHECK(fwd(t, 0, "h_0", 0) == 0);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(step_of(t, 0), "loss"), "value")), 0.764680323, 1e-6);
    CHECK_NEAR(grad(t, 0, "W_h", 0), 1.060890364, 1e-5);
    CHECK_NEAR(grad(t, 0, "U_h", 0), 1.812703678, 1e-5);
    CHECK_NEAR(grad(t, 0, "b_h", 0), 4.786762056, 1e-5);
    CHECK_NEAR(grad(t, 0, "W_y", 0), 0.923755938, 1e-5);
    CHECK_NEAR(grad(t, 0, "b_y", 0), 2.121895117, 1e-5);
    CHECK_NEAR(after(t, 0, "W_h", 0), 0.393910964, 1e-6);
    CHECK_NEAR(after(t, 0, "U_h", 0), 0.618729632, 1e-6);
    CHECK_NEAR(after(t, 0, "b_h", 0), -0.378676206, 1e-6);
    CHECK_NEAR(after(t, 0, "W_y", 0), 1.907624406, 1e-6);
    CHECK_NEAR(after(t, 0, "b_y", 0), -0.212189512, 1e-6);
    /* the per-step values are named, and the lines are the textbook's */
    json_t *fw = json_object_get(step_of(t, 0), "forward"), *bw = json_object_get(step_of(t, 0), "backward");
    json_t *a2 = find(fw, "name", "h/a[t=2]");
    CHECK(json_integer_value(json_object_get(a2, "t")) == 2);
    CHECK(strstr(json_string_value(json_object_get(a2, "formula")), "a_2 = x_2 W_h + h_1 U_h + b_h"));
    CHECK(strstr(json_string_value(json_array_get(json_object_get(a2, "lines"), 0)), "= 0.5*0.5 + 0.53705*0.8 + 0.1 = 0.77964"));
    CHECK(strstr(json_string_value(json_array_get(json_object_get(find(fw, "name", "h/h[t=1]"), "lines"), 0)),
                 "h_1 = tanh(a_1) = tanh(0.6) = 0.53705"));
    json_t *dh2 = find(bw, "grad_of", "h/h[t=2]");
    CHECK(strstr(json_string_value(json_object_get(dh2, "rule")), "dL/dh_2 = dL/dh[1] + dL/da_3 U_h^T"));
    CHECK(strstr(json_string_value(json_array_get(json_object_get(dh2, "lines"), 0)), "= 1.61 + 1.4637*0.8 = 2.78096"));
    json_t *da1 = find(bw, "grad_of", "h/a[t=1]");
    CHECK(strstr(json_string_value(json_array_get(json_object_get(da1, "factor_lines"), 0)),
                 "tanh'(a_1) = 1 - h_1^2 = 1 - 0.53705^2 = 0.711578"));
    json_t *du = find(bw, "grad_of", "h/recurrent_kernel");
    CHECK(strstr(json_string_value(json_array_get(json_object_get(du, "lines"), 0)),
                 "dL/dU_h = h_0*dL/da_1 + h_1*dL/da_2 + h_2*dL/da_3 = 0*1.72611 + 0.53705*1.59695 + 0.6525*1.4637 = 1.8127"));
    /* backward order: dL/dh_3 before dL/da_3 before dL/dh_2, all before the weights' */
    size_t i3 = 0, i2 = 0, iw = 0, k;
    json_t *e;
    json_array_foreach(bw, k, e) {
        const char *g = json_string_value(json_object_get(e, "grad_of"));
        if (!g) continue;
        if (!strcmp(g, "h/h[t=3]")) i3 = k + 1;
        if (!strcmp(g, "h/h[t=2]")) i2 = k + 1;
        if (!strcmp(g, "h/kernel")) iw = k + 1;
    }
    CHECK(i3 && i2 && iw && i3 < i2 && i2 < iw);
    json_decref(t);
}

/* Two units over three steps of two features, two samples, a given h_0,
 * the last state into a Dense head: the trace's gradients of W_h, U_h, b_h
 * and h_0 against central differences of the trace's own loss. */
static const char *const rnn_fd_desc =
    "{\"inputs\": [[[1, 0], [0.5, -1], [0, 2]], [[0.3, 0.2], [-0.4, 0.1], [1, 1]]], \"layers\": ["
    "{\"type\": \"SimpleRNN\", \"name\": \"h\", \"units\": 2, \"kernel\": [%s], \"recurrent_kernel\": [%s], "
    "\"bias\": [%s], \"h0\": [%s]},"
    "{\"type\": \"Dense\", \"name\": \"y\", \"units\": 1, \"kernel\": [[1.5], [-1]], \"bias\": [0.2]}],"
    "\"loss\": \"half_squared_error\", \"targets\": [[0.3], [-0.2]], \"optimizer\": {\"class_name\": \"SGD\"}}";

static json_t *rnn_fd_trace(const double *v) { /* v: W (4), U (4), b (2), h0 (2) */
    char parts[4][128], desc[2048];
    const int off[5] = {0, 4, 8, 10, 12};
    for (int p = 0; p < 4; p++) {
        size_t n = 0;
        parts[p][0] = 0;
        for (int i = off[p]; i < off[p + 1]; i++)
            n += (size_t)snprintf(parts[p] + n, sizeof parts[p] - n, "%s%.9g", i > off[p] ? ", " : "", v[i]);
    }
    snprintf(desc, sizeof desc, rnn_fd_desc, parts[0], parts[1], parts[2], parts[3]);
    return trace_of(desc, 1);
}

MX_TEST(explain_rnn_gradients_are_finite_differences) {
    double v[12] = {0.5, -0.3, 0.2, 0.4, 0.6, -0.2, 0.1, 0.7, 0.1, -0.1, 0.2, -0.4};
    json_t *t = rnn_fd_trace(v);
    if (!t) return;
    static const char *const syms[4] = {"W_h", "U_h", "b_h", "h_0"};
    const int off[5] = {0, 4, 8, 10, 12};
    const double eps = 1e-3;
    for (int p = 0; p < 4; p++)
        for (int i = off[p]; i < off[p + 1]; i++) {
            /* h_0 is given once for both samples: its gradient is the sum over them */
            double g = grad(t, 0, syms[p], i - off[p]);
            if (p == 3) g += grad(t, 0, syms[p], i - off[p] + 2);
            double keep = v[i], l[2];
            for (int s = 0; s < 2; s++) {
                v[i] = keep + (s ? -eps : eps);
                json_t *u = rnn_fd_trace(v);
                l[s] = u ? json_number_value(json_object_get(json_object_get(step_of(u, 0), "loss"), "value")) : NAN;
                json_decref(u);
            }
            v[i] = keep;
            double num = (l[0] - l[1]) / (2 * eps);
            CHECK_MSG(fabs(num - g) <= 2e-4 + 1e-2 * fabs(g), "dL/d%s[%d]: the trace has %.6g, differences give %.6g",
                      syms[p], i - off[p], g, num);
        }
    json_decref(t);
}

/* Bad descriptions: the message names the file and the field. */
MX_TEST(explain_errors_name_the_field) {
    static const struct {
        const char *desc, *needle;
    } cases[] = {
        {"{\"inputs\": [1, 2], \"layers\": [{\"type\": \"Dense\", \"units\": 3}, {\"type\": \"Dense\", \"units\": 1, "
         "\"kernel\": [1, 2, 3, 4, 5]}], \"loss\": \"mse\", \"targets\": [1]}",
         "test.json: layers[1].kernel: expected 3x1 values, got 5"},
        {"{\"inputs\": [1, 2], \"layers\": [{\"type\": \"Dense\", \"units\": 3, \"kernel\": [[1, 2], [3, 4], [5, 6]]}], "
         "\"loss\": \"mse\", \"targets\": [1, 1, 1]}",
         "layers[0].kernel: expected shape 2x3, got 3x2"},
        {"{\"inputs\": [1], \"layers\": [{\"type\": \"Dense\", \"units\": 1, \"kernal\": 1}], \"loss\": \"mse\", \"targets\": [1]}",
         "layers[0] (Dense): unknown config key 'kernal'"},
        {"{\"inputs\": [1], \"layers\": [{\"type\": \"Dens\", \"units\": 1}], \"loss\": \"mse\", \"targets\": [1]}",
         "layers[0]: unknown layer type 'Dens'"},
        {"{\"inputs\": [1], \"layers\": [{\"type\": \"Dense\", \"units\": 1, \"use_bias\": false, \"bias\": 1}], \"loss\": \"mse\", "
         "\"targets\": [1]}",
         "layers[0].bias: a Dense layer has no weight 'bias' (use_bias is false)"},
        {"{\"inputs\": [1], \"layers\": [{\"type\": \"Dense\", \"units\": 2, \"activation\": \"softmax\"}], "
         "\"loss\": \"sparse_categorical_crossentropy\", \"targets\": [2]}",
         "targets[0]: class index 2 is not one of 0..1"},
        {"{\"inputs\": [1], \"layers\": [{\"type\": \"Dense\", \"units\": 1}], \"loss\": \"hinge\", \"targets\": [1]}",
         "loss: loss 'hinge' is not supported"},
        {"{\"inputs\": [1], \"layers\": [{\"type\": \"Dense\", \"units\": 1}], \"loss\": \"mse\", \"targets\": [1], "
         "\"optimizer\": {\"class_name\": \"SGD\", \"form\": \"classic\"}}",
         "optimizer: optimizer SGD: form must be"},
        {"{\"inputs\": [1, 2, 3], \"input_shape\": [2], \"layers\": [], \"loss\": \"mse\", \"targets\": [1]}",
         "inputs: 3 values are not a whole number of samples of 2"},
        {"{\"inputs\": [1], \"layers\": [{\"type\": \"Dense\", \"units\": 1}], \"loss\": \"mse\", \"targets\": [1], \"stepz\": 2}",
         "unknown key 'stepz'"},
        {"{\"inputs\": [1], \"layers\": [{\"type\": \"Dense\", \"units\": 1, \"inputs\": [\"nowhere\"]}], \"loss\": \"mse\", "
         "\"targets\": [1]}",
         "layers[0].inputs[0]: no earlier layer named 'nowhere'"},
        {"{\"inputs\": [1, 2], \"layers\": [{\"type\": \"LSTM\", \"units\": 1, \"h0\": [0]}], \"loss\": \"mse\", "
         "\"targets\": [1]}",
         "layers[0].h0: an initial state is for SimpleRNN and GRU layers"},
        {"{\"inputs\": [1, 2], \"layers\": [{\"type\": \"SimpleRNN\", \"units\": 2, \"h0\": [0, 1, 2]}], "
         "\"loss\": \"mse\", \"targets\": [1, 1]}",
         "layers[0].h0: expected 1x2 values, got 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_explain_options o = {0, 6};
        char *s = mx_explain(cases[i].desc, "test.json", &o);
        CHECK_MSG(!s, "case %zu: accepted", i);
        free(s);
        CHECK_MSG(strstr(mx_error(), cases[i].needle), "case %zu: '%s' lacks '%s'", i, mx_error(), cases[i].needle);
    }
}

/* Every example shipped in examples/explain runs, and its formulas agree
 * with the engine. */
MX_TEST(explain_examples_run) {
    static const char *const names[] = {"scalar_chain", "sigmoid_221", "relu_softmax", "conv_pool", "sgd_momentum",
                                        "nesterov_keras", "nesterov_textbook", "momentum_pytorch", "rmsprop",
                                        "rmsprop_pytorch", "adam", "adam_textbook", "perceptron", "softmax_temperature",
                                        "rnn_unrolled"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *t = example_trace(names[i]);
        CHECK_MSG(t && json_array_size(json_object_get(t, "steps")) >= 1, "%s: no steps", names[i]);
        json_decref(t);
    }
}

/* ---- mlexp info: parameter counts and output shapes with numbers ---- */

static char *counts_of(mx_model *m) {
    FILE *f = tmpfile();
    if (!f) return NULL;
    mx_model_explain_counts(m, f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    fclose(f);
    return s;
}

MX_TEST(info_count_formulas) {
    mx_model *m = tu_sequential(
        "28, 28, 1",
        "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 6, \"kernel_size\": 5}},"
        "{\"class_name\": \"BatchNormalization\", \"config\": {}},"
        "{\"class_name\": \"PReLU\", \"config\": {\"shared_axes\": [1, 2]}},"
        "{\"class_name\": \"MaxPooling2D\", \"config\": {}},"
        "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 16, \"kernel_size\": 5}},"
        "{\"class_name\": \"DepthwiseConv2D\", \"config\": {\"kernel_size\": 3, \"depth_multiplier\": 2, \"padding\": \"same\", \"strides\": 2}},"
        "{\"class_name\": \"SeparableConv2D\", \"config\": {\"filters\": 8, \"kernel_size\": 1}},"
        "{\"class_name\": \"Flatten\", \"config\": {}},"
        "{\"class_name\": \"Dense\", \"config\": {\"units\": 10}}",
        1);
    if (!m) return;
    char *s = counts_of(m);
    CHECK(s);
    if (s) {
        const char *want[] = {
            "(kh*kw*cin + 1) * filters = (5*5*1 + 1) * 6 = 156",
            "height floor((28 + 2*0 - 5) / 1) + 1 = 24",
            "4 * c = 4 * 6 = 24: gamma and beta trainable (2 * 6 = 12), moving_mean and moving_variance non-trainable (2 * 6 = 12)",
            "alpha has the input's shape 24*24*6 with shared_axes 1, 2 set to 1: 1*1*6 = 6",
            "height floor((24 + 2*0 - 2) / 2) + 1 = 12",
            "(kh*kw*cin + 1) * filters = (5*5*6 + 1) * 16 = 2416",
            "kh*kw*cin*depth_multiplier + cin*depth_multiplier = 3*3*16*2 + 16*2 = 320",
            "height ceil(8 / 2) = 4 ('same': padding max((4 - 1)*2 + 3 - 8, 0) = 1, 0 before, 1 after)",
            "channels = cin*depth_multiplier = 16*2 = 32",
            "kh*kw*cin*depth_multiplier + cin*depth_multiplier*filters + filters = 1*1*32*1 + 32*1*8 + 8 = 296",
            "all values of a sample in one axis: 4*4*8 = 128",
            "(in + 1) * units = (128 + 1) * 10 = 1290",
        };
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECK_MSG(strstr(s, want[i]), "missing: %s\n%s", want[i], s);
    }
    free(s);
    mx_model_free(m);
}

MX_TEST(info_recurrent_count_formulas) {
    mx_model *m = tu_sequential("7, 12",
                                "{\"class_name\": \"LSTM\", \"config\": {\"units\": 8, \"return_sequences\": true}},"
                                "{\"class_name\": \"GRU\", \"config\": {\"units\": 4, \"return_sequences\": true}},"
                                "{\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 3}}",
                                1);
    if (!m) return;
    char *s = counts_of(m);
    CHECK(s);
    if (s) {
        const char *want[] = {
            "4 * (in + units + 1) * units = 4 * (12 + 8 + 1) * 8 = 672",
            "(timesteps, features) = (7, 12) -> (timesteps, units) = (7, 8)",
            "3 * (in + units + 2) * units = 3 * (8 + 4 + 2) * 4 = 168",
            "(in + units + 1) * units = (4 + 3 + 1) * 3 = 24",
            "(timesteps, features) = (7, 4) -> (units) = (3): the last state",
        };
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECK_MSG(strstr(s, want[i]), "missing: %s\n%s", want[i], s);
    }
    free(s);
    mx_model_free(m);
}
