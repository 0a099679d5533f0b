/* gradcheck.c: placeholder until the command lands */
#include "cli/cli.h"
int cmd_gradcheck(int argc, char **argv) { (void)argc; (void)argv; return 2; }
