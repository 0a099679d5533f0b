/* config.c: reading and writing Keras layer configs from field tables. */
#define _POSIX_C_SOURCE 200809L
#include "io/config.h"

#include "layers/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keys any Keras layer may carry that we accept only as null. */
static const char *const g_null_only[] = {
    "activity_regularizer", "kernel_constraint", "bias_constraint", "beta_constraint",
    "gamma_constraint", "depthwise_constraint", "pointwise_constraint", "recurrent_constraint",
    "embeddings_constraint", "alpha_constraint", NULL,
};

/* Keys written by some Keras/TF.js versions that carry nothing for us. */
static const char *const g_ignored[] = {"name", "trainable", "dtype", "module", "registered_name", NULL};

static int in_list(const char *const *list, const char *key) {
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], key) == 0) return 1;
    return 0;
}

int mx_json_fail(const char *origin, const json_error_t *e) {
    return mx_fail("%s: invalid JSON at line %d, column %d: %s", origin, e->line, e->column, e->text);
}

int mx_json_save(json_t *j, const char *path) {
    char *text = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
    if (!text) return mx_fail("%s: cannot serialise JSON", path);
    int rc = mx_write_file(path, text, strlen(text));
    free(text);
    return rc;
}

/* ---- initializers ---- */

typedef struct init_alias {
    const char *name, *snake;
    float scale;
    mx_fan_mode mode;
    mx_distribution dist;
} init_alias;

static const init_alias g_vs_aliases[] = {
    {"GlorotUniform", "glorot_uniform", 1, MX_FAN_AVG, MX_DIST_UNIFORM},
    {"GlorotNormal", "glorot_normal", 1, MX_FAN_AVG, MX_DIST_TRUNCATED_NORMAL},
    {"HeNormal", "he_normal", 2, MX_FAN_IN, MX_DIST_TRUNCATED_NORMAL},
    {"HeUniform", "he_uniform", 2, MX_FAN_IN, MX_DIST_UNIFORM},
    {"LecunNormal", "lecun_normal", 1, MX_FAN_IN, MX_DIST_TRUNCATED_NORMAL},
    {"LecunUniform", "lecun_uniform", 1, MX_FAN_IN, MX_DIST_UNIFORM},
};

static const char *const g_modes[] = {"fan_in", "fan_out", "fan_avg", NULL};
static const char *const g_dists[] = {"truncated_normal", "untruncated_normal", "uniform", NULL};

static int num(json_t *cfg, const char *key, float def, float *out) {
    json_t *v = cfg ? json_object_get(cfg, key) : NULL;
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return mx_fail("'%s' must be a number", key);
    *out = (float)json_number_value(v);
    return 0;
}

static int enum_index(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++)
        if (strcasecmp(names[i], s) == 0) return i;
    return -1;
}

