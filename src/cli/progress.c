/* progress.c: the live progress bar of `mlexp train`. On a terminal one
 * line is redrawn at most ten times a second; otherwise (logs, CI) a plain
 * line at most every ten seconds, besides the line per epoch. */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void eta(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 360000) {
        snprintf(buf, n, "?");
        return;
    }
    int t = (int)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%dh%02dm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, n, "%dm%02ds", t / 60, t % 60);
    else
        snprintf(buf, n, "%ds", t);
}

static const char *g_unit = "img";
static double g_per_sample = 1;

void cli_progress_unit(const char *unit, double per_sample) {
    g_unit = unit;
    g_per_sample = per_sample;
}

void cli_progress_batch(const mx_fit_progress *p, void *user) {
    (void)user;
    cli_progress_line(p, "loss", "acc");
}

void cli_progress_end(void) {
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr);
}

void cli_progress_line(const mx_fit_progress *p, const char *loss_name, const char *acc_name) {
    static double last = -1;
    static int tty = -1;
    if (tty < 0) tty = isatty(fileno(stderr));
    int done = p->step == p->steps;
    double t = now();
    double rate = p->seconds > 0 ? (double)p->samples * g_per_sample / p->seconds : 0;
    char e[32];
    /* from the pace of this run (a resumed epoch starts at a later step) */
    const int64_t ran = p->step - p->first_step;
    eta(ran > 0 ? p->seconds / (double)ran * (double)(p->steps - p->step) : -1, e, sizeof e);
    if (tty) {
        if (!done && t - last < 0.1) return;
        last = t;
        int width = 24, fill = (int)(width * p->step / p->steps);
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r\033[KEpoch %d/%d [%s] %lld/%lld  %s %.4f  %s %.4f  %.0f %s/s  ETA %s", p->epoch,
                p->epochs, bar, (long long)p->step, (long long)p->steps, loss_name, p->loss, acc_name, p->accuracy, rate, g_unit, e);
        fflush(stderr);
        return;
    }
    if (p->step == 1 && last < 0) last = t;
    if (done || t - last < 10) return;
    last = t;
    fprintf(stderr, "Epoch %d/%d  %lld/%lld  %s %.4f  %s %.4f  %.0f %s/s  ETA %s\n", p->epoch, p->epochs,
            (long long)p->step, (long long)p->steps, loss_name, p->loss, acc_name, p->accuracy, rate, g_unit, e);
}

void cli_progress_epoch(const mx_epoch_stats *s, int epochs, int64_t steps) {
    static int tty = -1;
    if (tty < 0) tty = isatty(fileno(stderr));
    if (tty) fputs("\r\033[K", stderr);
    fprintf(stderr, "Epoch %d/%d  %lld steps  %.1fs  loss %.4f  acc %.4f", s->epoch, epochs, (long long)steps,
            s->seconds, s->loss, s->accuracy);
    if (!isnan(s->val_loss)) fprintf(stderr, "  val_loss %.4f  val_acc %.4f", s->val_loss, s->val_accuracy);
    fprintf(stderr, "  %.0f %s/s\n", s->samples_per_s * g_per_sample, g_unit);
}
