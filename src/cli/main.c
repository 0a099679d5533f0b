/* main.c: the mlexp command: option parsing shared by the subcommands,
 * where experiments and data live, and dispatch. */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "mlexp %s: error: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

void cli_usage(const cli_cmd *c, FILE *f) {
    fprintf(f, "usage: mlexp %s %s\n\n%s\n", c->name, c->args, c->summary);
    if (c->details) fprintf(f, "\n%s\n", c->details);
    fprintf(f, "\noptions:\n");
    for (const cli_opt *o = c->opts; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        fprintf(f, "  %-22s %s\n", left, o->help);
    }
    fprintf(f, "  %-22s %s\n", "--help", "show this help");
}

int cli_parse(const cli_cmd *c, int argc, char **argv, const char **pos, int npos, int min_pos) {
    int got = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_usage(c, stdout);
            return 1;
        }
        if (a[0] == '-' && a[1] == '-') {
            const cli_opt *o = c->opts;
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            for (; o && o->name; o++)
                if (strlen(o->name) == len && !strncmp(o->name, a, len)) break;
            if (!o || !o->name) {
                fprintf(stderr, "mlexp %s: error: unknown option %.*s (see mlexp %s --help)\n", c->name, (int)len, a,
                        c->name);
                return -1;
            }
            if (o->flag) {
                if (eq) {
                    fprintf(stderr, "mlexp %s: error: %s takes no value\n", c->name, o->name);
                    return -1;
                }
                *o->flag = 1;
            } else if (eq) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                fprintf(stderr, "mlexp %s: error: %s needs a value (%s)\n", c->name, o->name, o->metavar);
                return -1;
            }
            continue;
        }
        if (got >= npos) {
            fprintf(stderr, "mlexp %s: error: unexpected argument '%s' (see mlexp %s --help)\n", c->name, a, c->name);
            return -1;
        }
        pos[got++] = a;
    }
    if (got < min_pos) {
        fprintf(stderr, "mlexp %s: error: missing argument\nusage: mlexp %s %s\n", c->name, c->name, c->args);
        return -1;
    }
    return 0;
}

int cli_int(const char *s, const char *what, long min, long max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return mx_fail("%s must be an integer from %ld to %ld, got '%s'", what, min, max, s);
    *out = (int)v;
    return 0;
}

int cli_u64(const char *s, const char *what, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return mx_fail("%s must be a non-negative integer, got '%s'", what, s);
    *out = v;
    return 0;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_root(void) {
    static char root[PATH_MAX];
    if (root[0]) return root;
    const char *env = getenv("MLEXP_ROOT");
    if (env && *env) {
        snprintf(root, sizeof root, "%s", env);
        return root;
    }
    /* the binary lives in build/<variant>/ of the repository */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 3; up++) {
            char *s = strrchr(exe, '/');
            if (!s) break;
            *s = 0;
            char probe[PATH_MAX + 16];
            snprintf(probe, sizeof probe, "%s/experiments", exe);
            if (is_dir(probe)) {
                snprintf(root, sizeof root, "%s", exe);
                return root;
            }
        }
    }
    snprintf(root, sizeof root, ".");
    return root;
}

int cli_experiment_path(const char *name, char *out, size_t n) {
    size_t len = strlen(name);
    if (strchr(name, '/') || (len > 5 && !strcmp(name + len - 5, ".json"))) {
        snprintf(out, n, "%s", name);
        return 0;
    }
    snprintf(out, n, "%s/experiments/%s.json", cli_root(), name);
    struct stat st;
    if (stat(out, &st) != 0) return mx_fail("no experiment '%s' (looked for %s; see mlexp train --help)", name, out);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "mlexp %s: interactive machine-learning experiments, trained by a C engine\n\n"
            "usage: mlexp COMMAND [options]\n\n"
            "commands:\n"
            "  train EXPERIMENT   train an experiment (digits_mlp, digits_cnn, fashion_cnn, ...)\n"
            "  eval MODEL_DIR     test accuracy, per-class accuracy and confusion matrix\n"
            "  info MODEL_DIR     Keras-style summary of a model\n"
            "  predict MODEL_DIR  run a model on a .npy array\n"
            "  serve              the web demo and a JSON API on http://127.0.0.1:8080/\n"
            "  explain FILE       every number of a tiny network's training steps, formulas written out\n"
            "  gradcheck MODEL    analytic against finite-difference gradients, per weight tensor\n"
            "  generate MODEL_DIR what a generative model makes (text from a prime, a GAN's image grid)\n\n"
            "Run mlexp COMMAND --help for the options of a command.\n",
            MX_VERSION);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    /* data next to the repository unless the user says otherwise */
    if (!getenv("MLEXP_DATA")) {
        char data[PATH_MAX + 8];
        snprintf(data, sizeof data, "%s/data", cli_root());
        if (is_dir(data)) setenv("MLEXP_DATA", data, 0);
    }
    int rc;
    if (!strcmp(cmd, "train"))
        rc = cmd_train(argc - 2, argv + 2);
    else if (!strcmp(cmd, "eval"))
        rc = cmd_eval(argc - 2, argv + 2);
    else if (!strcmp(cmd, "info"))
        rc = cmd_info(argc - 2, argv + 2);
    else if (!strcmp(cmd, "predict"))
        rc = cmd_predict(argc - 2, argv + 2);
    else if (!strcmp(cmd, "serve"))
        rc = cmd_serve(argc - 2, argv + 2);
    else if (!strcmp(cmd, "explain"))
        rc = cmd_explain(argc - 2, argv + 2);
    else if (!strcmp(cmd, "generate"))
        rc = cli_generate(argc - 2, argv + 2);
    else if (!strcmp(cmd, "gradcheck"))
        rc = cmd_gradcheck(argc - 2, argv + 2);
    else if (!strcmp(cmd, "generate"))
        rc = cli_generate(argc - 2, argv + 2);
    else if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        rc = 0;
    } else if (!strcmp(cmd, "--version")) {
        printf("mlexp %s\n", MX_VERSION);
        rc = 0;
    } else {
        fprintf(stderr, "mlexp: unknown command '%s'\n\n", cmd);
        usage(stderr);
        rc = 2;
    }
    return rc;
}
