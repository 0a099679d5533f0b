/* weights.c: weight shards and the model directory (model.json + shards).
 * Shards hold the weights of a group back to back, little-endian, split
 * every 4 MiB as the TF.js converter does. */
#define _POSIX_C_SOURCE 200809L
#include "io/config.h"
#include "io/model_io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define SHARD_BYTES 4194304
#define MAX_MODEL_JSON ((size_t)256 << 20)
#define MAX_WEIGHT_BYTES ((int64_t)8 << 30)

static int suffix_matches(const char *manifest, size_t ml, const char *param) {
    size_t pl = strlen(param);
    if (ml == pl) return strncmp(manifest, param, pl) == 0;
    return ml > pl && manifest[ml - pl - 1] == '/' && strncmp(manifest + ml - pl, param, pl) == 0;
}

/* "sequential/dense/kernel:0" names the parameter "dense/kernel"; as TF.js
 * does, a cell's name before the last part is dropped: Keras 2 writes
 * "lstm/lstm_cell/kernel" for the parameter "lstm/kernel". */
static int name_matches(const char *manifest, const char *param) {
    size_t ml = strlen(manifest);
    if (ml >= 2 && manifest[ml - 2] == ':' && manifest[ml - 1] == '0') ml -= 2;
    if (suffix_matches(manifest, ml, param)) return 1;
    const char *last = NULL, *before = NULL;
    for (const char *p = manifest; p < manifest + ml; p++)
        if (*p == '/') before = last, last = p;
    if (!before || ml >= 1024) return 0;
    char shorter[1024]; /* without "/<cell>" */
    size_t head = (size_t)(before - manifest), tail = ml - (size_t)(last - manifest);
    memcpy(shorter, manifest, head);
    memcpy(shorter + head, last, tail);
    return suffix_matches(shorter, head + tail, param);
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 31, mant = h & 1023;
    float v = e == 0 ? ldexpf((float)mant, -24) : e == 31 ? (mant ? NAN : INFINITY) : ldexpf((float)(mant | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

typedef struct wspec {
    const char *name;
    int rank;
    int64_t dims[MX_MAX_RANK], count, bytes;
    int dtype; /* 0 float32, 1 uint8, 2 uint16, 3 float16 */
    float scale, min;
} wspec;

static int read_spec(json_t *w, wspec *s) {
    memset(s, 0, sizeof *s);
    json_t *name = json_object_get(w, "name"), *shape = json_object_get(w, "shape");
    json_t *dtype = json_object_get(w, "dtype"), *q = json_object_get(w, "quantization");
    if (!json_is_string(name)) return mx_fail("a weight without a name");
    s->name = json_string_value(name);
    if (!json_is_array(shape) || json_array_size(shape) > MX_MAX_RANK) return mx_fail("weight '%s': bad shape", s->name);
    s->rank = (int)json_array_size(shape);
    s->count = 1;
    for (int i = 0; i < s->rank; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return mx_fail("weight '%s': shape entries must be non-negative integers", s->name);
        if (!mx_mul_ok(s->count, json_integer_value(d), &s->count) || s->count > MAX_WEIGHT_BYTES)
            return mx_fail("weight '%s': shape is too large", s->name);
        s->dims[i] = json_integer_value(d);
    }
    const char *dt = json_is_string(dtype) ? json_string_value(dtype) : "float32";
    int esize = 4;
    if (q) {
        json_t *qd = json_object_get(q, "dtype");
        const char *qs = json_is_string(qd) ? json_string_value(qd) : "?";
        if (!strcmp(qs, "uint8")) s->dtype = 1, esize = 1;
        else if (!strcmp(qs, "uint16")) s->dtype = 2, esize = 2;
        else if (!strcmp(qs, "float16")) s->dtype = 3, esize = 2;
        else return mx_fail("weight '%s': quantization dtype '%s' is not supported", s->name, qs);
        if (s->dtype != 3) {
            json_t *sc = json_object_get(q, "scale"), *mn = json_object_get(q, "min");
            if (!json_is_number(sc) || !json_is_number(mn)) return mx_fail("weight '%s': quantization needs scale and min", s->name);
            s->scale = (float)json_number_value(sc);
            s->min = (float)json_number_value(mn);
        }
    } else if (strcmp(dt, "float32") != 0) {
        s->dtype = -1; /* not a float weight: only its size is used, to skip it */
        esize = !strcmp(dt, "int32") ? 4 : !strcmp(dt, "bool") ? 1 : 4;
    }
    if (!mx_mul_ok(s->count, esize, &s->bytes)) return mx_fail("weight '%s' is too large", s->name);
    return 0;
}

/* The parameter a manifest entry names, or NULL; an error (naming the
 * layer and both shapes) when its shape or type does not fit. */
static mx_param *match(mx_model *m, const wspec *s, const int *loaded, const char *origin, int *bad) {
    *bad = 0;
    for (int k = 0; k < m->n_params; k++) {
        mx_param *p = m->params[k];
        if (loaded[k] || !name_matches(s->name, p->name)) continue;
        int same = s->rank == p->rank && s->count == p->size && s->dtype >= 0;
        for (int d = 0; same && d < s->rank; d++) same = s->dims[d] == p->dims[d];
        if (!same) {
            char a[128], b[128];
            mx_fail("%s: layer '%s' (%s): weight '%s' is %s%s in the manifest, the layer expects float32 %s", origin,
                    p->layer->name, p->layer->type->class_name, s->name, s->dtype < 0 ? "not float32, " : "",
                    mx_shape_str(s->rank, s->dims, a, sizeof a), mx_shape_str(p->rank, p->dims, b, sizeof b));
            *bad = 1;
            return NULL;
        }
        return p;
    }
    return NULL;
}

static int index_of(const mx_model *m, const mx_param *p) {
    for (int k = 0; k < m->n_params; k++)
        if (m->params[k] == p) return k;
    return -1;
}

static void decode(const wspec *s, const unsigned char *src, float *dst) {
    for (int64_t i = 0; i < s->count; i++) {
        switch (s->dtype) {
        case 0: memcpy(&dst[i], src + 4 * i, 4); break;
        case 1: dst[i] = src[i] * s->scale + s->min; break;
        case 2: {
            uint16_t v;
            memcpy(&v, src + 2 * i, 2);
            dst[i] = v * s->scale + s->min;
            break;
        }
        case 3: {
            uint16_t v;
            memcpy(&v, src + 2 * i, 2);
            dst[i] = half_to_float(v);
            break;
        }
        }
    }
}

/* The bytes of shard `rel`: a file under src->dir (read into *owned, which
 * the caller frees) or the buffer of that name; `where` names it in errors. */
static const void *shard_bytes(const mx_shard_source *src, const char *rel, const char *origin, size_t *len,
                               char **owned, char *where, size_t n) {
    *owned = NULL;
    if (src->dir) {
        snprintf(where, n, "%s/%s", src->dir, rel);
        return *owned = mx_read_file(where, len, (size_t)MAX_WEIGHT_BYTES);
    }
    snprintf(where, n, "%s: shard '%s'", origin, rel);
    for (int i = 0; i < src->n_shards; i++)
        if (src->shards[i].name && !strcmp(src->shards[i].name, rel)) {
            *len = src->shards[i].size;
            return src->shards[i].data ? src->shards[i].data : "";
        }
    return mx_failp("%s is missing (the manifest names it, but it was not given)", where);
}

/* all shards of a group, back to back */
static unsigned char *read_group(json_t *paths, const mx_shard_source *src, int64_t expected, const char *origin) {
    if (!json_is_array(paths) || json_array_size(paths) == 0) return mx_failp("%s: weight group without paths", origin);
    if (expected > MAX_WEIGHT_BYTES) return mx_failp("%s: weights of %lld bytes exceed the limit", origin, (long long)expected);
    unsigned char *buf = mx_alloc((size_t)expected + 1);
    if (!buf) return NULL;
    int64_t off = 0;
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p) {
        const char *rel = json_is_string(p) ? json_string_value(p) : NULL;
        if (!rel || rel[0] == '/' || strstr(rel, "..")) {
            mx_free(buf);
            return mx_failp("%s: shard path %zu is not a plain relative file name", origin, i);
        }
        char where[4096], *owned;
        size_t len;
        const void *data = shard_bytes(src, rel, origin, &len, &owned, where, sizeof where);
        if (!data) {
            mx_free(buf);
            return NULL;
        }
        if ((int64_t)len > expected - off) {
            mx_fail("%s: shards hold more bytes than the manifest's weights (%lld)", where, (long long)expected);
            mx_free(owned);
            mx_free(buf);
            return NULL;
        }
        memcpy(buf + off, data, len);
        off += (int64_t)len;
        mx_free(owned);
    }
    if (off != expected) {
        mx_free(buf);
        return mx_failp("%s: the weight shards hold %lld bytes but the manifest's weights need %lld (a missing or short shard?)",
                        origin, (long long)off, (long long)expected);
    }
    return buf;
}

int mx_weights_read(mx_model *m, json_t *manifest, const mx_shard_source *src, const char *origin, int require_all,
                    int *n_loaded) {
    if (!json_is_array(manifest)) return mx_fail("%s: weightsManifest must be a list", origin);
    int *loaded = mx_alloc_array((size_t)MX_MAX(m->n_params, 1), sizeof(int));
    if (!loaded) return -1;
    int rc = -1;
    size_t g;
    json_t *group;
    json_array_foreach(manifest, g, group) {
        json_t *weights = json_object_get(group, "weights");
        if (!json_is_array(weights)) {
            mx_fail("%s: weightsManifest group %zu has no weights list", origin, g);
            goto done;
        }
        /* check every entry against the model before touching the shards */
        int64_t total = 0;
        size_t i;
        json_t *w;
        json_array_foreach(weights, i, w) {
            wspec s;
            int bad;
            if (read_spec(w, &s)) {
                mx_fail_context("%s: ", origin);
                goto done;
            }
            match(m, &s, loaded, origin, &bad);
            if (bad) goto done;
            total += s.bytes;
            if (total > MAX_WEIGHT_BYTES) {
                mx_fail("%s: weights exceed the limit of %lld bytes", origin, (long long)MAX_WEIGHT_BYTES);
                goto done;
            }
        }
        unsigned char *buf = read_group(json_object_get(group, "paths"), src, total, origin);
        if (!buf) goto done;
        int64_t off = 0;
        json_array_foreach(weights, i, w) {
            wspec s;
            int bad;
            read_spec(w, &s);
            mx_param *p = match(m, &s, loaded, origin, &bad);
            if (p) {
                decode(&s, buf + off, p->data);
                loaded[index_of(m, p)] = 1;
            }
            off += s.bytes;
        }
        mx_free(buf);
    }
    int count = 0;
    for (int k = 0; k < m->n_params; k++) {
        count += loaded[k];
        if (!loaded[k] && require_all) {
            mx_fail("%s: weight '%s' of layer '%s' is missing from weightsManifest", origin, m->params[k]->name,
                    m->params[k]->layer->name);
            goto done;
        }
    }
    if (n_loaded) *n_loaded = count;
    rc = 0;
    mx_model_weights_changed(m);
done:
    mx_free(loaded);
    return rc;
}

json_t *mx_weights_write(const mx_model *m, const char *dir) {
    int64_t total = 0;
    for (int i = 0; i < m->n_params; i++) total += m->params[i]->size * 4;
    unsigned char *buf = mx_alloc((size_t)MX_MAX(total, 1));
    if (!buf) return NULL;
    json_t *specs = json_array();
    int64_t off = 0;
    for (int i = 0; i < m->n_params; i++) {
        const mx_param *p = m->params[i];
        memcpy(buf + off, p->data, (size_t)p->size * 4);
        off += p->size * 4;
        json_t *shape = json_array();
        for (int d = 0; d < p->rank; d++) json_array_append_new(shape, json_integer(p->dims[d]));
        json_array_append_new(specs, json_pack("{s:s, s:o, s:s}", "name", p->name, "shape", shape, "dtype", "float32"));
    }
    int nshards = (int)MX_MAX(1, (total + SHARD_BYTES - 1) / SHARD_BYTES);
    json_t *paths = json_array();
    for (int s = 0; s < nshards; s++) {
        char name[64], path[4096];
        snprintf(name, sizeof name, "group1-shard%dof%d.bin", s + 1, nshards);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int64_t b = (int64_t)s * SHARD_BYTES, len = MX_MIN((int64_t)SHARD_BYTES, total - b);
        if (mx_write_file(path, buf + b, (size_t)len)) {
            mx_free(buf);
            json_decref(specs);
            json_decref(paths);
            return NULL;
        }
        json_array_append_new(paths, json_string(name));
    }
    mx_free(buf);
    return json_pack("[{s:o, s:o}]", "paths", paths, "weights", specs);
}

/* model.json of a model directory (or the file itself) and its folder */
static void model_paths(const char *path, char *dir, char *file, size_t n) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dir, n, "%s", path);
        snprintf(file, n, "%s/model.json", path);
    } else {
        snprintf(file, n, "%s", path);
        snprintf(dir, n, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, n, ".");
    }
}

