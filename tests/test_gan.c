/* test_gan.c: GAN training (src/train/gan.c). A tiny DCGAN-shaped pair
 * (Dense, BatchNormalization, LeakyReLU, Reshape, Conv2DTranspose, tanh;
 * Conv2D, LeakyReLU, Dropout, Dense logit) against PyTorch
 * (tests/parity/torch_gan.py): the generated images, every gradient of the
 * first step, both losses of two steps and every weight after them; the discriminator learns from its own
 * loss only; steps do not allocate; bad pairs are refused. */
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *tiny_g =
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 12, \"use_bias\": false}},"
    "{\"class_name\": \"BatchNormalization\", \"config\": {}},"
    "{\"class_name\": \"LeakyReLU\", \"config\": {}},"
    "{\"class_name\": \"Reshape\", \"config\": {\"target_shape\": [2, 2, 3]}},"
    "{\"class_name\": \"Conv2DTranspose\", \"config\": {\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\", \"use_bias\": false}},"
    "{\"class_name\": \"BatchNormalization\", \"config\": {}},"
    "{\"class_name\": \"LeakyReLU\", \"config\": {}},"
    "{\"class_name\": \"Conv2DTranspose\", \"config\": {\"filters\": 1, \"kernel_size\": 5, \"strides\": 2, \"padding\": \"same\", "
    "\"use_bias\": false, \"activation\": \"tanh\"}}";

static const char *tiny_d =
    "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"}},"
    "{\"class_name\": \"LeakyReLU\", \"config\": {}},"
    "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.0}},"
    "{\"class_name\": \"Flatten\", \"config\": {}},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 1}}";

enum { N = 6, Z = 5, S = 4 * 4 * 1 };

static void perturb(mx_model *m, uint64_t seed) {
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        if (strstr(p->name, "/gamma")) tu_fill(p->data, p->size, seed + (uint64_t)i, 0.5f, 1.5f);
        if (strstr(p->name, "/beta") || strstr(p->name, "/bias")) tu_fill(p->data, p->size, seed + (uint64_t)i, -0.3f, 0.3f);
    }
}

static int compile_pair(mx_model *g, mx_model *d) {
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    int rc = mx_gan_compile(g, d, &o, &o);
    CHECK_MSG(rc == 0, "mx_gan_compile: %s", mx_error());
    return rc;
}

static mx_tensor *npy(const char *dir, const char *name, int n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mx_tensor *t = mx_npy_load(path);
    if (!t) mx_test_fail(__FILE__, __LINE__, "reference %s: %s", name, mx_error());
    else if (mx_tensor_size(t) != n) mx_test_fail(__FILE__, __LINE__, "reference %s: %lld values, expected %d", name,
                                                  (long long)mx_tensor_size(t), n);
    return t && mx_tensor_size(t) == n ? t : (mx_tensor_free(t), NULL);
}

static void near_all(const char *what, const float *ours, const float *ref, int64_t n, double tol) {
    int64_t worst = 0;
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
        if (d > e) e = d, worst = i;
    }
    CHECK_MSG(e <= tol, "%s[%lld]: mlexp %.8g, PyTorch %.8g", what, (long long)worst, ours[worst], ref[worst]);
}

/* |ours - ref| <= 1e-6 + 1e-3 |ref|: float32 sums in another order */
static void near_grad(const char *what, const float *ours, const float *ref, int64_t n) {
    int64_t worst = 0;
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - ref[i]) - 1e-3 * fabs(ref[i]);
        if (d > e) e = d, worst = i;
    }
    CHECK_MSG(e <= 1e-6, "%s[%lld]: mlexp %.8g, PyTorch %.8g", what, (long long)worst, ours[worst], ref[worst]);
}

