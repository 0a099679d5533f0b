/* recurrent.c: fused elementwise steps of the LSTM and GRU cells. Each batch
 * row is one job: its gate block (4U or 3U floats) stays in L1 while the
 * activations (vectorised in activation.c) and the cell update pass over it.
 * Gate derivatives come from the gates' outputs (mx_rnn_act_ok). */
#include "kernels/recurrent.h"

#include "core/core.h"

int mx_rnn_act_ok(mx_act a) { return a.kind == MX_ACT_LINEAR || mx_act_output_grad(a); }

typedef void (*row_fn)(const mx_rnn_step *s, int64_t r);

typedef struct row_job {
    const mx_rnn_step *s;
    row_fn fn;
} row_job;

static void rows_range(void *p, int64_t r0, int64_t r1) {
    const row_job *j = p;
    for (int64_t r = r0; r < r1; r++) j->fn(j->s, r);
}

/* rows split across the pool when there is enough work per thread */
static void for_rows(const mx_rnn_step *s, row_fn fn) {
    row_job j = {s, fn};
    mx_parallel_for(s->rows, MX_MAX(1, 8192 / MX_MAX(s->units, 1)), rows_range, &j);
}

/* ---- LSTM ---- */

static void lstm_forward_row(const mx_rnn_step *s, int64_t r) {
    const int64_t U = s->units;
    float *restrict g = s->g + r * 4 * U; /* i | f | c~ | o */
    const float *restrict cp = s->c_prev + r * U;
    float *restrict c = s->c + r * U, *restrict h = s->h + r * U;
    mx_act_eltwise(s->ract, g, g, 2 * U);
    mx_act_eltwise(s->act, g + 2 * U, g + 2 * U, U);
    mx_act_eltwise(s->ract, g + 3 * U, g + 3 * U, U);
    const float *restrict i = g, *restrict f = g + U, *restrict cc = g + 2 * U, *restrict o = g + 3 * U;
    for (int64_t k = 0; k < U; k++) c[k] = f[k] * cp[k] + i[k] * cc[k];
    mx_act_eltwise(s->act, c, h, U);
    for (int64_t k = 0; k < U; k++) h[k] *= o[k];
}

void mx_lstm_step_forward(const mx_rnn_step *s) { for_rows(s, lstm_forward_row); }

/* With a = act(c): do = dh a; dc_t += dh o act'(c); di = dc_t c~,
 * df = dc_t c_prev, dc~ = dc_t i, dc_{t-1} = dc_t f; each then times its
 * gate activation's derivative. */
static void lstm_backward_row(const mx_rnn_step *s, int64_t r) {
    const int64_t U = s->units;
    float *restrict g = s->g + r * 4 * U;
    const float *restrict cp = s->c_prev + r * U, *restrict c = s->c + r * U;
    float *restrict dh = s->dh + r * U, *restrict dc = s->dc + r * U;
    float *restrict a = s->tmp + r * 2 * U, *restrict t = a + U;
    float *i = g, *f = g + U, *cc = g + 2 * U, *o = g + 3 * U;
    mx_act_eltwise(s->act, c, a, U);
    for (int64_t k = 0; k < U; k++) t[k] = dh[k] * o[k];
    mx_act_grad_eltwise(s->act, c, a, t, t, U); /* dh o act'(c) */
    for (int64_t k = 0; k < U; k++) a[k] *= dh[k];
    mx_act_grad_eltwise(s->ract, o, o, a, o, U);
    for (int64_t k = 0; k < U; k++) {
        const float dct = dc[k] + t[k];
        a[k] = dct * cc[k];
        t[k] = dct * cp[k];
        dh[k] = dct * i[k];
        dc[k] = dct * f[k];
    }
    mx_act_grad_eltwise(s->ract, i, i, a, i, U);
    mx_act_grad_eltwise(s->ract, f, f, t, f, U);
    mx_act_grad_eltwise(s->act, cc, cc, dh, cc, U);
}

void mx_lstm_step_backward(const mx_rnn_step *s) { for_rows(s, lstm_backward_row); }

