/* originctl: the operator's tool. Dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "originctl.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
        {"proxy-decode", cmd_proxy_decode,
         "[--v1-only|--v2-only] [--max-header N] [FILE]  decode a PROXY header"},
        {"proxy-encode", cmd_proxy_encode, "--src ADDR:PORT --dst ADDR:PORT [options]  write a PROXY header"},
        {"passwd", cmd_passwd, "[-c CONFIG] USER@DOMAIN  set a user's password (yescrypt)"},
        {"conns", cmd_conns, "[--json] [--pin-dir DIR]  live connections from the pinned BPF maps"},
        {"policy", cmd_policy, "[--json] [--pin-dir DIR]  CIDR lists loaded into the pinned BPF tries"},
        {"stats", cmd_stats, "[--json] [ADDR]  an instance's metrics (default 127.0.0.1:9154) as a table"},
        {"limits", cmd_limits,
         "[--json] [--pin-dir DIR]  per-origin abuse-limit table shared by the instances"},
        {"unpin", cmd_unpin, "[--pin-dir DIR]  remove the pinned BPF maps once no instance uses them"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: originctl COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'originctl COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 64;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "originctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 64;
}
