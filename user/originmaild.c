/* originmaild: the mail daemon. This first cut knows its version and usage; the listeners, the
 * protocol sessions and the BPF side arrive with the daemon core (see the README's status). */
#include <stdio.h>
#include <string.h>

#include "originmail/version.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: originmaild [-c CONFIG] [--version]\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("originmaild %s\n", ORIGINMAIL_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	fprintf(stderr, "originmaild: no listeners in this build yet\n");
	return 64;
}
