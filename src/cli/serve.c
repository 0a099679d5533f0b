/* serve.c: `mlexp serve`: the web demo's server (src/serve/): bind, load
 * the models, serve until SIGINT/SIGTERM, then let the requests in flight
 * finish and exit 0. */
#define _POSIX_C_SOURCE 200809L
#include "serve/serve.h"

#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY ((size_t)8 << 20)
#define MAX_PIXELS (4096LL * 4096)
#define GRACE_SECONDS 10.0

/* "8388608", "8M", "512K" */
static int parse_bytes(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = !*end ? 1 : !strcmp(end, "K") ? 1ULL << 10 : !strcmp(end, "M") ? 1ULL << 20
                             : !strcmp(end, "G") ? 1ULL << 30 : 0;
    if (errno || end == s || s[0] == '-' || !mul || v == 0 || v > (1ULL << 40) / mul)
        return mx_fail("--max-body must be a size in bytes such as 8388608, 512K or 8M, got '%s'", s);
    *out = (size_t)(v * mul);
    return 0;
}

/* A listening socket on host:port; port 0 picks a free one (*bound gets it). */
static int listen_on(const char *host, int port, int *bound, char *url_host, size_t n) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int e = getaddrinfo(host, ps, &hints, &ai);
    if (e) return mx_fail("--host %s: %s", host, gai_strerror(e));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol), one = 1;
    if (fd < 0) {
        freeaddrinfo(ai);
        return mx_fail("cannot open a socket (%s)", strerror(errno));
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* restart at once after a stop */
    int rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
    int family = ai->ai_family;
    freeaddrinfo(ai);
    if (rc) {
        int err = errno;
        close(fd);
        if (err == EADDRINUSE)
            return mx_fail("port %d on %s is already in use (another mlexp serve? choose one with --port)", port, host);
        if (err == EACCES) return mx_fail("no permission to listen on port %d of %s (ports below 1024 need root)", port, host);
        return mx_fail("cannot listen on %s port %d (%s)", host, port, strerror(err));
    }
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (listen(fd, 128) || getsockname(fd, (struct sockaddr *)&sa, &len)) {
        close(fd);
        return mx_fail("cannot listen on %s port %d (%s)", host, port, strerror(errno));
    }
    *bound = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port : ((struct sockaddr_in *)&sa)->sin_port);
    snprintf(url_host, n, strchr(host, ':') ? "[%s]" : "%s", host); /* an IPv6 address goes in brackets */
    return fd;
}

/* a folder's real path, NULL (no error) when it is missing */
static char *folder(const char *given, const char *def) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s", given ? given : def);
    return realpath(path, NULL);
}

