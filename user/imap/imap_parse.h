/* The IMAP command-argument parser (RFC 3501 section 9): a cursor over one complete command (the
 * reader has assembled it: literals are in place as "{n}\r\n" or "{n+}\r\n" and n octets, the final
 * CRLF removed). Pure: no I/O, no session state. Quoted strings are unescaped in place, so the buffer
 * must be writable; returned strings point into it and are not NUL-terminated. */
#ifndef ORIGINMAIL_IMAP_PARSE_H
#define ORIGINMAIL_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct imap_str {
	const char *p;
	size_t len;
};

struct imap_parser {
	char *p, *end;
	const char *err; /* the first error, for the BAD text */
};

#define SEQ_STAR UINT32_MAX /* "*" in a sequence set */

struct imap_range {
	uint32_t lo, hi; /* as written; SEQ_STAR for "*" */
};

struct imap_seqset {
	struct imap_range *r;
	size_t n;
};

void ip_init(struct imap_parser *ps, char *buf, size_t len);
/* Record err (the first one only) and return false. */
static inline bool ip_fail(struct imap_parser *ps, const char *err)
{
	if (!ps->err)
		ps->err = err;
	return false;
}

bool ip_eol(const struct imap_parser *ps);
bool ip_peek(const struct imap_parser *ps, char c);
/* Consume c (exactly). */
bool ip_char(struct imap_parser *ps, char c);
bool ip_sp(struct imap_parser *ps);
/* atom: 1*ATOM-CHAR (no "(){ %*\"\\]" or controls). */
bool ip_atom(struct imap_parser *ps, struct imap_str *out);
/* A tag: an atom without '+'. */
bool ip_tag(struct imap_parser *ps, struct imap_str *out);
/* quoted / literal */
bool ip_string(struct imap_parser *ps, struct imap_str *out);
/* 1*ASTRING-CHAR (']' allowed) / string */
bool ip_astring(struct imap_parser *ps, struct imap_str *out);
/* NIL (out->p NULL) / string */
bool ip_nstring(struct imap_parser *ps, struct imap_str *out);
/* An astring without NUL, copied into out (NUL-terminated); "inbox" in any case becomes "INBOX". */
bool ip_mailbox(struct imap_parser *ps, char *out, size_t cap);
/* An astring without NUL, copied into out. */
bool ip_astring_copy(struct imap_parser *ps, char *out, size_t cap);
bool ip_number(struct imap_parser *ps, uint32_t *out);
bool ip_number64(struct imap_parser *ps, uint64_t *out);
/* sequence-set: ranges, '*' as SEQ_STAR; out->r is malloc'd (seqset_free). */
bool ip_seqset(struct imap_parser *ps, struct imap_seqset *out);
/* date: d-Mon-yyyy, optionally quoted -> midnight UTC of that day. */
bool ip_date(struct imap_parser *ps, time_t *out);
/* date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" -> the instant. */
bool ip_datetime(struct imap_parser *ps, time_t *out);
/* flag: "\\" atom / atom (keywords); out includes the backslash. */
bool ip_flag(struct imap_parser *ps, struct imap_str *out);

/* Does the set contain v, "*" standing for star (the highest number in use)? */
bool seqset_contains(const struct imap_seqset *s, uint32_t v, uint32_t star);
/* The largest number the set names, "*" as star. */
uint32_t seqset_max(const struct imap_seqset *s, uint32_t star);
void seqset_free(struct imap_seqset *s);

/* Case-insensitive compare of a parsed token with a word. */
bool istr_is(struct imap_str s, const char *word);

/* Where a line ends in a literal announcement "{n}" or "{n+}" (before its CRLF): its size and whether
 * it is non-synchronizing. line excludes the CRLF. False when the line does not end in one; *bad when
 * it looks like one but is malformed (no digits, too large a number). */
bool ip_literal_at_end(const char *line, size_t len, uint64_t *size, bool *plus, bool *bad);

#endif