int mx_model_load_weights(mx_model *m, const char *path, int *loaded) {
    char dir[4096], file[4096];
    model_paths(path, dir, file, sizeof dir);
    char *text = mx_read_file(file, NULL, MAX_MODEL_JSON);
    if (!text) return -1;
    json_error_t e;
    json_t *root = json_loads(text, 0, &e);
    mx_free(text);
    if (!root) return mx_json_fail(file, &e);
    json_t *manifest = json_object_get(root, "weightsManifest");
    mx_shard_source src = {dir, NULL, 0};
    int rc = manifest ? mx_weights_read(m, manifest, &src, file, 0, loaded) : mx_fail("%s: no weightsManifest", file);
    json_decref(root);
    return rc;
}

/* model.json's text with its shards from src; origin names it in errors */
static mx_model *model_from_text(const char *text, const char *origin, const mx_shard_source *src) {
    json_error_t e;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!root) return (mx_json_fail(origin, &e), NULL);
    json_t *topo = json_object_get(root, "modelTopology");
    json_t *manifest = json_object_get(root, "weightsManifest");
    mx_model *m = NULL;
    if (!json_is_object(topo))
        mx_fail("%s: no modelTopology object (is this a TF.js layers model?)", origin);
    else if (!manifest)
        mx_fail("%s: no weightsManifest", origin);
    else if ((m = mx_topology_read(topo, origin, 0)) && mx_weights_read(m, manifest, src, origin, 1, NULL)) {
        mx_model_free(m);
        m = NULL;
    }
    json_decref(root);
    return m;
}