MX_TEST(gan_parity_torch) {
    char dir[1024], gdir[1100], ddir[1100], path[1200], cmd[3000];
    snprintf(dir, sizeof dir, "%s/gan", mx_test_tmpdir());
    snprintf(gdir, sizeof gdir, "%s/generator", dir);
    snprintf(ddir, sizeof ddir, "%s/discriminator", dir);
    mx_model *g = tu_sequential("5", tiny_g, 3), *d = tu_sequential("4, 4, 1", tiny_d, 4);
    if (!g || !d) goto done;
    perturb(g, 30);
    perturb(d, 40);
    CHECK(mx_model_save(g, gdir) == 0 && mx_model_save(d, ddir) == 0);
    int64_t rs[4] = {N, 4, 4, 1}, zs[2] = {N, Z};
    mx_tensor *real = mx_tensor_new(4, rs), *z[2] = {mx_tensor_new(2, zs), mx_tensor_new(2, zs)};
    tu_fill(real->data, N * S, 5, -1, 1);
    for (int s = 0; s < 2; s++) {
        mx_gan_noise(z[s]->data, N * Z, 70 + (uint64_t)s);
        snprintf(path, sizeof path, "%s/noise_%d.npy", dir, s);
        CHECK(mx_npy_save(path, z[s]) == 0);
    }
    snprintf(path, sizeof path, "%s/real.npy", dir);
    CHECK(mx_npy_save(path, real) == 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/parity/torch_gan.py' '%s'", mx_test_root(), dir);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "the PyTorch reference torch_gan.py failed (python3-torch is installed by scripts/setup.sh --test)");
    if (rc == 0 && compile_pair(g, d) == 0) {
        float losses[4];
        for (int s = 0; s < 2; s++) {
            mx_gan_losses l;
            CHECK_MSG(mx_gan_train_batch(g, d, real->data, z[s]->data, N, &l) == 0, "%s", mx_error());
            losses[2 * s] = (float)l.g_loss;
            losses[2 * s + 1] = (float)l.d_loss;
            if (s == 0) { /* the images the first step made, as the discriminator's first rows saw them */
                mx_tensor *t = npy(dir, "ref_fake.npy", N * S);
                if (t) near_all("generated images", d->inputs[0]->data, t->data, N * S, 1e-5);
                mx_tensor_free(t);
                /* the step's gradients stay readable: dL_G/dw in G, dL_D/dw in D */
                mx_model *both[2] = {g, d};
                for (int k = 0; k < 2; k++)
                    for (int i = 0; i < both[k]->n_params; i++) {
                        mx_param *p = both[k]->params[i];
                        if (!p->grad) continue;
                        char name[64], what[300];
                        snprintf(name, sizeof name, "ref_grad_%c_%d.npy", "gd"[k], i);
                        snprintf(what, sizeof what, "gradient of %s", p->name);
                        t = npy(dir, name, (int)p->size);
                        if (t) near_grad(what, p->grad, t->data, p->size);
                        mx_tensor_free(t);
                    }
            }
        }
        mx_tensor *t = npy(dir, "ref_losses.npy", 4);
        if (t) near_all("losses (L_G, L_D per step)", losses, t->data, 4, 1e-5);
        mx_tensor_free(t);
        mx_model *both[2] = {g, d};
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < both[k]->n_params; i++) {
                mx_param *p = both[k]->params[i];
                char name[64];
                snprintf(name, sizeof name, "ref_%c_%d.npy", "gd"[k], i);
                t = npy(dir, name, (int)p->size);
                /* two Adam steps move each weight by about 2e-3 whatever its
                 * gradient's size: 1e-5 tells a wrong gradient's sign or
                 * scale apart */
                if (t) near_all(p->name, p->data, t->data, p->size, 1e-5);
                mx_tensor_free(t);
            }
        CHECK(g->iterations == 2 && d->iterations == 2);
    }
    mx_tensor_free(real);
    mx_tensor_free(z[0]);
    mx_tensor_free(z[1]);
done:
    mx_model_free(g);
    mx_model_free(d);
}

/* The discriminator's step is the plain training step on its own loss:
 * generated rows labelled 0, real rows 1. With SGD the GAN step's D update
 * (L_D = mean over fakes + mean over reals) equals mx_train_batch's on the
 * 2n rows (one mean over 2n) at twice the rate; nothing of L_G leaks in. */
MX_TEST(gan_discriminator_sees_only_its_loss) {
    mx_model *g = tu_sequential("5", tiny_g, 3), *d = tu_sequential("4, 4, 1", tiny_d, 4);
    mx_model *d2 = tu_sequential("4, 4, 1", tiny_d, 4);
    if (!g || !d || !d2) goto done;
    mx_optimizer_config sgd = mx_optimizer_defaults(MX_OPT_SGD), sgd2 = sgd;
    sgd.learning_rate = 0.05f;
    sgd2.learning_rate = 0.1f;
    CHECK(mx_gan_compile(g, d, &sgd, &sgd) == 0);
    CHECK(mx_model_compile(d2, MX_LOSS_BINARY_CE, 1, &sgd2) == 0);
    float real[N * S], noise[N * Z], x[2 * N * S], y[2 * N];
    tu_fill(real, N * S, 5, -1, 1);
    mx_gan_noise(noise, N * Z, 9);
    CHECK_MSG(mx_gan_train_batch(g, d, real, noise, N, NULL) == 0, "%s", mx_error());
    memcpy(x, g->outputs[0]->data, sizeof(float) * N * S); /* G's images of the step */
    memcpy(x + N * S, real, sizeof real);
    for (int i = 0; i < 2 * N; i++) y[i] = i >= N;
    CHECK_MSG(mx_train_batch(d2, x, y, 2 * N, NULL) == 0, "%s", mx_error());
    for (int i = 0; i < d->n_params; i++)
        CHECK_MSG(tu_maxdiff(d->params[i]->data, d2->params[i]->data, d->params[i]->size) < 1e-6,
                  "%s moved differently from a plain step on the discriminator's loss", d->params[i]->name);
done:
    mx_model_free(g);
    mx_model_free(d);
    mx_model_free(d2);
}