int mx_init_read(json_t *j, mx_init *out) {
    memset(out, 0, sizeof *out);
    const char *cls;
    json_t *cfg = NULL;
    if (json_is_string(j)) {
        cls = json_string_value(j);
    } else if (json_is_object(j) && json_is_string(json_object_get(j, "class_name"))) {
        cls = json_string_value(json_object_get(j, "class_name"));
        cfg = json_object_get(j, "config");
        if (cfg && !json_is_object(cfg) && !json_is_null(cfg)) return mx_fail("initializer config must be an object");
    } else {
        return mx_fail("an initializer must be a name or {\"class_name\": ..., \"config\": ...}");
    }
    snprintf(out->class_name, sizeof out->class_name, "%s", cls);
    json_t *seed = cfg ? json_object_get(cfg, "seed") : NULL;
    if (seed && json_is_integer(seed)) {
        out->has_seed = 1;
        out->seed = json_integer_value(seed);
    }
    for (size_t i = 0; i < sizeof g_vs_aliases / sizeof g_vs_aliases[0]; i++) {
        const init_alias *a = &g_vs_aliases[i];
        if (strcmp(cls, a->name) == 0 || strcmp(cls, a->snake) == 0) {
            out->kind = MX_INIT_VARIANCE_SCALING;
            out->scale = a->scale;
            out->mode = a->mode;
            out->distribution = a->dist;
            return 0;
        }
    }
    if (!strcmp(cls, "Zeros") || !strcmp(cls, "zeros")) {
        out->kind = MX_INIT_ZEROS;
        return 0;
    }
    if (!strcmp(cls, "Ones") || !strcmp(cls, "ones")) {
        out->kind = MX_INIT_ONES;
        return 0;
    }
    if (!strcmp(cls, "Constant") || !strcmp(cls, "constant")) {
        out->kind = MX_INIT_CONSTANT;
        return num(cfg, "value", 0, &out->a);
    }
    if (!strcmp(cls, "RandomNormal") || !strcmp(cls, "random_normal")) {
        out->kind = MX_INIT_RANDOM_NORMAL;
        return num(cfg, "mean", 0, &out->a) || num(cfg, "stddev", 0.05f, &out->b);
    }
    if (!strcmp(cls, "TruncatedNormal") || !strcmp(cls, "truncated_normal")) {
        out->kind = MX_INIT_TRUNCATED_NORMAL;
        return num(cfg, "mean", 0, &out->a) || num(cfg, "stddev", 0.05f, &out->b);
    }
    if (!strcmp(cls, "RandomUniform") || !strcmp(cls, "random_uniform")) {
        out->kind = MX_INIT_RANDOM_UNIFORM;
        return num(cfg, "minval", -0.05f, &out->a) || num(cfg, "maxval", 0.05f, &out->b);
    }
    if (!strcmp(cls, "Orthogonal") || !strcmp(cls, "orthogonal")) {
        out->kind = MX_INIT_ORTHOGONAL;
        if (num(cfg, "gain", 1, &out->scale)) return -1;
        if (!isfinite(out->scale)) return mx_fail("Orthogonal gain must be a finite number");
        return 0;
    }
    if (!strcmp(cls, "VarianceScaling") || !strcmp(cls, "variance_scaling")) {
        out->kind = MX_INIT_VARIANCE_SCALING;
        if (num(cfg, "scale", 1, &out->scale)) return -1;
        if (!(out->scale > 0)) return mx_fail("VarianceScaling scale must be positive");
        json_t *mode = cfg ? json_object_get(cfg, "mode") : NULL;
        json_t *dist = cfg ? json_object_get(cfg, "distribution") : NULL;
        int mi = mode && json_is_string(mode) ? enum_index(g_modes, json_string_value(mode)) : MX_FAN_IN;
        if (mi < 0) return mx_fail("VarianceScaling mode must be fan_in, fan_out or fan_avg");
        out->mode = (mx_fan_mode)mi;
        const char *ds = dist && json_is_string(dist) ? json_string_value(dist) : "truncated_normal";
        /* "normal" is the old name of the truncated normal */
        int di = strcmp(ds, "normal") == 0 ? MX_DIST_TRUNCATED_NORMAL : enum_index(g_dists, ds);
        if (di < 0) return mx_fail("VarianceScaling distribution '%s' is not known", ds);
        out->distribution = (mx_distribution)di;
        return 0;
    }
    return mx_fail("initializer '%s' is not supported", cls);
}

static json_t *real(double v) {
    /* write floats with the precision they have, so 0.002 stays 0.002 */
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", v);
    return json_real(strtod(buf, NULL));
}

