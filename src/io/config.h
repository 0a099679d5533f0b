/* config.h: Keras layer configs <-> layer structs, driven by each layer
 * type's field table (layers/config.h). */
#ifndef MX_IO_CONFIG_H
#define MX_IO_CONFIG_H

#include "graph/graph.h"

#include <jansson.h>

/* Fill l->cfg, l->act and l->trainable from a Keras config object. Every
 * key must be known; options we do not support are errors naming the key. */
int mx_config_read(mx_layer *l, json_t *config);
/* The full Keras config of a layer (name, trainable, dtype, every field). */
json_t *mx_config_write(const mx_layer *l);

int mx_init_read(json_t *j, mx_init *out);
json_t *mx_init_write(const mx_init *i);

/* "line 3, column 7: ..." for a jansson error */
int mx_json_fail(const char *origin, const json_error_t *e);
/* json_dumps to a file, via path.tmp + rename */
int mx_json_save(json_t *j, const char *path);

#endif
