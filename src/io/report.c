/* report.c: report.html, the page written after training. One file with
 * inline CSS, SVG charts drawn here and images as PNG data URIs, so it opens
 * offline, from disk, and survives being mailed around. Built in memory and
 * written with mx_write_file (path.tmp + rename): never half a report. */
#include "cli/report.h"

#include "core/core.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASH "\xe2\x80\x93" /* en dash: a value that does not exist */

static const char CSS[] =
    ":root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1b1f24;--muted:#606a76;"
    "--line:#e1e4e9;--soft:#f1f3f5;--c1:#2563eb;--c2:#dd5a12;--best:#15803d;"
    "--good:37 99 235;--bad:220 38 38}\n"
    "@media (prefers-color-scheme:dark){:root{--bg:#0e1014;--card:#161a20;--fg:#e3e6ea;"
    "--muted:#99a2ad;--line:#2a3039;--soft:#1e232b;--c1:#6ea8fe;--c2:#ff9a4d;--best:#4ade80;"
    "--good:59 130 246;--bad:239 68 68}}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--fg);-webkit-text-size-adjust:100%;"
    "font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}\n"
    "main{max-width:1080px;margin:0 auto;padding:28px 16px 40px}\n"
    "header{padding:0 4px 4px}\n"
    ".eyebrow{margin:0;color:var(--muted);font-size:13px;letter-spacing:.05em;text-transform:uppercase}\n"
    ".eyebrow code{text-transform:none;letter-spacing:0;font-size:13px}\n"
    "h1{margin:2px 0 6px;font-size:30px;line-height:1.2;letter-spacing:-.015em}\n"
    ".desc{margin:0;color:var(--muted);max-width:72ch}\n"
    ".stats{display:flex;flex-wrap:wrap;align-items:flex-end;gap:14px 36px;margin:20px 0 18px}\n"
    ".stat b{display:block;font-size:22px;font-weight:600;line-height:1.2;font-variant-numeric:tabular-nums}\n"
    ".stat.main b{font-size:52px;line-height:1;letter-spacing:-.03em;color:var(--c1)}\n"
    ".stat span{color:var(--muted);font-size:13px}\n"
    "code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\",monospace}\n"
    "pre{margin:0;overflow-x:auto}\n"
    "pre.sample{white-space:pre-wrap;overflow-wrap:anywhere;margin-bottom:12px}\n"
    ".cmd{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;"
    "white-space:pre-wrap;overflow-wrap:anywhere}\n"
    ".cmd::before{content:\"$ \";color:var(--muted)}\n"
    "section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin:16px 0}\n"
    "h2{margin:0 0 14px;font-size:17px;font-weight:600}\n"
    "summary{cursor:pointer}summary h2{display:inline-block;margin-bottom:0}details[open] summary h2{margin-bottom:14px}\n"
    ".note{margin:12px 0 0;color:var(--muted);font-size:14px}\n"
    ".pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:0 16px;align-items:start}\n"
    ".pair section{margin:0 0 16px}\n"
    /* charts: SVG text is in viewBox units, so it scales with the chart */
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:20px}\n"
    ".chart{margin:0}\n"
    ".chart figcaption{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:center;font-size:14px;margin-bottom:4px}\n"
    ".chart figcaption b{font-weight:600;margin-right:auto}\n"
    ".key{color:var(--muted)}\n"
    ".key::before{content:\"\";display:inline-block;width:18px;border-top:2px solid;vertical-align:middle;margin-right:6px}\n"
    ".key.s1::before{border-color:var(--c1)}.key.s2::before{border-color:var(--c2)}\n"
    ".key.bk::before{border-top:2px dashed var(--best)}\n"
    ".chart svg{display:block;width:100%;height:auto;overflow:visible}\n"
    ".chart text{font-size:12.5px;fill:var(--muted);font-variant-numeric:tabular-nums}\n"
    ".chart .yt{text-anchor:end}.chart .xt,.chart .al{text-anchor:middle}\n"
    ".grid{stroke:var(--line);stroke-width:1}.ax{stroke:var(--muted);stroke-width:1;fill:none}\n"
    ".s1{stroke:var(--c1)}.s2{stroke:var(--c2)}\n"
    ".s1 path,.s2 path{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}\n"
    ".s1 circle,.s1 rect,.s2 circle,.s2 rect{fill:var(--card);stroke-width:1.8}\n"
    ".bl{stroke:var(--best);stroke-width:1.5;stroke-dasharray:5 4}.chart .bt{fill:var(--best);font-weight:600}\n"
    /* tables */
    ".scroll{overflow-x:auto}\n"
    "table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:14px}\n"
    "th,td{padding:5px 10px;text-align:right;white-space:nowrap}\n"
    "thead th{color:var(--muted);font-weight:500;font-size:13px;border-bottom:1px solid var(--line);vertical-align:bottom}\n"
    ".epochs{width:100%}.epochs tbody tr{border-bottom:1px solid var(--soft)}\n"
    ".epochs tr.best{background:rgb(var(--good)/.08);font-weight:600}\n"
    ".tag{display:inline-block;margin-left:6px;padding:0 6px;border-radius:9px;font-size:11px;font-weight:600;"
    "background:var(--best);color:var(--card)}\n"
    ".cm th{font-weight:500}.cm tbody th{text-align:left;color:var(--muted)}\n"
    ".cm td{min-width:44px;padding:5px 8px;border:2px solid var(--card)}\n"
    ".cm.vert thead th:not(:first-child){writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;padding:8px 4px}\n"
    ".cm td.d{background:rgb(var(--good)/var(--a))}.cm td.o{background:rgb(var(--bad)/var(--a))}\n"
    ".cm td.hi{color:#fff}.cm td.z{color:var(--muted);opacity:.45}\n"
    ".cm .sum{color:var(--muted);border-left:1px solid var(--line)}\n"
    ".cm tr.prec th,.cm tr.prec td{color:var(--muted);border-top:1px solid var(--line)}\n"
    ".cm td.all{color:var(--fg);font-weight:600}\n"
    ".kv{width:100%}.kv th{width:1%;text-align:left;color:var(--muted);font-weight:500;padding-left:0;padding-right:24px}\n"
    ".kv td{text-align:left;white-space:normal;overflow-wrap:anywhere}\n"
    ".kv tr+tr th,.kv tr+tr td{border-top:1px solid var(--soft)}\n"
    /* misclassified examples, scaled up without smoothing */
    ".examples{display:grid;grid-template-columns:repeat(auto-fill,minmax(104px,1fr));gap:14px}\n"
    ".examples figure{margin:0}\n"
    ".examples.grids{grid-template-columns:repeat(auto-fill,minmax(220px,1fr))}\n"
    ".examples img{display:block;width:100%;height:auto;border-radius:6px;image-rendering:pixelated}\n"
    ".examples figcaption{font-size:12.5px;line-height:1.35;margin-top:5px;overflow-wrap:anywhere}\n"
    ".examples .p{color:rgb(var(--bad))}.examples .c{color:var(--muted)}\n"
    "footer{color:var(--muted);font-size:13px;text-align:center;margin-top:24px}\n"
    "@media (max-width:600px){main{padding:18px 10px 28px}section{padding:14px 12px;border-radius:10px}"
    "h1{font-size:24px}.stat.main b{font-size:42px}.stats{gap:12px 24px}th,td{padding:4px 7px}.chart text{font-size:16px}"
    ".examples{grid-template-columns:repeat(auto-fill,minmax(84px,1fr));gap:10px}}\n";

