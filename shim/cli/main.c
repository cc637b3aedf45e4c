/* main.c — portshim's subcommand dispatch, --help and --version. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

static void usage(FILE *f)
{
    fputs("usage: portshim run [--mode remap|unix|observe] [--manifest FILE] [--ports SPEC]\n"
          "                    [--inject SPEC [--seed S]] [--per-worker[=VAR[,VAR...]]]\n"
          "                    [--reap] [--share-with USER|GROUP]\n"
          "                    [--backend auto|preload|seccomp] -- CMD [ARG...]\n"
          "       portshim port [--manifest FILE] [--worker W] [--wait SECONDS] [--all]\n"
          "                     [--udp] PORT\n"
          "       portshim report [--manifest FILE] [--worker W]\n"
          "                       [--json | --html FILE [--compare OTHER]]\n"
          "       portshim stress [-n RUNS] [-j PARALLEL] [--timeout S] [--inject SPEC] [--seed S]\n"
          "                       [--mode remap|unix|observe] [--ports SPEC] [--shard K/N]\n"
          "                       [--shards N] [--for DURATION] [--until-fail] [--results FILE]\n"
          "                       [--junit FILE] [--per-worker[=VAR[,VAR...]]] -- CMD [ARG...]\n"
          "       portshim stress merge FILE...\n"
          "       portshim --help | --version\n"
          "\n"
          "Gives a command and all its children a private port namespace: programs\n"
          "bind any port number they like, the preloaded library binds a fresh\n"
          "kernel port (remap mode) or a UNIX socket (unix mode) instead and records\n"
          "the mapping in a manifest.\n"
          "\n"
          "  run     run CMD in a new namespace; exit with its status\n"
          "  port    print the real port (or socket path) of virtual PORT\n"
          "  report  who bound and dialled what, and every failed call\n"
          "  stress  run CMD many times at once, each in its own namespace; failure rate\n"
          "\n"
          "'portshim COMMAND --help' describes a command; see also portshim(1).\n",
          f);
}

int main(int argc, char **argv)
{
    cli_log_init();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "port"))
        return cmd_port(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "stress"))
        return cmd_stress(argc - 1, argv + 1);
    if (!strcmp(cmd, "attach-exec"))
        return cmd_attach_exec(argc - 1, argv + 1);
    if (cli_is_help(cmd) || !strcmp(cmd, "help")) {
        if (argc > 2 && !strcmp(argv[2], "run")) usage_run(stdout);
        else if (argc > 2 && !strcmp(argv[2], "port")) usage_port(stdout);
        else if (argc > 2 && !strcmp(argv[2], "report")) usage_report(stdout);
        else if (argc > 2 && !strcmp(argv[2], "stress")) usage_stress(stdout);
        else usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("portshim %s\n", PORTSHIM_VERSION);
        return 0;
    }
    cli_log(PS_LOG_ERROR, "unknown command '%s' (expected run, port, report or stress)", cmd);
    return usage_hint(NULL);
}
