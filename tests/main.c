/* main.c: the test runner. Each test runs in its own child process so a crash
 * or sanitizer report fails that test only; the last line is the summary
 * "N passed, N failed" that CI reads. Usage: mx_tests [substring...] */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 2048

typedef struct entry {
    const char *name, *file;
    mx_test_fn fn;
} entry;

/* LeakSanitizer's check, present only in sanitizer builds: children end with
 * _exit, which skips the check at exit, so each test runs it itself. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static entry g_tests[MAX_TESTS];
static int g_n;
static int g_failures;
static char g_tmp[512];
static char g_root[512];

void mx_test_register(const char *name, const char *file, mx_test_fn fn) {
    if (g_n < MAX_TESTS) g_tests[g_n++] = (entry){name, file, fn};
}

void mx_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g_failures++;
}

const char *mx_test_tmpdir(void) { return g_tmp; }
const char *mx_test_root(void) { return g_root; }

static int cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

static int selected(const char *name, int argc, char **argv) {
    if (argc <= 1) return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i])) return 1;
    return 0;
}

int main(int argc, char **argv) {
    const char *root = getenv("MX_ROOT");
    snprintf(g_root, sizeof g_root, "%s", root ? root : ".");
    const char *tmpbase = getenv("MX_TEST_TMP");
    qsort(g_tests, (size_t)g_n, sizeof g_tests[0], cmp);
    int passed = 0, failed = 0;
    for (int i = 0; i < g_n; i++) {
        if (!selected(g_tests[i].name, argc, argv)) continue;
        snprintf(g_tmp, sizeof g_tmp, "%s/mx_test_%d_%s", tmpbase ? tmpbase : "/tmp", (int)getpid(),
                 g_tests[i].name);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", g_tmp, g_tmp);
        if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", g_tmp);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(600);
            g_failures = 0;
            g_tests[i].fn();
            if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check()) {
                fprintf(stderr, "    memory leaked (report above)\n");
                g_failures++;
            }
            fflush(stderr);
            _exit(g_failures ? 1 : 0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok) {
            passed++;
            printf("ok   %s\n", g_tests[i].name);
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
            if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_tmp);
        } else {
            failed++;
            if (WIFSIGNALED(status))
                printf("FAIL %s (signal %d)\n", g_tests[i].name, WTERMSIG(status));
            else
                printf("FAIL %s\n", g_tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