/* ---- text ---------------------------------------------------------------- */

/* Every string from the struct goes through here: the page shows names and
 * commands, it never interprets them. */
static void esc_n(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(s[i], f);
        }
    }
}

static void esc(FILE *f, const char *s) { esc_n(f, s, strlen(s)); }

static void class_name(FILE *f, const mx_report *r, int k) {
    if (k >= 0 && k < r->n_classes && r->class_names && r->class_names[k])
        esc(f, r->class_names[k]);
    else
        fprintf(f, "%d", k);
}

/* fmt prints one double; NaN and inf (no validation data, nothing measured)
 * show as a dash. */
static void num(FILE *f, const char *fmt, double v) {
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs(DASH, f);
}

static void pct(FILE *f, double v, int decimals) {
    if (isfinite(v))
        fprintf(f, "%.*f%%", decimals, 100 * v);
    else
        fputs(DASH, f);
}

static void duration(FILE *f, double s) {
    if (!isfinite(s) || s < 0)
        fputs(DASH, f);
    else if (s < 60)
        fprintf(f, "%.1f s", s);
    else if (s < 3600)
        fprintf(f, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
    else
        fprintf(f, "%d h %02d min", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* "key: value" lines as table rows; a line without a colon spans both. */
static void kv_rows(FILE *f, const char *text) {
    while (*text) {
        size_t n = strcspn(text, "\n");
        const char *colon = memchr(text, ':', n);
        if (colon) {
            const char *v = colon + 1, *end = text + n;
            while (v < end && *v == ' ') v++;
            fputs("<tr><th>", f);
            esc_n(f, text, (size_t)(colon - text));
            fputs("</th><td>", f);
            esc_n(f, v, (size_t)(end - v));
            fputs("</td></tr>\n", f);
        } else if (n) {
            fputs("<tr><td colspan=\"2\">", f);
            esc_n(f, text, n);
            fputs("</td></tr>\n", f);
        }
        text += n + (text[n] == '\n');
    }
}

/* ---- charts -------------------------------------------------------------- */

/* SVG geometry in viewBox units: the plot area and the margins for ticks. */
enum { CW = 480, CH = 280, ML = 62, MR = 14, MT = 14, MB = 44, PW = CW - ML - MR, PH = CH - MT - MB };

typedef struct scale {
    double lo, hi, step;
} scale;

/* Round outwards to a 1-2-5 step giving about `target` intervals. An empty
 * range (one epoch, a flat curve) is widened so it still has a middle. */
static scale nice_scale(double lo, double hi, int target) {
    if (hi - lo <= 1e-12 * fmax(1, fabs(hi))) {
        double pad = lo != 0 ? fabs(lo) * 0.05 : 0.5;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / target, mag = pow(10, floor(log10(raw))), m = raw / mag;
    double step = (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * mag;
    return (scale){floor(lo / step) * step, ceil(hi / step) * step, step};
}

static int decimals(double step) { return step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9); }

typedef struct series {
    const char *label, *cls; /* legend text; CSS class giving colour */
    size_t off;              /* offsetof the value in mx_epoch_stats */
} series;

static double value_at(const mx_epoch_stats *e, size_t off) { return *(const double *)((const char *)e + off); }

typedef struct plot {
    scale x, y;
    double mul; /* 100 for percentages */
} plot;

static double px(const plot *p, double x) { return ML + (x - p->x.lo) / (p->x.hi - p->x.lo) * PW; }
static double py(const plot *p, double y) { return MT + (p->y.hi - y) / (p->y.hi - p->y.lo) * PH; }

/* A line broken at missing values, a marker per epoch (circles for the first
 * series, squares for the second, so they differ without colour) and the
 * value as the marker's tooltip. Markers are left out when they would merge. */
static void draw_series(FILE *f, const mx_history *h, const plot *p, const series *s, int square) {
    fprintf(f, "<g class=\"%s\"><path d=\"", s->cls);
    int pen = 0;
    for (int i = 0; i < h->n; i++) {
        double v = value_at(&h->epochs[i], s->off);
        if (!isfinite(v)) {
            pen = 0;
            continue;
        }
        fprintf(f, "%c%.1f %.1f", pen ? 'L' : 'M', px(p, h->epochs[i].epoch), py(p, v));
        pen = 1;
    }
    fputs("\"/>\n", f);
    double r = h->n <= 30 ? 3.5 : h->n <= 80 ? 2.5 : 0;
    for (int i = 0; i < h->n && r > 0; i++) {
        const mx_epoch_stats *e = &h->epochs[i];
        double v = value_at(e, s->off);
        if (!isfinite(v)) continue;
        double x = px(p, e->epoch), y = py(p, v);
        if (square)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">", x - r, y - r, 2 * r, 2 * r);
        else
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\">", x, y, r);
        fprintf(f, "<title>epoch %d, %s: ", e->epoch, s->label);
        fprintf(f, p->mul == 100 ? "%.2f%%" : "%.4f", v * p->mul);
        fputs(square ? "</title></rect>\n" : "</title></circle>\n", f);
    }
    fputs("</g>\n", f);
}

/* One chart: train and validation values of one metric per epoch. */
static void chart(FILE *f, const mx_history *h, const char *title, const series s[2], int percent) {
    int has[2] = {0, 0};
    double lo = INFINITY, hi = -INFINITY, xlo = INFINITY, xhi = -INFINITY;
    for (int i = 0; i < h->n; i++) {
        xlo = fmin(xlo, h->epochs[i].epoch);
        xhi = fmax(xhi, h->epochs[i].epoch);
        for (int k = 0; k < 2; k++) {
            double v = value_at(&h->epochs[i], s[k].off);
            if (!isfinite(v)) continue;
            has[k] = 1;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    }
    int best = h->best_epoch > 0 && h->best_epoch >= xlo && h->best_epoch <= xhi;
    fprintf(f, "<figure class=\"chart\"><figcaption><b>%s</b>", title);
    for (int k = 0; k < 2; k++)
        if (has[k]) fprintf(f, "<span class=\"key %s\">%s</span>", s[k].cls, s[k].label);
    if (best) fputs("<span class=\"key bk\">best epoch</span>", f);
    fputs("</figcaption>\n", f);
    if (!has[0] && !has[1]) {
        fputs("<p class=\"note\">No values were recorded.</p></figure>\n", f);
        return;
    }
    plot p = {.y = nice_scale(lo, hi, 5), .mul = percent ? 100 : 1};
    if (percent && lo >= 0 && p.y.lo < 0) p.y.lo = 0;
    if (percent && hi <= 1 && p.y.hi > 1) p.y.hi = 1;
    /* epochs are whole numbers: ticks at whole multiples of a 1-2-5 step; a
     * single epoch sits in the middle */
    if (xhi - xlo < 1) xlo -= 0.5, xhi += 0.5;
    p.x = (scale){xlo, xhi, fmax(1, round(nice_scale(xlo, xhi, 8).step))};

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s per epoch\">\n",
            CW, CH, title);
    int ny = (int)lround((p.y.hi - p.y.lo) / p.y.step), dec = decimals(p.y.step * p.mul);
    for (int i = 0; i <= ny && ny <= 100; i++) {
        double v = p.y.lo + i * p.y.step, y = py(&p, v);
        if (fabs(v) < p.y.step * 1e-6) v = 0; /* no "-0.00" */
        fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, ML + PW, y, y);
        fprintf(f, "<text class=\"yt\" x=\"%d\" y=\"%.1f\">%.*f%s</text>\n", ML - 8, y + 4, dec, v * p.mul,
                percent ? "%" : "");
    }
    for (double e = ceil(p.x.lo / p.x.step) * p.x.step; e <= p.x.hi + 1e-9; e += p.x.step) {
        double x = px(&p, e);
        fprintf(f, "<line class=\"ax\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>", x, x, MT + PH, MT + PH + 5);
        fprintf(f, "<text class=\"xt\" x=\"%.1f\" y=\"%d\">%.0f</text>\n", x, MT + PH + 19, e);
    }
    fprintf(f, "<path class=\"ax\" d=\"M%d %dV%dH%d\"/>\n", ML, MT, MT + PH, ML + PW);
    fprintf(f, "<text class=\"al\" x=\"%d\" y=\"%d\">epoch</text>\n", ML + PW / 2, CH - 4);
    fprintf(f, "<text class=\"al\" transform=\"translate(14 %d) rotate(-90)\">%s%s</text>\n", MT + PH / 2, title,
            percent ? " (%)" : "");
    if (best) {
        double x = px(&p, h->best_epoch);
        fprintf(f, "<line class=\"bl\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>\n", x, x, MT, MT + PH);
    }
    for (int k = 0; k < 2; k++)
        if (has[k]) draw_series(f, h, &p, &s[k], k);
    fputs("</svg></figure>\n", f);
}

static void curves(FILE *f, const mx_history *h, int per_char) {
    static const series loss[2] = {{"train", "s1", offsetof(mx_epoch_stats, loss)},
                                   {"validation", "s2", offsetof(mx_epoch_stats, val_loss)}};
    static const series acc[2] = {{"train", "s1", offsetof(mx_epoch_stats, accuracy)},
                                  {"validation", "s2", offsetof(mx_epoch_stats, val_accuracy)}};
    fputs("<section><h2>Training curves</h2><div class=\"charts\">\n", f);
    chart(f, h, per_char ? "Cross-entropy per character (nats)" : "Loss", loss, 0);
    chart(f, h, per_char ? "Next character right" : "Accuracy", acc, 1);
    fputs("</div>\n", f);
    const mx_epoch_stats *last = &h->epochs[h->n - 1];
    if (per_char && isfinite(last->val_loss))
        fprintf(f, "<p class=\"note\">Validation cross-entropy after epoch %d: %.4f nats = %.4f bits per character "
                   "(bits = nats / ln 2).</p>\n", last->epoch, last->val_loss, last->val_loss / log(2.0));
    if (h->best_epoch > 0 || h->stopped_early) {
        fputs("<p class=\"note\">", f);
        if (h->stopped_early) fprintf(f, "Training stopped early after epoch %d. ", h->epochs[h->n - 1].epoch);
        if (h->best_epoch > 0) fprintf(f, "The model keeps the weights of epoch %d, the best one.", h->best_epoch);
        fputs("</p>\n", f);
    }
    fputs("</section>\n", f);
}

/* Validation columns only when some epoch was validated; a long run's table
 * starts folded (the curves above show it at a glance). */
static void epoch_table(FILE *f, const mx_history *h, int per_char) {
    int val = 0;
    for (int i = 0; i < h->n; i++) val |= isfinite(h->epochs[i].val_loss) || isfinite(h->epochs[i].val_accuracy);
    fprintf(f, "<section><details%s><summary><h2>Epochs</h2></summary><div class=\"scroll\"><table class=\"epochs\">\n"
               "<thead><tr><th>Epoch</th><th>Loss</th><th>Accuracy</th>%s%s<th>Seconds</th><th>Samples/s</th></tr>"
               "</thead><tbody>\n",
            h->n <= 20 ? " open" : "", val ? "<th>Val loss</th><th>Val accuracy</th>" : "",
            val && per_char ? "<th>Val bits/char</th>" : "");
    for (int i = 0; i < h->n; i++) {
        const mx_epoch_stats *e = &h->epochs[i];
        int best = h->best_epoch > 0 && e->epoch == h->best_epoch;
        fprintf(f, "<tr%s><td>%d%s</td><td>", best ? " class=\"best\"" : "", e->epoch,
                best ? "<span class=\"tag\">best</span>" : "");
        num(f, "%.4f", e->loss);
        fputs("</td><td>", f);
        pct(f, e->accuracy, 2);
        if (val) {
            fputs("</td><td>", f);
            num(f, "%.4f", e->val_loss);
            fputs("</td><td>", f);
            pct(f, e->val_accuracy, 2);
            if (per_char) {
                fputs("</td><td>", f);
                num(f, "%.4f", e->val_loss / log(2.0));
            }
        }
        fputs("</td><td>", f);
        num(f, "%.1f", e->seconds);
        fputs("</td><td>", f);
        num(f, "%.0f", e->samples_per_s);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div></details></section>\n", f);
}

/* ---- confusion matrix ---------------------------------------------------- */

/* Rows are true classes. A cell's colour strength is its share of the row:
 * blue on the diagonal (right), red off it (wrong). */
static void confusion(FILE *f, const mx_report *r) {
    int n = r->n_classes;
    const int64_t *cm = r->confusion;
    /* long names in many columns would widen every column: set them upright */
    int vert = 0;
    for (int j = 0; j < n && r->class_names && n > 4; j++) vert |= r->class_names[j] && strlen(r->class_names[j]) > 4;
    fprintf(f, "<section><h2>Confusion matrix</h2><div class=\"scroll\"><table class=\"cm%s\">\n"
               "<thead><tr><th>true \\ predicted</th>",
            vert ? " vert" : "");
    for (int j = 0; j < n; j++) {
        fputs("<th>", f);
        class_name(f, r, j);
        fputs("</th>", f);
    }
    fputs("<th class=\"sum\">recall</th></tr></thead><tbody>\n", f);
    int64_t total = 0, right = 0;
    for (int i = 0; i < n; i++) {
        int64_t row = 0;
        for (int j = 0; j < n; j++) row += cm[(size_t)i * n + j];
        total += row;
        right += cm[(size_t)i * n + i];
        fputs("<tr><th>", f);
        class_name(f, r, i);
        fputs("</th>", f);
        for (int j = 0; j < n; j++) {
            int64_t c = cm[(size_t)i * n + j];
            double a = row > 0 ? (double)c / (double)row : 0;
            if (c == 0)
                fputs("<td class=\"z\">0</td>", f);
            else
                fprintf(f, "<td class=\"%s%s\" style=\"--a:%.3f\" title=\"%.1f%% of the row\">%lld</td>",
                        i == j ? "d" : "o", a > 0.55 ? " hi" : "", a, 100 * a, (long long)c);
        }
        fputs("<td class=\"sum\">", f);
        pct(f, row > 0 ? (double)cm[(size_t)i * n + i] / (double)row : NAN, 1);
        fputs("</td></tr>\n", f);
    }
    fputs("<tr class=\"prec\"><th>precision</th>", f);
    for (int j = 0; j < n; j++) {
        int64_t col = 0;
        for (int i = 0; i < n; i++) col += cm[(size_t)i * n + j];
        fputs("<td>", f);
        pct(f, col > 0 ? (double)cm[(size_t)j * n + j] / (double)col : NAN, 1);
        fputs("</td>", f);
    }
    fputs("<td class=\"sum all\" title=\"accuracy\">", f);
    pct(f, total > 0 ? (double)right / (double)total : NAN, 1);
    fputs("</td></tr>\n</tbody></table></div>\n"
          "<p class=\"note\">Rows are the true classes, columns the predictions; the colour is the share "
          "of the row. Recall is the accuracy on each true class, precision how often a prediction "
          "of the class is right.</p></section>\n",
          f);
}

/* ---- images -------------------------------------------------------------- */

static void base64(FILE *f, const unsigned char *p, size_t n) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {T[v >> 18 & 63], T[v >> 12 & 63], i + 1 < n ? T[v >> 6 & 63] : '=', i + 2 < n ? T[v & 63] : '='};
        fwrite(q, 1, 4, f);
    }
}

