/* serve.h: `mlexp serve`: the HTTP server (http.c: requests, files, safe
 * paths), the JSON API (api.c) and the models it serves (models.c). The
 * contract with the pages is docs/web.md. */
#ifndef MX_SERVE_H
#define MX_SERVE_H

#include "cli/cli.h"

#include <pthread.h>
#include <stdatomic.h>

/* samples per forward pass: memory is planned for it once, at start, so a
 * prediction of any batch size allocates nothing in the engine */
#define SRV_BATCH 64
/* most examples one request may ask for */
#define SRV_MAX_EXAMPLES 100

typedef enum srv_kind { SRV_DRAWING, SRV_IMAGE, SRV_TENSOR } srv_kind;

/* A dataset's test split for /examples: loaded on first use, kept. */
typedef struct srv_dataset {
    char key[4400];       /* name, path and sample shape */
    mx_dataset *d;        /* NULL when it failed to load */
    char *error;          /* why */
    struct srv_dataset *next;
} srv_dataset;

typedef struct srv_model {
    char *name;     /* the subdirectory's name, the NAME of the URLs */
    char *dir;      /* its real path: the root of /models/NAME/ */
    char *error;    /* why it did not load (then only name and dir are set), or NULL */
    mx_model *m;
    json_t *meta, *history; /* metadata.json, history.json, or NULL */
    char *summary;  /* the text of `mlexp info` */
    srv_kind kind;
    int in_rank, out_rank;
    int64_t in_shape[MX_MAX_RANK], out_shape[MX_MAX_RANK]; /* without the batch axis */
    int64_t in_size, out_size;                             /* floats per sample */
    int classifier; /* one vector of at least two class scores */
    cli_prep prep;
} srv_model;

typedef struct srv {
    srv_model *models;
    int n_models, n_broken;
    char *web_root, *wasm_root; /* real paths, NULL when missing */
    char *examples_root;        /* examples/: network descriptions (real path or NULL) */
    size_t max_body;            /* bytes of a request body */
    int64_t max_pixels;         /* of an uploaded image */
    int log;                    /* a line per request on stderr */
    /* The engine has one thread pool and models that are not thread-safe:
     * every call into it (predict, resize, dataset loading) holds this. */
    pthread_mutex_t engine;
    srv_dataset *datasets;      /* guarded by engine */
    atomic_int in_flight;       /* requests begun and not yet answered */
    atomic_int stopping;        /* shutting down: answers close their connection */
    atomic_long served;
} srv;

/* ---- models.c ---- */

/* Every subdirectory of dir holding model.json. A model that fails to load
 * is kept with its error (and reported on stderr); -1 only when dir cannot
 * be read. A missing dir gives no models. */
int srv_models_load(srv *s, const char *dir);
void srv_models_free(srv *s);
srv_model *srv_model_find(srv *s, const char *name, size_t len);
/* y (n, out_size) of x (n, in_size): takes the engine lock. */
int srv_predict(srv *s, srv_model *sm, const float *x, int64_t n, float *y);
/* The test split of the model's dataset (metadata.json's "dataset"),
 * loaded on first use; NULL with the reason in *why (static or owned by s). */
const mx_dataset *srv_examples(srv *s, srv_model *sm, const char **why);

/* ---- api.c ---- */

/* A request as the API sees it. */
typedef struct srv_request {
    const char *method, *path; /* path: decoded, starts with /api/ */
    const char *content_type;  /* NULL when absent */
    const char *body;          /* the body, or the file of a multipart upload */
    size_t len;
    int upload;                /* body is a multipart upload's file */
    const char *(*arg)(void *ctx, const char *name); /* a query argument, or NULL */
    void *arg_ctx;
} srv_request;

/* Answer an /api/ request: the HTTP status and a JSON body (*out); *allow
 * gets the methods of a 405. */
int srv_api(srv *s, const srv_request *r, json_t **out, const char **allow);
/* {"error": message} */
json_t *srv_error_json(const char *fmt, ...) MX_PRINTF(1, 2);

/* ---- networks.c ---- */

/* GET /api/explain/examples: {"examples": [{name, title, description, url}]},
 * the descriptions in examples_root/explain/ by file name. */
json_t *srv_networks(const srv *s);

/* ---- http.c ---- */

typedef struct srv_daemon srv_daemon;
/* Serve on fd, a bound and listening socket, with a pool of `threads`. */
srv_daemon *srv_start(srv *s, int fd, int threads);
/* Stop accepting connections; answers from now on close theirs. The
 * requests in flight (s->in_flight) go on. */
void srv_quiesce(srv_daemon *d);
/* Close every connection, join the threads, free d. */
void srv_stop(srv_daemon *d);

#endif
