/* Shared by the mailbox unit tests: a fresh Maildir per test; deliveries the way SMTP makes them are
 * deliver_test.h's. */
#ifndef ORIGINMAIL_TEST_MAILBOX_TEST_H
#define ORIGINMAIL_TEST_MAILBOX_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/maildir.h"

#include "deliver_test.h"

struct fx {
	char root[64];
	char md[128]; /* the INBOX Maildir */
};

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static inline int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/om-mailbox-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->md, sizeof(f->md), "%s/Maildir", f->root);
	assert_true(maildir_ensure(f->md, err, sizeof(err)));
	*state = f;
	return 0;
}

static inline int teardown(void **state)
{
	struct fx *f = *state;
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

#endif