mx_model *mx_model_load(const char *path) {
    char dir[4096], file[4096];
    model_paths(path, dir, file, sizeof dir);
    char *text = mx_read_file(file, NULL, MAX_MODEL_JSON);
    if (!text) return NULL;
    mx_shard_source src = {dir, NULL, 0};
    mx_model *m = model_from_text(text, file, &src);
    mx_free(text);
    return m;
}

mx_model *mx_model_load_memory(const char *json_text, const char *origin, const mx_shard *shards, int n_shards) {
    if (!origin) origin = "model.json";
    if (!json_text) return mx_failp("%s: no model.json text", origin);
    if (n_shards < 0 || (n_shards > 0 && !shards)) return mx_failp("%s: invalid shard list", origin);
    mx_shard_source src = {NULL, shards, n_shards};
    return model_from_text(json_text, origin, &src);
}

int mx_model_save(mx_model *m, const char *dir) {
    if (mx_mkdirs(dir)) return -1;
    json_t *manifest = mx_weights_write(m, dir);
    if (!manifest) return -1;
    json_t *root = json_pack("{s:s, s:s, s:n, s:o, s:o}", "format", "layers-model", "generatedBy", "mlexp " MX_VERSION,
                             "convertedBy", "modelTopology", mx_topology_write(m), "weightsManifest", manifest);
    json_t *tc = mx_training_config_write(m);
    if (tc) json_object_set_new(root, "trainingConfig", tc);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.json", dir);
    int rc = mx_json_save(root, path);
    json_decref(root);
    return rc;
}