int cmd_serve(int argc, char **argv) {
    const char *host = "127.0.0.1", *port_s = NULL, *models = NULL, *web = NULL, *wasm = NULL, *examples = NULL,
               *body_s = NULL, *threads_s = NULL, *http_s = NULL;
    int log = 0;
    const cli_opt opts[] = {
        {"--host", "ADDR", "address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)", &host, NULL},
        {"--port", "N", "port (default 8080; 0 picks a free one)", &port_s, NULL},
        {"--models", "DIR", "model directories to serve (default: models/ of the repository)", &models, NULL},
        {"--web", "DIR", "the pages (default: web/ of the repository)", &web, NULL},
        {"--wasm", "DIR", "the WebAssembly engine (default: build/wasm/ of the repository)", &wasm, NULL},
        {"--examples", "DIR", "network descriptions for the backprop page, in DIR/explain/ (default: examples/ of the repository)",
         &examples, NULL},
        {"--max-body", "BYTES", "largest request body, e.g. 8M (default 8M)", &body_s, NULL},
        {"--threads", "N", "engine worker threads per prediction (default 1; more for big models)", &threads_s, NULL},
        {"--http-threads", "N", "threads answering requests (default 4)", &http_s, NULL},
        {"--log", NULL, "print a line per request (and libmicrohttpd's messages)", NULL, &log},
        {0},
    };
    const cli_cmd c = {"serve", "[options]",
                       "Serve the web demo: the pages, the WebAssembly engine, the model directories, the\n"
                       "network descriptions of the backprop page and a JSON API to list models, predict\n"
                       "and fetch test examples (docs/web.md).",
                       "Every subdirectory of the models directory holding model.json is a model; one\n"
                       "that fails to load is reported and listed with its error. Ctrl-C or SIGTERM\n"
                       "stops: requests in flight finish, then mlexp exits 0.",
                       opts};
    int p = cli_parse(&c, argc, argv, NULL, 0, 0);
    if (p) return p > 0 ? 0 : 2;
    /* one engine thread: predictions run one at a time (one engine lock), and a
     * single digit gains nothing from workers that spin for the next region
     * while JSON waits to be parsed (2.7x the requests/s of 2 threads on 2 cores) */
    int port = 8080, threads = 1, http_threads = 4;
    srv s = {.max_body = DEFAULT_MAX_BODY, .max_pixels = MAX_PIXELS, .log = log};
    if ((port_s && cli_int(port_s, "--port", 0, 65535, &port)) || (body_s && parse_bytes(body_s, &s.max_body)) ||
        (threads_s && cli_int(threads_s, "--threads", 1, 64, &threads)) ||
        (http_s && cli_int(http_s, "--http-threads", 1, 64, &http_threads)))
        return cli_error("serve", "%s", mx_error()), 2;

    /* signals are taken by sigwait below: every thread (the engine's pool,
     * libmicrohttpd's) inherits this mask and leaves them to it */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
    /* glibc gives each HTTP thread its own heap, and requests freed on one
     * and made on another fragment them: the resident size crept up by
     * ~10 bytes a request under wrk (bench/serve.sh). One heap stays flat;
     * the engine does not allocate per request, so there is no contention. */
    mallopt(M_ARENA_MAX, 1);
#endif

    char def[4][PATH_MAX + 32];
    snprintf(def[0], sizeof def[0], "%s/models", cli_root());
    snprintf(def[1], sizeof def[1], "%s/web", cli_root());
    snprintf(def[2], sizeof def[2], "%s/build/wasm", cli_root());
    snprintf(def[3], sizeof def[3], "%s/examples", cli_root());
    const char *models_dir = models ? models : def[0];
    char url_host[300];
    int bound = 0, fd = listen_on(host, port, &bound, url_host, sizeof url_host); /* a busy port fails first */
    if (fd < 0) return cli_error("serve", "%s", mx_error());
    if (mx_set_threads(threads) || srv_models_load(&s, models_dir)) {
        close(fd);
        srv_models_free(&s);
        return cli_error("serve", "%s", mx_error());
    }
    s.web_root = folder(web, def[1]);
    s.wasm_root = folder(wasm, def[2]);
    s.examples_root = folder(examples, def[3]);
    if (!s.n_models)
        fprintf(stderr, "mlexp serve: no models in %s (train one: mlexp train digits_cnn --out %s/digits_cnn)\n",
                models_dir, models_dir);
    if (!s.web_root) fprintf(stderr, "mlexp serve: no pages: %s is missing\n", web ? web : def[1]);
    if (!s.wasm_root) fprintf(stderr, "mlexp serve: no WebAssembly engine: %s is missing\n", wasm ? wasm : def[2]);

    pthread_mutex_init(&s.engine, NULL);
    int rc = 1;
    srv_daemon *d = srv_start(&s, fd, http_threads);
    if (!d) {
        close(fd);
        cli_error("serve", "%s", mx_error());
        goto done;
    }
    printf("serving http://%s:%d/ (%d model%s from %s", url_host, bound, s.n_models - s.n_broken,
           s.n_models - s.n_broken == 1 ? "" : "s", models_dir);
    if (s.n_broken) printf(", %d broken", s.n_broken);
    printf(")\n");
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    srv_quiesce(d);
    int waiting = atomic_load(&s.in_flight);
    if (waiting) fprintf(stderr, "mlexp serve: finishing %d request%s\n", waiting, waiting == 1 ? "" : "s");
    /* a second signal (or the grace period) ends the wait */
    double t0 = mx_now();
    while (atomic_load(&s.in_flight) > 0 && mx_now() - t0 < GRACE_SECONDS) {
        struct timespec tick = {0, 20 * 1000 * 1000};
        if (sigtimedwait(&sigs, NULL, &tick) > 0) break;
    }
    srv_stop(d);
    printf("mlexp serve: %s: stopped after %ld requests\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
           (long)atomic_load(&s.served));
    rc = 0;
done:
    pthread_mutex_destroy(&s.engine);
    srv_models_free(&s);
    free(s.web_root);
    free(s.wasm_root);
    free(s.examples_root);
    mx_threads_shutdown();
    return rc;
}
