/* networks.c: the network descriptions of `mlexp explain`
 * (examples/explain/NAME.json, docs/explain.md) listed for the backprop page:
 * GET /api/explain/examples. The files themselves go out as any other under
 * /examples/ (http.c). Read at each request: they are few and small, and an
 * edited one shows at once. */
#define _POSIX_C_SOURCE 200809L
#include "serve/serve.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 256
#define MAX_BYTES ((size_t)1 << 20)

/* names the URLs can carry as they are, ending in .json */
static int listed(const char *name) {
    size_t n = strlen(name);
    if (n <= 5 || n > 200 || strcmp(name + n - 5, ".json") || name[0] == '.') return 0;
    for (const char *p = name; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') || strchr("_-.", *p)))
            return 0;
    return 1;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* one file: {name, title, description, url}, or {name, url, error}; NULL
 * for a file that is not inside dir once symlinks are resolved (http.c
 * would not serve it either) */
static json_t *entry(const char *dir, const char *file) {
    char path[PATH_MAX + 256], real[PATH_MAX], url[300];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t dn = strlen(dir);
    if (!realpath(path, real) || strncmp(real, dir, dn) || real[dn] != '/') return NULL;
    snprintf(url, sizeof url, "/examples/explain/%s", file);
    json_t *e = json_pack("{s:s%, s:s}", "name", file, strlen(file) - 5, "url", url);
    char *text = mx_read_file(path, NULL, MAX_BYTES);
    json_error_t err;
    json_t *j = text ? json_loads(text, 0, &err) : NULL;
    if (!text) {
        json_object_set_new(e, "error", json_string(mx_error()));
    } else if (!json_is_object(j)) {
        char msg[300];
        if (j) snprintf(msg, sizeof msg, "%s: not a network description (a JSON object)", file);
        else snprintf(msg, sizeof msg, "%s:%d: %s", file, err.line, err.text);
        json_object_set_new(e, "error", json_string(msg));
    } else {
        const char *title = json_string_value(json_object_get(j, "name"));
        const char *desc = json_string_value(json_object_get(j, "description"));
        json_object_set_new(e, "title", json_string(title ? title : json_string_value(json_object_get(e, "name"))));
        json_object_set_new(e, "description", desc ? json_string(desc) : json_null());
    }
    json_decref(j);
    mx_free(text);
    return e;
}

json_t *srv_networks(const srv *s) {
    json_t *list = json_array();
    char given[PATH_MAX + 16], dir[PATH_MAX];
    snprintf(given, sizeof given, "%s/explain", s->examples_root ? s->examples_root : "");
    DIR *d = s->examples_root && realpath(given, dir) ? opendir(dir) : NULL;
    char *names[MAX_FILES];
    int n = 0;
    for (struct dirent *de; d && n < MAX_FILES && (de = readdir(d));)
        if (listed(de->d_name)) names[n++] = strdup(de->d_name);
    if (d) closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    for (int i = 0; i < n; i++) {
        json_t *e = names[i] ? entry(dir, names[i]) : NULL;
        if (e) json_array_append_new(list, e);
        free(names[i]);
    }
    return json_pack("{s:o}", "examples", list);
}