json_t *mx_init_write(const mx_init *i) {
    json_t *cfg = json_object();
    switch (i->kind) {
    case MX_INIT_CONSTANT: json_object_set_new(cfg, "value", real(i->a)); break;
    case MX_INIT_RANDOM_NORMAL:
    case MX_INIT_TRUNCATED_NORMAL:
        json_object_set_new(cfg, "mean", real(i->a));
        json_object_set_new(cfg, "stddev", real(i->b));
        break;
    case MX_INIT_RANDOM_UNIFORM:
        json_object_set_new(cfg, "minval", real(i->a));
        json_object_set_new(cfg, "maxval", real(i->b));
        break;
    case MX_INIT_VARIANCE_SCALING:
        if (strcmp(i->class_name, "VarianceScaling") == 0 || strcmp(i->class_name, "variance_scaling") == 0) {
            json_object_set_new(cfg, "scale", real(i->scale));
            json_object_set_new(cfg, "mode", json_string(g_modes[i->mode]));
            json_object_set_new(cfg, "distribution", json_string(g_dists[i->distribution]));
        }
        break;
    case MX_INIT_ORTHOGONAL: json_object_set_new(cfg, "gain", real(i->scale)); break;
    case MX_INIT_ZEROS:
    case MX_INIT_ONES: break;
    }
    if (i->kind != MX_INIT_ZEROS && i->kind != MX_INIT_ONES && i->kind != MX_INIT_CONSTANT)
        json_object_set_new(cfg, "seed", i->has_seed ? json_integer(i->seed) : json_null());
    /* write the CamelCase class name Keras and TF.js both register */
    const char *cls = i->class_name;
    for (size_t k = 0; k < sizeof g_vs_aliases / sizeof g_vs_aliases[0]; k++)
        if (strcmp(cls, g_vs_aliases[k].snake) == 0) cls = g_vs_aliases[k].name;
    static const char *const snake[][2] = {{"zeros", "Zeros"}, {"ones", "Ones"}, {"constant", "Constant"},
                                           {"random_normal", "RandomNormal"}, {"random_uniform", "RandomUniform"},
                                           {"truncated_normal", "TruncatedNormal"}, {"variance_scaling", "VarianceScaling"},
                                           {"orthogonal", "Orthogonal"}};
    for (size_t k = 0; k < sizeof snake / sizeof snake[0]; k++)
        if (strcmp(cls, snake[k][0]) == 0) cls = snake[k][1];
    return json_pack("{s:s, s:o}", "class_name", cls, "config", cfg);
}

/* ---- regularizers ---- */

static int reg_read(json_t *j, mx_reg *out) {
    memset(out, 0, sizeof *out);
    if (!j || json_is_null(j)) return 0;
    const char *cls;
    json_t *cfg = NULL;
    if (json_is_string(j)) {
        cls = json_string_value(j);
    } else if (json_is_object(j) && json_is_string(json_object_get(j, "class_name"))) {
        cls = json_string_value(json_object_get(j, "class_name"));
        cfg = json_object_get(j, "config");
    } else {
        return mx_fail("a regularizer must be null, a name or {\"class_name\": ..., \"config\": ...}");
    }
    /* Keras defaults: l1/l2 0.01; L1L2 with no config is 0, 0 */
    int l1l2 = strcasecmp(cls, "L1L2") == 0 || strcasecmp(cls, "l1_l2") == 0;
    if (strcasecmp(cls, "L2") == 0 || strcasecmp(cls, "l2") == 0) return num(cfg, "l2", 0.01f, &out->l2);
    if (strcasecmp(cls, "L1") == 0) return num(cfg, "l1", 0.01f, &out->l1);
    if (l1l2) {
        float d = json_is_string(j) ? 0.01f : 0.0f;
        return num(cfg, "l1", d, &out->l1) || num(cfg, "l2", d, &out->l2);
    }
    return mx_fail("regularizer '%s' is not supported (use L1, L2 or L1L2)", cls);
}

/* L1L2 is the class both Keras and TF.js know */
static json_t *reg_write(const mx_reg *r) {
    if (r->l1 == 0 && r->l2 == 0) return json_null();
    return json_pack("{s:s, s:{s:o, s:o}}", "class_name", "L1L2", "config", "l1", real(r->l1), "l2", real(r->l2));
}

/* ---- fields ---- */

static int read_int(json_t *v, int *out) {
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < -(1 << 30) || x > (1 << 30)) return -1;
        *out = (int)x;
        return 0;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x != floor(x) || fabs(x) > (1 << 30)) return -1;
        *out = (int)x;
        return 0;
    }
    return -1;
}

