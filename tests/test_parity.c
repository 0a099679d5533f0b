/* test_parity.c: the same small CNN (conv, batchnorm, pool, a Winograd
 * conv, a strided 'same' conv, dense, dropout off) with the same weights and inputs in mlexp and
 * in PyTorch (tests/parity/torch_reference.py): logits, loss, every
 * gradient, the moving statistics, and the losses of ten Adam steps. */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *parity_cnn =
    "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}},"
    "{\"class_name\": \"BatchNormalization\", \"config\": {}},"
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"pool_size\": 2}},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 5, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 6, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", \"activation\": \"tanh\"}},"
    "{\"class_name\": \"Flatten\", \"config\": {}},"
    "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.0}},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 8, \"activation\": \"relu\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 5, \"activation\": \"softmax\"}}";

enum { N = 6, H = 12, W = 12, C = 2 };

static mx_tensor *load_ref(const char *dir, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mx_tensor *t = mx_npy_load(path);
    if (!t) mx_test_fail(__FILE__, __LINE__, "reference %s: %s", name, mx_error());
    return t;
}

static void compare(const char *what, const float *ours, const mx_tensor *ref, int64_t n, double atol, double rtol) {
    if (!ref) return;
    CHECK_MSG(mx_tensor_size(ref) == n, "%s: %lld values, reference has %lld", what, (long long)n,
              (long long)mx_tensor_size(ref));
    if (mx_tensor_size(ref) != n) return;
    double worst = 0;
    int64_t wi = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)ours[i] - ref->data[i]) - rtol * fabs(ref->data[i]);
        if (e > worst) worst = e, wi = i;
    }
    CHECK_MSG(worst <= atol, "%s[%lld]: mlexp %.7g, PyTorch %.7g", what, (long long)wi, ours[wi], ref->data[wi]);
}

/* x.npy and y.npy into dir (which holds the saved model), then the
 * PyTorch script tests/parity/<script> on it; 0 when it ran */
static int run_reference(const char *script, const char *dir, const mx_tensor *x, const mx_tensor *y) {
    char path[1200], cmd[3000];
    snprintf(path, sizeof path, "%s/x.npy", dir);
    CHECK(mx_npy_save(path, x) == 0);
    snprintf(path, sizeof path, "%s/y.npy", dir);
    CHECK(mx_npy_save(path, y) == 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/parity/%s' '%s'", mx_test_root(), script, dir);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "the PyTorch reference %s failed (python3-torch is installed by scripts/setup.sh --test)", script);
    return rc;
}

MX_TEST(parity_torch_cnn) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/parity", mx_test_tmpdir());
    mx_model *m = tu_sequential("12, 12, 2", parity_cnn, 21);
    if (!m) return;
    /* non-trivial BatchNormalization weights and statistics */
    tu_fill(tu_param(m, "batch_normalization/gamma")->data, 4, 1, 0.5f, 1.5f);
    tu_fill(tu_param(m, "batch_normalization/beta")->data, 4, 2, -0.5f, 0.5f);
    tu_fill(tu_param(m, "batch_normalization/moving_mean")->data, 4, 3, -0.5f, 0.5f);
    tu_fill(tu_param(m, "batch_normalization/moving_variance")->data, 4, 4, 0.5f, 2);
    for (int i = 0; i < m->n_params; i++)
        if (strstr(m->params[i]->name, "/bias")) tu_fill(m->params[i]->data, m->params[i]->size, 10 + i, -0.2f, 0.2f);
    CHECK_MSG(mx_model_save(m, dir) == 0, "%s", mx_error());
    int64_t xs[4] = {N, H, W, C}, ys[1] = {N};
    mx_tensor *x = mx_tensor_new(4, xs), *y = mx_tensor_new(1, ys);
    tu_fill(x->data, N * H * W * C, 7, -1, 1);
    for (int i = 0; i < N; i++) y->data[i] = (float)(i % 5);
    int rc = run_reference("torch_reference.py", dir, x, y);
    if (rc) goto done;

    /* one forward and backward pass in training mode */
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
    mx_graph_plan(m, N, 1);
    memcpy(m->inputs[0]->data, x->data, sizeof(float) * N * H * W * C);
    memcpy(m->targets, y->data, sizeof(float) * N);
    mx_exec ex = {N, 1, 1, 0};
    mx_graph_forward(m, &ex);
    int64_t correct = 0, total = 0;
    float loss = (float)mx_loss_step(m, N, 1, &correct, &total);
    mx_graph_backward(m, &ex);

    mx_tensor *t = load_ref(dir, "ref_logits.npy");
    compare("logits", m->outputs[0]->producer->z->data, t, N * 5, 1e-5, 1e-4);
    mx_tensor_free(t);
    t = load_ref(dir, "ref_loss.npy");
    compare("loss", &loss, t, 1, 1e-6, 1e-5);
    mx_tensor_free(t);
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        char name[64];
        snprintf(name, sizeof name, p->grad ? "ref_grad_%d.npy" : "ref_moving_%d.npy", i);
        t = load_ref(dir, name);
        compare(p->name, p->grad ? p->grad : p->data, t, p->size, 1e-5, 1e-3);
        mx_tensor_free(t);
    }

    /* ten Adam steps from the saved weights */
    mx_model *fresh = mx_model_load(dir);
    CHECK_MSG(fresh != NULL, "%s", mx_error());
    if (fresh) {
        mx_model_compile(fresh, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
        mx_graph_plan(fresh, N, 1);
        float losses[10];
        for (int s = 0; s < 10; s++) {
            memcpy(fresh->inputs[0]->data, x->data, sizeof(float) * N * H * W * C);
            memcpy(fresh->targets, y->data, sizeof(float) * N);
            losses[s] = (float)mx_train_step(fresh, N, 1, &correct, &total);
        }
        t = load_ref(dir, "ref_adam.npy");
        compare("Adam step losses", losses, t, 10, 1e-5, 1e-4);
        CHECK_MSG(losses[9] < losses[0], "ten Adam steps did not lower the loss");
        mx_tensor_free(t);
        mx_model_free(fresh);
    }
done:
    mx_tensor_free(x);
    mx_tensor_free(y);
    mx_model_free(m);
}