/* An image as a data URI. Pixel values are clamped to 0..255 and rounded
 * (NaN becomes 0); bytes is scratch of h * w * c. */
static int image_uri(FILE *f, const float *image, unsigned char *bytes, const mx_report *r) {
    size_t n = (size_t)r->h * (size_t)r->w * (size_t)r->c;
    for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)(fminf(fmaxf(image[i], 0.f), 255.f) + 0.5f);
    char *png = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&png, &len);
    if (!m) return mx_fail("report: out of memory");
    int rc = mx_png_encode(m, bytes, r->h, r->w, r->c);
    if (fclose(m) != 0 && rc == 0) rc = mx_fail("report: out of memory");
    if (rc == 0) {
        fputs("data:image/png;base64,", f);
        base64(f, (const unsigned char *)png, len);
    }
    free(png);
    return rc;
}

static int examples(FILE *f, const mx_report *r) {
    int64_t n = 0;
    int drawable = r->h > 0 && r->w > 0 && (r->c == 1 || r->c == 3) && mx_mul_ok(r->h, r->w, &n) && mx_mul_ok(n, r->c, &n);
    unsigned char *bytes = drawable ? mx_alloc((size_t)n) : NULL;
    if (drawable && !bytes) return -1;
    char shown[32], all[32];
    fputs("<section><h2>Misclassified test images</h2>\n", f);
    if (r->n_misclassified > r->n_examples)
        fprintf(f, "<p class=\"note\">The first %s of %s.</p>\n", mx_thousands(r->n_examples, shown, sizeof shown),
                mx_thousands(r->n_misclassified, all, sizeof all));
    fputs("<div class=\"examples\">\n", f);
    int rc = 0;
    for (int i = 0; i < r->n_examples && rc == 0; i++) {
        const mx_report_example *e = &r->examples[i];
        fputs("<figure>", f);
        if (bytes && e->image) {
            fprintf(f, "<img width=\"%d\" height=\"%d\" alt=\"\" src=\"", r->w, r->h);
            rc = image_uri(f, e->image, bytes, r);
            fputs("\">", f);
        }
        fputs("<figcaption>", f);
        class_name(f, r, e->true_label);
        fputs(" -&gt; <span class=\"p\">", f);
        class_name(f, r, e->predicted);
        fputs("</span>", f);
        if (isfinite(e->confidence)) fprintf(f, " <span class=\"c\">(%.1f%%)</span>", 100.0 * e->confidence);
        fputs("</figcaption></figure>\n", f);
    }
    fputs("</div>\n<p class=\"note\">Captions read true class -&gt; predicted class (confidence).", f);
    if (!drawable) fprintf(f, " Images of shape %d x %d x %d are not shown.", r->h, r->w, r->c);
    fputs("</p></section>\n", f);
    mx_free(bytes);
    return rc;
}