static int read_shape(json_t *v, mx_shape_cfg *s, int allow_int) {
    if (json_is_null(v)) {
        s->rank = -1;
        return 0;
    }
    if (allow_int && json_is_integer(v)) {
        s->rank = 1;
        s->dims[0] = json_integer_value(v);
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) > 8) return -1;
    s->rank = (int)json_array_size(v);
    for (int i = 0; i < s->rank; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        if (json_is_null(e))
            s->dims[i] = -1;
        else if (json_is_integer(e) && json_integer_value(e) >= -1 && json_integer_value(e) < ((json_int_t)1 << 40))
            s->dims[i] = json_integer_value(e);
        else
            return -1;
    }
    return 0;
}

static int read_field_enum(const mx_field *f, json_t *v, int *out) {
    int i = json_is_string(v) ? enum_index(f->names, json_string_value(v)) : -1;
    if (i < 0) {
        char list[256] = "";
        for (int k = 0; f->names[k]; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", k ? ", " : "", f->names[k]);
        return mx_fail("'%s' must be one of %s%s", f->key, list, f->kind == MX_FIELD_ENUM_OR_NULL ? " or null" : "");
    }
    *out = i;
    return 0;
}

/* {"class_name": ..., "config": {...}}: a layer inside l (a wrapper's) */
static int read_inner_layer(mx_layer *l, const mx_field *f, json_t *v, mx_layer **out) {
    int depth = 0; /* wrappers around l */
    for (const mx_layer *s = l; s && s->type != &mx_layer_submodel; s = s->scope) depth++;
    if (depth > 8) return mx_fail("'%s': layers wrapped more than 8 deep are not supported", f->key);
    json_t *cls = json_object_get(v, "class_name"), *cfg = json_object_get(v, "config");
    if (!json_is_string(cls) || (cfg && !json_is_object(cfg)))
        return mx_fail("'%s' must be {\"class_name\": ..., \"config\": {...}}", f->key);
    const mx_layer_type *t = mx_layer_type_find(json_string_value(cls));
    if (!t || t == &mx_layer_submodel || !strcmp(t->class_name, "InputLayer"))
        return mx_fail("'%s': layer class '%s' is not supported here", f->key, json_string_value(cls));
    json_t *name = json_object_get(cfg, "name");
    mx_layer *inner = mx_graph_add_inner_layer(l, t, json_is_string(name) ? json_string_value(name) : NULL);
    if (!inner || mx_config_read(inner, cfg)) return mx_fail_context("'%s' (%s): ", f->key, t->class_name);
    *out = inner;
    return 0;
}

/* An activation with parameters Keras's names cannot carry (ours, see
 * docs/explain.md): {"name": "softmax", "temperature": T} or
 * {"name": "leaky_relu", "alpha": a}. */
static int act_object_read(json_t *v, mx_act *out) {
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!name || mx_act_parse(name, out)) return mx_fail("activation object needs a known 'name'");
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) {
        if (!strcmp(key, "name")) continue;
        int temp = !strcmp(key, "temperature") && out->kind == MX_ACT_SOFTMAX;
        int alpha = !strcmp(key, "alpha") && out->kind == MX_ACT_LEAKY_RELU;
        if (!temp && !alpha) return mx_fail("activation '%s': unknown parameter '%s'", name, key);
        if (!json_is_number(x) || (temp && !(json_number_value(x) > 0)))
            return mx_fail("activation '%s': '%s' must be a%s number", name, key, temp ? " positive" : "");
        if (temp) out->temperature = (float)json_number_value(x);
        if (alpha) out->alpha = (float)json_number_value(x);
    }
    return 0;
}

