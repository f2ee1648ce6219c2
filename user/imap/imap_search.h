/* SEARCH criteria (RFC 3501 6.4.4) as a tree: parsed by imap_search.c, evaluated per message by
 * imap_search_eval.c. */
#ifndef ORIGINMAIL_IMAP_SEARCH_H
#define ORIGINMAIL_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap/imap_parse.h"

#define SEARCH_MAX_DEPTH 32
#define SEARCH_MAX_NODES 1000

enum skey {
	SK_ALL,
	SK_NONE,   /* KEYWORD: keywords are not kept, so none matches */
	SK_FLAG,   /* flag set (or, with not, clear) */
	SK_NEW,    /* \Recent and not \Seen */
	SK_RECENT, /* \Recent */
	SK_HEADER, /* field contains str (field "": any) */
	SK_BODY,   /* body contains str */
	SK_TEXT,   /* header or body contains str */
	SK_BEFORE, /* internal date, day granularity */
	SK_ON,
	SK_SINCE,
	SK_SENTBEFORE, /* Date: header */
	SK_SENTON,
	SK_SENTSINCE,
	SK_LARGER,
	SK_SMALLER,
	SK_UID,
	SK_SEQ,
	SK_NOT,
	SK_OR,
	SK_AND, /* a parenthesized list: every child */
};

struct snode {
	enum skey key;
	unsigned flag;
	char *field, *str; /* HEADER's field name, and the string searched for (NUL-terminated) */
	size_t slen;
	time_t day; /* dates: midnight UTC of the day */
	uint64_t n;
	struct imap_seqset set;
	struct snode *kids; /* NOT: one; OR: two; AND: the list */
	struct snode *next; /* the next sibling */
};

/* Parse "[CHARSET x] key..." to the end of the command into an AND node. *badcharset when the charset
 * is not US-ASCII or UTF-8. NULL on a syntax error (ps->err says what). */
struct snode *search_parse(struct imap_parser *ps, bool *badcharset);
void search_free(struct snode *n);
/* What evaluating needs: the header, the whole message. */
void search_needs(const struct snode *n, bool *header, bool *body);

/* Case-insensitive (ASCII) substring search. */
bool search_contains(const char *hay, size_t hlen, const char *needle, size_t nlen);

#endif