/* ---- GANs ---------------------------------------------------------------- */

/* The GAN's epochs as a history, for the charts: loss and val_loss are the
 * generator's and discriminator's losses, accuracy and val_accuracy D's mean
 * probability of "real" on real and on generated images. */
static mx_history gan_history(const mx_report *r) {
    mx_history h = {0};
    h.epochs = calloc((size_t)r->n_gan_epochs, sizeof *h.epochs);
    if (!h.epochs) return h;
    for (int i = 0; i < r->n_gan_epochs; i++) {
        const mx_gan_epoch *e = &r->gan_epochs[i];
        h.epochs[h.n++] = (mx_epoch_stats){e->epoch, e->g_loss, e->d_real, e->d_loss, e->d_fake, e->seconds, e->samples_per_s};
    }
    return h;
}

static void gan_header(FILE *f, const mx_report *r) {
    const mx_gan_epoch *last = &r->gan_epochs[r->n_gan_epochs - 1];
    fputs("<div class=\"stats\">\n<div class=\"stat main\"><b>", f);
    num(f, "%.3f", last->g_loss);
    fputs("</b><span>generator loss</span></div>\n<div class=\"stat\"><b>", f);
    num(f, "%.3f", last->d_loss);
    fputs("</b><span>discriminator loss</span></div>\n<div class=\"stat\"><b>", f);
    pct(f, last->d_real, 1);
    fputs("</b><span>D: real taken for real</span></div>\n<div class=\"stat\"><b>", f);
    pct(f, last->d_fake, 1);
    fprintf(f, "</b><span>D: generated taken for real</span></div>\n<div class=\"stat\"><b>%d</b><span>epochs</span></div>\n"
               "</div>\n", r->n_gan_epochs);
}