static int read_field(mx_layer *l, const mx_field *f, json_t *v) {
    char *base = (char *)l->cfg + f->offset;
    switch (f->kind) {
    case MX_FIELD_INT:
        if (read_int(v, (int *)base)) return mx_fail("'%s' must be an integer below 2^30 in size", f->key);
        return 0;
    case MX_FIELD_FLOAT:
    case MX_FIELD_FLOAT_OR_NULL:
        if (f->kind == MX_FIELD_FLOAT_OR_NULL && json_is_null(v)) {
            *(float *)base = NAN;
            return 0;
        }
        if (!json_is_number(v)) return mx_fail("'%s' must be a number", f->key);
        *(float *)base = (float)json_number_value(v);
        return 0;
    case MX_FIELD_PADS: {
        int *p = (int *)base, a, b;
        if (!read_int(v, &a)) {
            p[0] = p[1] = p[2] = p[3] = a;
        } else if (json_is_array(v) && json_array_size(v) == 2 && !read_int(json_array_get(v, 0), &a) &&
                   !read_int(json_array_get(v, 1), &b)) {
            p[0] = p[1] = a;
            p[2] = p[3] = b;
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_array_size(json_array_get(v, 0)) == 2 &&
                   json_array_size(json_array_get(v, 1)) == 2) {
            for (int i = 0; i < 4; i++)
                if (read_int(json_array_get(json_array_get(v, (size_t)(i / 2)), (size_t)(i % 2)), &p[i]))
                    return mx_fail("'%s' must hold integers", f->key);
        } else {
            return mx_fail("'%s' must be an integer, [rows, cols] or [[top, bottom], [left, right]]", f->key);
        }
        for (int i = 0; i < 4; i++)
            if (p[i] < 0 || p[i] > 65536) return mx_fail("'%s' entries must be from 0 to 65536", f->key);
        return 0;
    }
    case MX_FIELD_BOOL:
        if (!json_is_boolean(v)) return mx_fail("'%s' must be true or false", f->key);
        *(int *)base = json_is_true(v);
        return 0;
    case MX_FIELD_ENUM: return read_field_enum(f, v, (int *)base);
    case MX_FIELD_INTS: {
        int *out = (int *)base;
        if (json_is_null(v)) {
            memset(out, 0, sizeof(int) * (size_t)f->n);
            return 0;
        }
        if (!read_int(v, &out[0])) {
            for (int i = 1; i < f->n; i++) out[i] = out[0];
        } else {
            if (!json_is_array(v) || (int)json_array_size(v) != f->n)
                return mx_fail("'%s' must be an integer or a list of %d integers", f->key, f->n);
            for (int i = 0; i < f->n; i++)
                if (read_int(json_array_get(v, (size_t)i), &out[i]))
                    return mx_fail("'%s' must be a list of %d integers", f->key, f->n);
        }
        for (int i = 0; i < f->n; i++)
            if (out[i] <= 0 || out[i] > 65536) return mx_fail("'%s' entries must be positive, got %d", f->key, out[i]);
        return 0;
    }
    case MX_FIELD_SHAPE:
    case MX_FIELD_AXES:
        if (read_shape(v, (mx_shape_cfg *)base, f->kind == MX_FIELD_AXES))
            return mx_fail("'%s' must be a list of integers%s", f->key, f->kind == MX_FIELD_SHAPE ? " or nulls" : "");
        return 0;
    case MX_FIELD_ACT:
        if (json_is_null(v)) {
            l->act.kind = MX_ACT_LINEAR;
            return 0;
        }
        if (json_is_object(v)) return act_object_read(v, &l->act);
        if (!json_is_string(v) || mx_act_parse(json_string_value(v), &l->act))
            return mx_fail("activation %s%s%s is not supported", json_is_string(v) ? "'" : "",
                           json_is_string(v) ? json_string_value(v) : "(not a string)", json_is_string(v) ? "'" : "");
        return 0;
    case MX_FIELD_INIT:
        if (mx_init_read(v, (mx_init *)base)) return mx_fail_context("'%s': ", f->key);
        return 0;
    case MX_FIELD_REG:
        if (reg_read(v, (mx_reg *)base)) return mx_fail_context("'%s': ", f->key);
        return 0;
    case MX_FIELD_NULL:
        if (!json_is_null(v)) return mx_fail("option '%s' is not supported (only null)", f->key);
        return 0;
    case MX_FIELD_ACTIVATION: {
        mx_act *a = (mx_act *)base;
        if (json_is_null(v)) {
            mx_act_parse("linear", a);
            return 0;
        }
        if (!json_is_string(v) || mx_act_parse(json_string_value(v), a) || a->kind == MX_ACT_SOFTMAX)
            return mx_fail("'%s': activation %s%s%s is not supported", f->key, json_is_string(v) ? "'" : "",
                           json_is_string(v) ? json_string_value(v) : "(not a string)", json_is_string(v) ? "'" : "");
        return 0;
    }
    case MX_FIELD_BOOL_OR_NULL:
        if (!json_is_boolean(v) && !json_is_null(v)) return mx_fail("'%s' must be true, false or null", f->key);
        *(int *)base = json_is_true(v);
        return 0;
    case MX_FIELD_ENUM_OR_NULL:
        if (json_is_null(v)) {
            *(int *)base = -1;
            return 0;
        }
        return read_field_enum(f, v, (int *)base);
    case MX_FIELD_LAYER: return read_inner_layer(l, f, v, (mx_layer **)base);
    case MX_FIELD_IGNORE:
    case MX_FIELD_END: return 0;
    }
    return 0;
}

