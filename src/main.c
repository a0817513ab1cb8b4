/* Entry point: wiring only. Every subcommand lives in src/cli/. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return blend_cli_main(argc, argv);
}
