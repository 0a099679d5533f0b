/* generate.c: `mlexp generate MODEL_DIR ...`: what a generative model makes.
 * A dispatcher on metadata.json's "kind"; each kind parses its own options
 * (generate_text.c for "text", generate_gan.c for "gan"). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: mlexp generate MODEL_DIR [options]\n\n"
               "Generate with a trained generative model; the options depend on its kind\n"
               "(metadata.json's \"kind\"): mlexp generate MODEL_DIR --help lists them.\n"
               "  text   characters streamed from a prime (--prime TEXT --length N --temperature T [--seed S])\n"
               "  gan    a grid of generated images from a noise seed (--noise-seed S --out grid.png)\n");
}

int cli_generate(int argc, char **argv) {
    if (argc < 1 || argv[0][0] == '-') { /* MODEL_DIR comes first */
        int help = argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"));
        if (!help && argc >= 1)
            fprintf(stderr, "mlexp generate: error: the first argument must be MODEL_DIR, got '%s'\n", argv[0]);
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    json_t *meta = cli_metadata_load(argv[0]);
    if (!meta) return cli_error("generate", "%s", mx_error());
    json_t *k = json_object_get(meta, "kind");
    const char *kind = json_is_string(k) ? json_string_value(k) : NULL;
    int rc;
    if (kind && !strcmp(kind, "text"))
        rc = cli_generate_text(argv[0], meta, argc - 1, argv + 1);
    else if (kind && !strcmp(kind, "gan"))
        rc = cli_generate_gan(argv[0], meta, argc - 1, argv + 1);
    else
        rc = cli_error("generate", "%s/metadata.json: %s%s%s is not a generative model (kinds: text, gan)", argv[0],
                       kind ? "kind \"" : "no \"kind\": the model", kind ? kind : "", kind ? "\"" : "");
    json_decref(meta);
    return rc;
}