static const mx_field *find_field(const mx_field *fields, const char *key) {
    for (const mx_field *f = fields; f->key; f++)
        if (strcmp(f->key, key) == 0) return f;
    return NULL;
}

/* An earlier field that stores into the same place (Keras 2 and 3 names for
 * one option, e.g. batch_input_shape and batch_shape), or NULL. */
static const mx_field *alias_of(const mx_field *fields, const mx_field *f) {
    if (f->kind == MX_FIELD_ACT || f->kind == MX_FIELD_NULL || f->kind == MX_FIELD_IGNORE) return NULL;
    for (const mx_field *g = fields; g != f; g++)
        if (g->kind == f->kind && g->offset == f->offset) return g;
    return NULL;
}

int mx_config_read(mx_layer *l, json_t *config) {
    const mx_field *fields = l->type->fields;
    if (config && !json_is_object(config)) return mx_fail("config must be an object");
    /* unknown keys first: a typo must not silently become a default */
    const char *key;
    json_t *v;
    json_object_foreach(config, key, v) {
        if (find_field(fields, key) || in_list(g_ignored, key)) continue;
        if (in_list(g_null_only, key)) {
            if (!json_is_null(v)) return mx_fail("option '%s' is not supported (only null)", key);
            continue;
        }
        if (!strcmp(key, "batch_input_shape") || !strcmp(key, "batch_shape") || !strcmp(key, "input_shape") ||
            !strcmp(key, "input_dim"))
            continue; /* read by the model loader */
        return mx_fail("unknown config key '%s'", key);
    }
    for (const mx_field *f = fields; f->key; f++) {
        json_t *val = config ? json_object_get(config, f->key) : NULL;
        json_t *owned = NULL;
        if (!val) {
            /* an alias sharing storage with an earlier field keeps that value */
            const mx_field *g = alias_of(fields, f);
            if (g && json_object_get(config, g->key)) continue;
            if (!f->def) return mx_fail("missing required config '%s'", f->key);
            json_error_t e;
            owned = json_loads(f->def, JSON_DECODE_ANY, &e);
            if (!owned) return mx_fail("internal: bad default for '%s'", f->key);
            val = owned;
        }
        int rc = read_field(l, f, val);
        json_decref(owned);
        if (rc) return -1;
    }
    json_t *tr = config ? json_object_get(config, "trainable") : NULL;
    if (tr && !json_is_boolean(tr)) return mx_fail("'trainable' must be true or false");
    /* a frozen nested model freezes everything in it, as in Keras */
    l->trainable = (tr ? json_is_true(tr) : 1) && (!l->scope || l->scope->trainable);
    json_t *dt = config ? json_object_get(config, "dtype") : NULL;
    if (dt && !json_is_null(dt)) {
        /* Keras 3 writes a DTypePolicy object */
        json_t *name = json_is_object(dt) ? json_object_get(json_object_get(dt, "config"), "name") : dt;
        const char *s = json_is_string(name) ? json_string_value(name) : "?";
        if (strcmp(s, "float32") != 0) return mx_fail("dtype '%s' is not supported (float32 only)", s);
    }
    return 0;
}

