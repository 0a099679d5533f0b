/* config.h: layer config schemas. Each layer type lists its Keras config keys
 * with a kind, where the value lives in its config struct, and the Keras
 * default as JSON text. io/config.c reads and writes configs from these
 * tables, so layer files never touch JSON. */
#ifndef MX_LAYER_CONFIG_H
#define MX_LAYER_CONFIG_H

#include <stddef.h>

typedef enum mx_field_kind {
    MX_FIELD_END = 0,
    MX_FIELD_INT,      /* int */
    MX_FIELD_FLOAT,    /* float */
    MX_FIELD_FLOAT_OR_NULL, /* float; null is stored as NAN */
    MX_FIELD_BOOL,     /* int, 0 or 1 */
    MX_FIELD_ENUM,     /* int index into names (a string in JSON) */
    MX_FIELD_INTS,     /* int[n]; JSON int (repeated) or list of n ints */
    MX_FIELD_SHAPE,    /* mx_shape_cfg; list of ints or nulls (stored as -1) */
    MX_FIELD_AXES,     /* mx_shape_cfg; int or list of ints (may be negative) */
    MX_FIELD_PADS,     /* int[4] top, bottom, left, right; JSON n, [h, w] or [[t, b], [l, r]] */
    MX_FIELD_ACT,      /* the layer's fused activation (layer->act) */
    MX_FIELD_INIT,     /* mx_init */
    MX_FIELD_REG,      /* mx_reg; null or {"class_name": "L2", ...} */
    MX_FIELD_NULL,     /* a Keras option we support only when null (constraints) */
    MX_FIELD_ACTIVATION, /* mx_act in the config struct (a recurrent layer's inner activations) */
    MX_FIELD_BOOL_OR_NULL, /* int, 0 or 1; null (TF.js's unset) reads as 0 */
    MX_FIELD_ENUM_OR_NULL, /* int index into names, -1 for null */
    MX_FIELD_LAYER,    /* mx_layer *: {"class_name": ..., "config": ...} read as a layer inside this one */
    MX_FIELD_IGNORE,   /* accepted, not used, not written back */
} mx_field_kind;

typedef struct mx_field {
    const char *key;
    mx_field_kind kind;
    size_t offset;            /* into the layer's config struct */
    const char *def;          /* default as JSON text; NULL = required */
    int n;                    /* MX_FIELD_INTS: tuple length */
    const char *const *names; /* MX_FIELD_ENUM: NULL-terminated */
} mx_field;

typedef struct mx_shape_cfg {
    int rank;         /* -1: the whole shape is null */
    long long dims[8];
} mx_shape_cfg;

extern const char *const mx_padding_names[]; /* "valid", "same" */
enum { MX_PAD_VALID, MX_PAD_SAME };
extern const char *const mx_data_format_names[]; /* "channels_last", "channels_first" */

#endif
