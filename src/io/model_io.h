/* model_io.h: the TF.js layers model format: model.json (Keras topology
 * + weightsManifest) and binary weight shards. */
#ifndef MX_MODEL_IO_H
#define MX_MODEL_IO_H

#include "graph/graph.h"

#include <jansson.h>

mx_model *mx_topology_read(json_t *topology, const char *origin, uint64_t seed);
json_t *mx_topology_write(const mx_model *m);

/* Where the shards named by a manifest's paths are: files in dir, or (dir
 * NULL) buffers in memory, found by name. */
typedef struct mx_shard_source {
    const char *dir;
    const mx_shard *shards;
    int n_shards;
} mx_shard_source;

/* Read the weights listed in a manifest from the shards of src into the
 * model's parameters (matched by name). With require_all, every parameter
 * must be found; *loaded (may be NULL) receives how many were. */
int mx_weights_read(mx_model *m, json_t *manifest, const mx_shard_source *src, const char *origin, int require_all,
                    int *loaded);
/* Write every parameter into shards of at most 4 MiB in dir; returns the
 * manifest, or NULL. */
json_t *mx_weights_write(const mx_model *m, const char *dir);

/* Keras trainingConfig: loss and optimizer of a compiled model, or NULL. */
json_t *mx_training_config_write(const mx_model *m);

#endif
