/* generate.c: `mlexp generate MODEL_DIR ...`: the generators of the model
 * kinds that make things (metadata.json "kind"); each kind parses its own
 * options. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: mlexp generate MODEL_DIR [options]\n\n"
               "Generate with a trained model; the options depend on its kind (metadata.json \"kind\"):\n"
               "  text   --prime TEXT --length N --temperature T [--seed S]   (mlexp generate MODEL_DIR --help)\n");
}

int cli_generate(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (argv[0][0] == '-') {
        fprintf(stderr, "mlexp generate: error: the first argument must be MODEL_DIR, got '%s'\n", argv[0]);
        usage(stderr);
        return 2;
    }
    json_t *meta = cli_metadata_load(argv[0]);
    if (!meta) return cli_error("generate", "%s", mx_error());
    const char *kind = json_string_value(json_object_get(meta, "kind"));
    int rc;
    if (kind && !strcmp(kind, "text"))
        rc = cli_generate_text(argv[0], meta, argc - 1, argv + 1);
    else
        rc = cli_error("generate", "%s/metadata.json: model kind '%s' cannot generate (known kinds: text)", argv[0],
                       kind ? kind : "(none: not a generative model)");
    json_decref(meta);
    return rc;
}