/* Recurrent layers against torch.nn.GRU (Keras's reset_after=True form),
 * LSTM and RNN (tests/parity/torch_rnn.py): logits, loss, every weight's
 * gradient and the input's, after one forward and backward pass. */
static const char *parity_rnn =
    "{\"class_name\": \"GRU\", \"config\": {\"units\": 6, \"return_sequences\": true}},"
    "{\"class_name\": \"LSTM\", \"config\": {\"units\": 5, \"return_sequences\": true}},"
    "{\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 4}},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": \"softmax\"}}";

MX_TEST(parity_torch_rnn) {
    enum { RN = 4, RT = 7, RI = 3 };
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/parity_rnn", mx_test_tmpdir());
    mx_model *m = tu_sequential("7, 3", parity_rnn, 8);
    if (!m) return;
    for (int i = 0; i < m->n_params; i++) /* biases away from 0 (and LSTM's forget bias from 1) */
        if (strstr(m->params[i]->name, "/bias")) tu_fill(m->params[i]->data, m->params[i]->size, 20 + i, -0.5f, 0.5f);
    CHECK_MSG(mx_model_save(m, dir) == 0, "%s", mx_error());
    int64_t xs[3] = {RN, RT, RI}, ys[1] = {RN};
    mx_tensor *x = mx_tensor_new(3, xs), *y = mx_tensor_new(1, ys);
    tu_fill(x->data, RN * RT * RI, 5, -1, 1);
    for (int i = 0; i < RN; i++) y->data[i] = (float)(i % 3);
    int rc = run_reference("torch_rnn.py", dir, x, y);
    if (rc) goto done;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
    m->grad_inputs = 1;
    mx_graph_plan(m, RN, 1);
    memcpy(m->inputs[0]->data, x->data, sizeof(float) * RN * RT * RI);
    memcpy(m->targets, y->data, sizeof(float) * RN);
    mx_exec ex = {RN, 1, 1, 0};
    mx_graph_forward(m, &ex);
    int64_t correct = 0, total = 0;
    float loss = (float)mx_loss_step(m, RN, 1, &correct, &total);
    mx_graph_backward(m, &ex);
    mx_tensor *t = load_ref(dir, "ref_logits.npy");
    compare("logits", m->outputs[0]->producer->z->data, t, RN * 3, 1e-5, 1e-4);
    mx_tensor_free(t);
    t = load_ref(dir, "ref_loss.npy");
    compare("loss", &loss, t, 1, 1e-6, 1e-5);
    mx_tensor_free(t);
    t = load_ref(dir, "ref_grad_x.npy");
    compare("input gradient", m->inputs[0]->grad, t, RN * RT * RI, 1e-5, 1e-3);
    mx_tensor_free(t);
    for (int i = 0; i < m->n_params; i++) {
        char name[64];
        snprintf(name, sizeof name, "ref_grad_%d.npy", i);
        t = load_ref(dir, name);
        compare(m->params[i]->name, m->params[i]->grad, t, m->params[i]->size, 1e-5, 1e-3);
        mx_tensor_free(t);
    }
done:
    mx_tensor_free(x);
    mx_tensor_free(y);
    mx_model_free(m);
}
