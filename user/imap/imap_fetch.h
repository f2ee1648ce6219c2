/* FETCH requests: what was asked (parsed by imap_fetch_parse.c), answered per message by
 * imap_fetch.c. */
#ifndef ORIGINMAIL_IMAP_FETCH_H
#define ORIGINMAIL_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_msg.h"
#include "imap/imap_parse.h"

enum {
	F_UID = 1u << 0,
	F_FLAGS = 1u << 1,
	F_INTERNALDATE = 1u << 2,
	F_SIZE = 1u << 3,
	F_ENVELOPE = 1u << 4,
	F_BODY = 1u << 5,
	F_BODYSTRUCTURE = 1u << 6,
};

enum section_kind { SEC_ALL, SEC_HEADER, SEC_FIELDS, SEC_FIELDS_NOT, SEC_TEXT, SEC_MIME };

#define FETCH_MAX_FIELDS 64
#define FETCH_MAX_BODIES 32

struct fetch_body {
	const char *label; /* "RFC822", "RFC822.HEADER", "RFC822.TEXT", or NULL for BODY[...] */
	bool peek;
	uint32_t path[MIME_MAX_DEPTH];
	size_t npath;
	enum section_kind kind;
	char *fields[FETCH_MAX_FIELDS]; /* HEADER.FIELDS names, upper case */
	size_t nfields;
	bool partial;
	uint64_t start, count;
	char spec[512]; /* the section as echoed: "1.HEADER.FIELDS (FROM TO)" */
};

struct fetch_req {
	unsigned bits; /* F_* */
	struct fetch_body bodies[FETCH_MAX_BODIES];
	size_t nbodies;
};

/* Parse fetch attributes (a macro, one attribute, or a parenthesized list) up to the end of the
 * command. */
bool fetch_parse(struct imap_parser *ps, struct fetch_req *req);
void fetch_req_free(struct fetch_req *req);
/* Is the whole message needed (not only its header) to answer? */
bool fetch_needs_body(const struct fetch_req *req);
/* Does answering set \Seen (a BODY[...] that is not PEEK, RFC822, RFC822.TEXT)? */
bool fetch_sets_seen(const struct fetch_req *req);
/* The octets a body item names in m: *p and *n (empty when the section names nothing). */
void fetch_section(struct imap_msg *m, const struct fetch_body *b, const char **p, size_t *n, char **owned);

#endif