/* Planned once: later steps (of the same or a smaller batch) keep every buffer. */
MX_TEST(gan_steps_keep_their_plan) {
    mx_model *g = tu_sequential("5", tiny_g, 3), *d = tu_sequential("4, 4, 1", tiny_d, 4);
    if (!g || !d || compile_pair(g, d)) goto done;
    float real[N * S], noise[N * Z];
    tu_fill(real, N * S, 5, -1, 1);
    mx_gan_noise(noise, N * Z, 9);
    CHECK(mx_gan_train_batch(g, d, real, noise, N, NULL) == 0);
    float *gm = g->plan_mem, *dm = d->plan_mem;
    mx_gan_losses l = {0};
    for (int s = 0; s < 3; s++) CHECK(mx_gan_train_batch(g, d, real, noise, N - s, &l) == 0);
    CHECK(g->plan_mem == gm && d->plan_mem == dm);
    CHECK(isfinite(l.g_loss) && isfinite(l.d_loss) && l.d_real > 0 && l.d_real < 1 && l.d_fake > 0 && l.d_fake < 1);
done:
    mx_model_free(g);
    mx_model_free(d);
}

MX_TEST(gan_refuses_bad_pairs) {
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    mx_model *g = tu_sequential("5", tiny_g, 3);
    mx_model *wrong_shape = tu_sequential("5, 5, 1", tiny_d, 4);
    mx_model *sigmoid = tu_sequential("4, 4, 1", "{\"class_name\": \"Flatten\", \"config\": {}},"
                                                 "{\"class_name\": \"Dense\", \"config\": {\"units\": 1, \"activation\": \"sigmoid\"}}", 4);
    mx_model *bn = tu_sequential("4, 4, 1", "{\"class_name\": \"Flatten\", \"config\": {}},"
                                            "{\"class_name\": \"BatchNormalization\", \"config\": {}},"
                                            "{\"class_name\": \"Dense\", \"config\": {\"units\": 1}}", 4);
    if (g && wrong_shape && sigmoid && bn) {
        CHECK(mx_gan_compile(g, wrong_shape, &o, &o) != 0 && strstr(mx_error(), "(4, 4, 1)"));
        CHECK(mx_gan_compile(g, sigmoid, &o, &o) != 0 && strstr(mx_error(), "logit"));
        CHECK(mx_gan_compile(g, bn, &o, &o) != 0 && strstr(mx_error(), "BatchNormalization"));
        float x[S], z[Z] = {0};
        CHECK(mx_gan_train_batch(g, bn, x, z, 1, NULL) != 0 && strstr(mx_error(), "mx_gan_compile"));
    }
    mx_model_free(g);
    mx_model_free(wrong_shape);
    mx_model_free(sigmoid);
    mx_model_free(bn);
}

/* The fit loop: 3 steps (8, 8, 4) per epoch, finite losses; two epochs in
 * one run or in two (the second resumed at initial_epoch 1) end on the same
 * weights: shuffling and noise follow (seed, epoch) and the step count. */
static mx_dataset tiny_set(float *xs) {
    mx_dataset ds = {0};
    ds.n = 20;
    ds.rank = 3;
    ds.shape[0] = 4, ds.shape[1] = 4, ds.shape[2] = 1;
    tu_fill(xs, 20 * S, 11, 0, 255);
    ds.x = xs;
    return ds;
}

MX_TEST(gan_fit_runs_and_resumes) {
    float xs[20 * S];
    mx_dataset ds = tiny_set(xs);
    mx_model *g = tu_sequential("5", tiny_g, 3), *d = tu_sequential("4, 4, 1", tiny_d, 4);
    mx_model *g2 = tu_sequential("5", tiny_g, 3), *d2 = tu_sequential("4, 4, 1", tiny_d, 4);
    if (!g || !d || !g2 || !d2 || compile_pair(g, d) || compile_pair(g2, d2)) goto done;
    mx_gan_options o = mx_gan_defaults();
    o.epochs = 2;
    o.batch_size = 8;
    o.scale = 1 / 127.5f;
    o.offset = -1;
    CHECK_MSG(mx_gan_fit(g, d, &ds, &o) == 0, "%s", mx_error());
    CHECK(g->iterations == 6 && d->iterations == 6);
    o.epochs = 1;
    CHECK(mx_gan_fit(g2, d2, &ds, &o) == 0);
    o.epochs = 2;
    o.initial_epoch = 1;
    CHECK(mx_gan_fit(g2, d2, &ds, &o) == 0);
    mx_model *a[2] = {g, d}, *b[2] = {g2, d2};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < a[k]->n_params; i++)
            CHECK_MSG(tu_maxdiff(a[k]->params[i]->data, b[k]->params[i]->data, a[k]->params[i]->size) == 0,
                      "%s differs after a resumed run", a[k]->params[i]->name);
    o.batch_size = 0;
    CHECK(mx_gan_fit(g, d, &ds, &o) != 0);
done:
    mx_model_free(g);
    mx_model_free(d);
    mx_model_free(g2);
    mx_model_free(d2);
}