/* ---- GRU ---- */

static void gru_gates_row(const mx_rnn_step *s, int64_t r) {
    const int64_t U = s->units;
    float *restrict g = s->g + r * 3 * U, *restrict rh = s->rh + r * U; /* z | r | h */
    if (s->rec) {
        const float *restrict rec = s->rec + r * 3 * U, *restrict b = s->rbias;
        for (int64_t k = 0; k < 2 * U; k++) g[k] += rec[k] + (b ? b[k] : 0.0f);
        for (int64_t k = 0; k < U; k++) rh[k] = rec[2 * U + k] + (b ? b[2 * U + k] : 0.0f);
    }
    mx_act_eltwise(s->ract, g, g, 2 * U);
    if (!s->rec) {
        const float *restrict hp = s->hp + r * U, *restrict rr = g + U;
        for (int64_t k = 0; k < U; k++) rh[k] = rr[k] * hp[k];
    }
}

void mx_gru_gates_forward(const mx_rnn_step *s) { for_rows(s, gru_gates_row); }

static void gru_step_row(const mx_rnn_step *s, int64_t r) {
    const int64_t U = s->units;
    float *restrict g = s->g + r * 3 * U, *restrict h = s->h + r * U;
    const float *restrict hp = s->hp + r * U, *restrict z = g;
    float *restrict hh = g + 2 * U;
    if (s->rec) {
        const float *restrict rr = g + U, *restrict rh = s->rh + r * U;
        for (int64_t k = 0; k < U; k++) hh[k] += rr[k] * rh[k];
    }
    mx_act_eltwise(s->act, hh, hh, U);
    for (int64_t k = 0; k < U; k++) h[k] = z[k] * hp[k] + (1.0f - z[k]) * hh[k];
}

void mx_gru_step_forward(const mx_rnn_step *s) { for_rows(s, gru_step_row); }

/* dz = dh (hp - h~), dh~ = dh (1 - z), dhp = dh z; with reset_after, from
 * the h~ sum's gradient d: dr = d rh (rh = hp U_h + b_h), and the
 * gradient of rh is d r. */
static void gru_backward_row(const mx_rnn_step *s, int64_t r) {
    const int64_t U = s->units;
    float *restrict g = s->g + r * 3 * U, *restrict dh = s->dh + r * U, *restrict dhp = s->dhp + r * U;
    float *restrict t = s->tmp + r * U;
    const float *restrict hp = s->hp + r * U;
    float *z = g, *rr = g + U, *hh = g + 2 * U;
    for (int64_t k = 0; k < U; k++) {
        t[k] = dh[k] * (hp[k] - hh[k]);
        dhp[k] = dh[k] * z[k];
        dh[k] *= 1.0f - z[k];
    }
    mx_act_grad_eltwise(s->ract, z, z, t, z, U);
    mx_act_grad_eltwise(s->act, hh, hh, dh, hh, U);
    if (s->rec) {
        float *restrict rh = s->rh + r * U;
        for (int64_t k = 0; k < U; k++) {
            t[k] = hh[k] * rh[k];
            rh[k] = hh[k] * rr[k];
        }
        mx_act_grad_eltwise(s->ract, rr, rr, t, rr, U);
    }
}

void mx_gru_step_backward(const mx_rnn_step *s) { for_rows(s, gru_backward_row); }

static void gru_reset_row(const mx_rnn_step *s, int64_t r) {
    const int64_t U = s->units;
    float *restrict rr = s->g + r * 3 * U + U, *restrict dhp = s->dhp + r * U, *restrict t = s->tmp + r * U;
    const float *restrict hp = s->hp + r * U, *restrict drh = s->drh + r * U;
    for (int64_t k = 0; k < U; k++) {
        t[k] = drh[k] * hp[k];
        dhp[k] += drh[k] * rr[k];
    }
    mx_act_grad_eltwise(s->ract, rr, rr, t, rr, U);
}

void mx_gru_reset_backward(const mx_rnn_step *s) { for_rows(s, gru_reset_row); }
