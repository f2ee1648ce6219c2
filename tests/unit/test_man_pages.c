/* originmail.conf(5) documents every key the parser knows, and nothing else as a key: the key list comes
 * from the parser's own table (config_key_name), the man page's from its ".It Cm KEY No =" entries in the
 * GLOBAL KEYS and LISTENER KEYS sections. Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"

#define MAN_PAGE "man/originmail.conf.5"

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f) {
		print_message("cannot open %s (run from the repository root)\n", path);
		fail();
	}
	assert_int_equal(getdelim(&buf, &len, '\0', f) > 0, 1);
	fclose(f);
	return buf;
}

/* The ".It Cm KEY No =" entries of one section (".Sh NAME" up to the next ".Sh"), one name per line. */
static char *section_keys(const char *page, const char *section)
{
	char head[64];
	const char *p, *end;
	size_t n = 0;
	char *out = calloc(1, strlen(page) + 1);

	assert_non_null(out);
	snprintf(head, sizeof(head), "\n.Sh %s\n", section);
	p = strstr(page, head);
	assert_non_null(p);
	p += strlen(head);
	end = strstr(p, "\n.Sh ");
	if (!end)
		end = p + strlen(p);
	while ((p = strstr(p, "\n.It Cm ")) && p < end) {
		p += strlen("\n.It Cm ");
		size_t len = strcspn(p, " \n");
		if (!strncmp(p + len, " No =", 5)) {
			memcpy(out + n, p, len);
			n += len;
			out[n++] = '\n';
		}
	}
	return out;
}

static bool has_line(const char *lines, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = lines; (p = strstr(p, word)); p++) {
		if ((p == lines || p[-1] == '\n') && p[n] == '\n')
			return true;
	}
	return false;
}

static void test_every_key_documented(void **state)
{
	(void)state;
	char *page = read_all(MAN_PAGE);
	char *global = section_keys(page, "GLOBAL KEYS"), *listener = section_keys(page, "LISTENER KEYS");
	const char *name;
	bool in_listener;
	unsigned missing = 0, nkeys = 0;

	for (size_t i = 0; (name = config_key_name(i, &in_listener)); i++) {
		nkeys++;
		if (!has_line(in_listener ? listener : global, name)) {
			print_message("%s key '%s' has no \".It Cm %s No =\" entry in %s (%s)\n",
			              in_listener ? "listener" : "global", name, name, MAN_PAGE,
			              in_listener ? "LISTENER KEYS" : "GLOBAL KEYS");
			missing++;
		}
	}
	assert_true(nkeys > 30); /* the table is really there */
	/* ... and the other way: every documented key is one the parser knows, in that scope */
	for (int scope = 0; scope < 2; scope++) {
		char *lines = scope ? listener : global;
		for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
			bool known = false;
			for (size_t i = 0; (name = config_key_name(i, &in_listener)); i++)
				known |= in_listener == (scope == 1) && !strcmp(name, line);
			if (!known) {
				print_message("%s documents '%s' as a %s key: the parser has no such key\n",
				              MAN_PAGE, line, scope ? "listener" : "global");
				missing++;
			}
		}
	}
	assert_int_equal(missing, 0);
	free(global);
	free(listener);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_key_documented),
	};
	return cmocka_run_group_tests_name("man_pages", tests, NULL, NULL);
}
