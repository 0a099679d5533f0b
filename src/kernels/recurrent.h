/* recurrent.h: the elementwise work of one time step of the LSTM and GRU
 * cells, fused over each batch row; the matrix products around it are GEMMs
 * that the layer (layers/recurrent.c) does. Gate blocks are in Keras's order:
 * LSTM i, f, c, o (4U wide), GRU z, r, h (3U wide). Rows are split across
 * threads and every value is computed the same way for any split.
 *
 * act is the cell activation (tanh by default), ract the gates' (sigmoid).
 * Gate activations are differentiated from their outputs, so both must
 * satisfy mx_rnn_act_ok; the LSTM's act on the cell state may be anything. */
#ifndef MX_RECURRENT_H
#define MX_RECURRENT_H

#include "kernels/activation.h"

#include <stdint.h>

/* Whether a gate activation's derivative follows from its output. */
int mx_rnn_act_ok(mx_act a);

typedef struct mx_rnn_step {
    mx_act act, ract;
    int64_t rows, units;  /* batch rows, U */
    float *g;             /* (rows, 4U | 3U): gate sums in, activations out; in backward, gradients out */
    const float *hp;      /* (rows, U) h_{t-1} as the step uses it */
    const float *c_prev;  /* LSTM (rows, U) c_{t-1} */
    float *c;             /* LSTM (rows, U) c_t */
    float *h;             /* (rows, U) h_t */
    float *rh;            /* GRU (rows, U): r * hp, or with reset_after hp U_h + b_h (then its gradient) */
    const float *rec;     /* GRU reset_after (rows, 3U): hp U, the recurrent part of the gate sums */
    const float *rbias;   /* GRU reset_after: (3U) recurrent bias, or NULL */
    float *dh;            /* backward (rows, U): gradient into h_t, then scratch */
    float *dc;            /* LSTM backward (rows, U): dc_t in, dc_{t-1} out */
    float *dhp;           /* backward (rows, U): gradient into hp out */
    const float *drh;     /* GRU backward without reset_after (rows, U): gradient of r * hp */
    float *tmp;           /* backward scratch: (rows, 2U) LSTM, (rows, U) GRU */
} mx_rnn_step;

/* i, f, o = ract, c~ = act of the gate sums (in place); c = f c_prev + i c~;
 * h = o act(c). */
void mx_lstm_step_forward(const mx_rnn_step *s);
/* From dh, dc (= dc_t), the activations in g, c and c_prev: g becomes the
 * gradients of the gate sums, dc becomes dc_{t-1}. (The gradient into hp
 * is then g U^T, a GEMM.) */
void mx_lstm_step_backward(const mx_rnn_step *s);

/* GRU, the gates z and r. Without rec: z, r = ract (in place) and rh = r hp.
 * With rec (reset_after): the gate sums get rec + rbias added first, and rh
 * = rec_h + rbias_h. */
void mx_gru_gates_forward(const mx_rnn_step *s);
/* GRU, the rest: h~ = act(g_h) (reset_after: act(g_h + r rh)) in place,
 * h = z hp + (1 - z) h~. */
void mx_gru_step_forward(const mx_rnn_step *s);
/* GRU backward from dh: g_h and g_z become gradients of their sums, dhp =
 * dh z; with reset_after also g_r, and rh becomes the gradient of hp U_h. */
void mx_gru_step_backward(const mx_rnn_step *s);
/* GRU without reset_after, after drh = g_h U_h^T: g_r becomes its gradient
 * and dhp += drh r. */
void mx_gru_reset_backward(const mx_rnn_step *s);

#endif