static int gan_sections(FILE *f, const mx_report *r, const char *report_path) {
    mx_history h = gan_history(r);
    if (!h.epochs) return mx_fail("report: out of memory");
    static const series loss[2] = {{"generator", "s1", offsetof(mx_epoch_stats, loss)},
                                   {"discriminator", "s2", offsetof(mx_epoch_stats, val_loss)}};
    static const series prob[2] = {{"real images", "s1", offsetof(mx_epoch_stats, accuracy)},
                                   {"generated images", "s2", offsetof(mx_epoch_stats, val_accuracy)}};
    fputs("<section><h2>Training curves</h2><div class=\"charts\">\n", f);
    chart(f, &h, "Loss", loss, 0);
    chart(f, &h, "D: taken for real", prob, 1);
    fputs("</div>\n<p class=\"note\">Losses are means over each epoch's steps (binary cross-entropy from logits; the "
          "discriminator's sums its real and generated halves). Training that fails shows here as the "
          "discriminator winning (its loss towards 0, generated images no longer taken for real); a generator "
          "that collapses onto a few images shows in the grids below as the same image again and again.</p></section>\n", f);
    fputs("<section><details open><summary><h2>Epochs</h2></summary><div class=\"scroll\"><table class=\"epochs\">\n"
          "<thead><tr><th>Epoch</th><th>Generator loss</th><th>Discriminator loss</th><th>D(real)</th>"
          "<th>D(generated)</th><th>Seconds</th><th>Samples/s</th></tr></thead><tbody>\n", f);
    for (int i = 0; i < r->n_gan_epochs; i++) {
        const mx_gan_epoch *e = &r->gan_epochs[i];
        fprintf(f, "<tr><td>%d</td><td>", e->epoch);
        num(f, "%.4f", e->g_loss);
        fputs("</td><td>", f);
        num(f, "%.4f", e->d_loss);
        fputs("</td><td>", f);
        pct(f, e->d_real, 1);
        fputs("</td><td>", f);
        pct(f, e->d_fake, 1);
        fputs("</td><td>", f);
        num(f, "%.1f", e->seconds);
        fputs("</td><td>", f);
        num(f, "%.0f", e->samples_per_s);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div></details></section>\n", f);
    free(h.epochs);
    if (!r->grids) return 0;
    /* the grids, embedded (the page stays self-contained) and linked to their files */
    const char *slash = strrchr(report_path, '/');
    int dirlen = slash ? (int)(slash - report_path) : 1;
    const char *dir = slash ? report_path : ".";
    fputs("<section><h2>Samples after each epoch</h2><p class=\"note\" style=\"margin:0 0 12px\">The same noise "
          "every epoch (the generator in inference mode).</p><div class=\"examples grids\">\n", f);
    for (int i = 0; i < r->n_gan_epochs; i++) {
        if (!r->grids[i]) continue;
        char path[4096];
        snprintf(path, sizeof path, "%.*s/%s", dirlen, dir, r->grids[i]);
        size_t len = 0;
        char *png = mx_read_file(path, &len, (size_t)1 << 24);
        if (!png) return mx_fail_context("report: ");
        fputs("<figure><a href=\"", f);
        esc(f, r->grids[i]);
        fputs("\"><img alt=\"samples\" src=\"data:image/png;base64,", f);
        base64(f, (const unsigned char *)png, len);
        fprintf(f, "\"></a><figcaption>epoch %d</figcaption></figure>\n", r->gan_epochs[i].epoch);
        free(png);
    }
    fputs("</div></section>\n", f);
    return 0;
}

/* ---- the page ------------------------------------------------------------ */

static int has_epochs(const mx_history *h) { return h && h->n > 0 && h->epochs; }

static void header(FILE *f, const mx_report *r) {
    fputs("<header>\n<p class=\"eyebrow\">mlexp training report", f);
    if (r->experiment) {
        fputs(" &middot; <code>", f);
        esc(f, r->experiment);
        fputs("</code>", f);
    }
    fputs("</p>\n", f);
    const char *name = r->title ? r->title : r->experiment;
    if (name) {
        fputs("<h1>", f);
        esc(f, name);
        fputs("</h1>\n", f);
    }
    if (r->description) {
        fputs("<p class=\"desc\">", f);
        esc(f, r->description);
        fputs("</p>\n", f);
    }
    if (r->gan_epochs && r->n_gan_epochs > 0) {
        gan_header(f, r);
        goto command;
    }
    fputs("<div class=\"stats\">\n<div class=\"stat main\"><b>", f);
    if (r->per_char) { /* language models: cross-entropy per character leads */
        num(f, "%.4f", r->test_loss);
        fputs("</b><span>validation nats / character</span></div>\n<div class=\"stat\"><b>", f);
        num(f, "%.4f", r->test_loss / log(2.0));
        fputs("</b><span>bits / character</span></div>\n<div class=\"stat\"><b>", f);
    } else if (r->steps > 1) { /* sequences: every step right is what counts */
        pct(f, r->exact_match, 2);
        fputs("</b><span>test exact match</span></div>\n<div class=\"stat\"><b>", f);
    }
    pct(f, r->test_accuracy, 2);
    fputs(r->steps > 1 ? "</b><span>test accuracy per step</span></div>\n<div class=\"stat\"><b>"
                       : "</b><span>test accuracy</span></div>\n<div class=\"stat\"><b>",
          f);
    num(f, "%.4f", r->test_loss);
    char count[32];
    fprintf(f, "</b><span>test loss</span></div>\n<div class=\"stat\"><b>%s</b><span>test samples</span></div>\n",
            mx_thousands(r->n_test, count, sizeof count));
    if (has_epochs(r->history))
        fprintf(f, "<div class=\"stat\"><b>%d</b><span>epochs</span></div>\n", r->history->n);
    fputs("</div>\n", f);
command:
    if (r->command) {
        fputs("<pre class=\"cmd\">", f);
        esc(f, r->command);
        fputs("</pre>\n", f);
    }
    fputs("</header>\n", f);
}

static void text_section(FILE *f, const char *title, const char *text) {
    fprintf(f, "<section><h2>%s</h2><pre>", title);
    esc(f, text);
    fputs("</pre></section>\n", f);
}

/* text sampled from a language model, one block per temperature */
static void generated(FILE *f, const mx_report *r) {
    fputs("<section><h2>Generated text</h2>\n<p class=\"note\">Sampled one character at a time, the LSTM's "
          "states carried from each character to the next", f);
    if (r->sample_prime && r->sample_prime[0]) {
        fputs(", after the prime <code>", f);
        esc(f, r->sample_prime);
        fputs("</code>", f);
    }
    fputs(". Lower temperatures pick likelier characters.</p>\n", f);
    for (int i = 0; i < r->n_samples; i++) {
        fprintf(f, "<h3>Temperature %g</h3><pre class=\"sample\">", (double)r->sample_temperatures[i]);
        if (r->samples[i]) esc(f, r->samples[i]);
        fputs("</pre>\n", f);
    }
    fputs("</section>\n", f);
}

static void settings_and_timings(FILE *f, const mx_report *r) {
    fputs("<div class=\"pair\">\n", f);
    if (r->settings) {
        fputs("<section><h2>Training settings</h2><table class=\"kv\">\n", f);
        kv_rows(f, r->settings);
        fputs("</table></section>\n", f);
    }
    fputs("<section><h2>Timings</h2><table class=\"kv\">\n<tr><th>Training</th><td>", f);
    duration(f, r->train_seconds);
    fputs("</td></tr>\n", f);
    if (!r->gan_epochs) { /* a GAN has no test set */
        fputs("<tr><th>Evaluation</th><td>", f);
        duration(f, r->eval_seconds);
        fputs("</td></tr>\n", f);
    }
    if (has_epochs(r->history)) {
        double s = 0;
        for (int i = 0; i < r->history->n; i++) s += r->history->epochs[i].seconds;
        fputs("<tr><th>Mean epoch</th><td>", f);
        duration(f, s / r->history->n);
        fputs("</td></tr>\n", f);
    }
    if (r->gan_epochs && r->n_gan_epochs > 0) {
        fputs("<tr><th>Mean epoch</th><td>", f);
        duration(f, r->train_seconds / r->n_gan_epochs);
        fputs("</td></tr>\n", f);
    }
    if (r->threads > 0) fprintf(f, "<tr><th>Threads</th><td>%d</td></tr>\n", r->threads);
    fputs("</table></section>\n</div>\n", f);
}

static int page(FILE *f, const mx_report *r, const char *path) {
    fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"color-scheme\" content=\"light dark\">\n<title>",
          f);
    const char *name = r->title ? r->title : r->experiment;
    if (name) {
        esc(f, name);
        fputs(" &middot; ", f);
    }
    fprintf(f, "mlexp report</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", CSS);
    header(f, r);
    const mx_history *h = r->history;
    if (r->gan_epochs && r->n_gan_epochs > 0 && gan_sections(f, r, path)) return -1;
    if (has_epochs(h)) {
        curves(f, h, r->per_char);
        epoch_table(f, h, r->per_char);
    }
    if (r->n_samples > 0) generated(f, r);
    if (r->n_classes > 0 && r->confusion) confusion(f, r);
    if (r->n_examples > 0 && examples(f, r) != 0) return -1;
    if (r->text_mistakes && r->text_mistakes[0]) text_section(f, "Test samples it got wrong (the first ones)", r->text_mistakes);
    if (r->summary) text_section(f, "Model", r->summary);
    settings_and_timings(f, r);
    fputs("</main>\n<footer>Written by mlexp " MX_VERSION ". This page is self-contained: no scripts, no "
          "external resources.</footer>\n</body>\n</html>\n",
          f);
    return 0;
}

int mx_report_write(const char *path, const mx_report *r) {
    if (!path || !r) return mx_fail("report: no path or no report");
    if (r->n_classes < 0 || r->n_examples < 0 || (r->n_examples > 0 && !r->examples))
        return mx_fail("report: %d classes and %d examples make no report", r->n_classes, r->n_examples);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return mx_fail("report: out of memory");
    int rc = page(f, r, path);
    if (ferror(f) && rc == 0) rc = mx_fail("report: out of memory");
    if (fclose(f) != 0 && rc == 0) rc = mx_fail("report: out of memory");
    if (rc == 0) rc = mx_write_file(path, buf, len);
    free(buf);
    return rc;
}
