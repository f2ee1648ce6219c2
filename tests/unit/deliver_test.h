/* Shared by the mailbox, IMAP and POP3 unit tests: a delivery the way SMTP makes it. Header-only (static
 * inline). */
#ifndef ORIGINMAIL_TEST_DELIVER_TEST_H
#define ORIGINMAIL_TEST_DELIVER_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "store/maildir.h"

/* Into md's new/, no lock. */
static inline void deliver(const char *md, const char *text)
{
	char err[256];
	struct maildir_tx *tx = maildir_tx_begin(md, err, sizeof(err));
	assert_non_null(tx);
	assert_true(maildir_tx_write(tx, text, strlen(text)));
	const char *dirs[] = {md};
	assert_true(maildir_tx_commit(tx, dirs, 1, err, sizeof(err)));
}

#endif