static json_t *write_field(const mx_layer *l, const mx_field *f) {
    const char *base = (const char *)l->cfg + f->offset;
    switch (f->kind) {
    case MX_FIELD_INT: return json_integer(*(const int *)base);
    case MX_FIELD_FLOAT: return real(*(const float *)base);
    case MX_FIELD_FLOAT_OR_NULL: return isnan(*(const float *)base) ? json_null() : real(*(const float *)base);
    case MX_FIELD_PADS: {
        const int *p = (const int *)base;
        return json_pack("[[i, i], [i, i]]", p[0], p[1], p[2], p[3]);
    }
    case MX_FIELD_BOOL: return json_boolean(*(const int *)base);
    case MX_FIELD_ENUM: return json_string(f->names[*(const int *)base]);
    case MX_FIELD_INTS: {
        const int *v = (const int *)base;
        if (v[0] == 0) return json_null(); /* e.g. pooling strides defaulting to the pool size */
        json_t *a = json_array();
        for (int i = 0; i < f->n; i++) json_array_append_new(a, json_integer(v[i]));
        return a;
    }
    case MX_FIELD_SHAPE:
    case MX_FIELD_AXES: {
        const mx_shape_cfg *s = (const mx_shape_cfg *)base;
        if (s->rank < 0) return json_null();
        if (f->kind == MX_FIELD_AXES && s->rank == 1) return json_integer(s->dims[0]);
        json_t *a = json_array();
        for (int i = 0; i < s->rank; i++)
            json_array_append_new(a, s->dims[i] < 0 && f->kind == MX_FIELD_SHAPE ? json_null() : json_integer(s->dims[i]));
        return a;
    }
    case MX_FIELD_ACT:
        if (!mx_act_has_params(l->act)) return json_string(mx_act_name(l->act.kind));
        return l->act.kind == MX_ACT_SOFTMAX
                   ? json_pack("{s:s, s:o}", "name", "softmax", "temperature", real(mx_act_temperature(l->act)))
                   : json_pack("{s:s, s:o}", "name", mx_act_name(l->act.kind), "alpha", real(l->act.alpha));
    case MX_FIELD_INIT: return mx_init_write((const mx_init *)base);
    case MX_FIELD_REG: return reg_write((const mx_reg *)base);
    case MX_FIELD_NULL: return json_null();
    case MX_FIELD_ACTIVATION: return json_string(mx_act_name(((const mx_act *)base)->kind));
    case MX_FIELD_BOOL_OR_NULL: return json_boolean(*(const int *)base);
    case MX_FIELD_ENUM_OR_NULL: return *(const int *)base < 0 ? json_null() : json_string(f->names[*(const int *)base]);
    case MX_FIELD_LAYER: {
        const mx_layer *inner = *(mx_layer *const *)base;
        return inner ? json_pack("{s:s, s:o}", "class_name", inner->type->class_name, "config", mx_config_write(inner))
                     : json_null();
    }
    case MX_FIELD_IGNORE:
    case MX_FIELD_END: break;
    }
    return NULL;
}

json_t *mx_config_write(const mx_layer *l) {
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(l->name));
    json_object_set_new(c, "trainable", json_boolean(l->trainable));
    json_object_set_new(c, "dtype", json_string("float32"));
    const mx_field *fields = l->type->fields;
    for (const mx_field *f = fields; f->key; f++) {
        if (alias_of(fields, f)) continue; /* written under the first name */
        json_t *v = write_field(l, f);
        if (v) json_object_set_new(c, f->key, v);
    }
    return c;
}
