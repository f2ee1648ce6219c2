/* SMTP command-line parsing (RFC 5321 section 4.1, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8,
 * RFC 4954 AUTH=): pure functions over one command line without its CRLF, no allocation, no I/O, so
 * they can be unit-tested and fuzzed on their own. */
#ifndef ORIGINMAIL_SMTP_PARSE_H
#define ORIGINMAIL_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_LHLO, /* LMTP's greeting (RFC 2033 4.1) */
};

struct smtp_command {
	enum smtp_verb verb;
	const char *arg; /* after the verb and the spaces that follow it; trailing spaces dropped */
	size_t arg_len;
};

/* Split a command line (no CRLF) into its verb (case-insensitive) and argument. A verb not in the table,
 * or glued to other characters ("MAILX"), is SMTP_VERB_UNKNOWN. */
void smtp_parse_command(const char *line, size_t len, struct smtp_command *out);
const char *smtp_verb_name(enum smtp_verb v);

#define SMTP_LOCAL_MAX  64u  /* RFC 5321 4.5.3.1.1, octets of the local part as sent */
#define SMTP_DOMAIN_MAX 255u /* 4.5.3.1.2 */
#define SMTP_PATH_MAX   256u /* 4.5.3.1.3, "<" ... ">" including a source route */
#define SMTP_ADDR_MAX   254u /* a mailbox that fits in a 256-octet path */

enum smtp_parse_status {
	SMTP_PARSE_OK,
	SMTP_PARSE_SYNTAX,        /* the command's shape: no "FROM:"/"TO:", no <...>: 501 5.5.4 */
	SMTP_PARSE_ADDRESS,       /* the address inside <...> is invalid or too long: 501 5.1.7 / 5.1.3 */
	SMTP_PARSE_UTF8,          /* a non-ASCII address in a transaction without SMTPUTF8: 553 5.6.7 */
	SMTP_PARSE_PARAM,         /* a malformed or repeated parameter: 501 5.5.4 */
	SMTP_PARSE_PARAM_UNKNOWN, /* a parameter or value we do not support: 555 5.5.4 */
};

struct smtp_path {
	bool null;        /* "<>" */
	bool utf8;        /* the address has non-ASCII (UTF-8) octets */
	size_t local_len; /* octets of addr before the '@' (all of addr for a bare postmaster) */
	/* Internal form: the local part with quoting removed, "@", the domain with ASCII lower-cased.
	 * Empty for <>; "postmaster" alone for RCPT TO:<postmaster>. Never contains CR, LF or NUL. */
	char addr[SMTP_ADDR_MAX + 1];
};

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

struct smtp_params {
	bool has_size;
	uint64_t size; /* SIZE=, saturated at UINT64_MAX */
	enum smtp_body body;
	bool smtputf8;
	bool has_auth;   /* AUTH=<xtext>|<> (RFC 4954 5): accepted, not used */
	const char *bad; /* on a PARAM or PARAM_UNKNOWN error: the offending parameter, inside arg */
	size_t bad_len;
};

/* "FROM:<reverse-path> [params]" (the argument of MAIL). Parameters are only accepted when esmtp
 * (the client said EHLO). A space after the colon is tolerated, as most servers do. */
enum smtp_parse_status smtp_parse_mail(const char *arg, size_t len, bool esmtp, struct smtp_path *path,
                                       struct smtp_params *params);
/* "TO:<forward-path> [params]" (the argument of RCPT). We support no RCPT parameters (no DSN), so any
 * is PARAM_UNKNOWN. <postmaster> without a domain is accepted (RFC 5321 4.1.1.3). smtputf8: the
 * transaction's MAIL had SMTPUTF8, so non-ASCII addresses are allowed. */
enum smtp_parse_status smtp_parse_rcpt(const char *arg, size_t len, bool esmtp, bool smtputf8,
                                       struct smtp_path *path, struct smtp_params *params);
/* One "<...>" at s: a source route "@a,@b:" is skipped (4.1.1.3), quoted local parts are unquoted into
 * path->addr. *used: the octets through '>'. Returns OK, SYNTAX (no '<' or '>') or ADDRESS. */
enum smtp_parse_status smtp_parse_path(const char *s, size_t len, bool allow_null, bool allow_postmaster,
                                       struct smtp_path *path, size_t *used);

/* A domain (sub-domain *("." sub-domain), at most 255 octets) or an address literal ([192.0.2.1],
 * [IPv6:2001:db8::1]). With utf8, U-labels (well-formed UTF-8) are accepted too. */
bool smtp_valid_domain(const char *s, size_t len, bool utf8);
/* The EHLO/HELO argument: a domain or an address literal, as above, or the word-like names real clients
 * send (NetBIOS names with '_'): letters, digits, "-._" only, or a literal. At most 255 octets. */
bool smtp_valid_helo(const char *s, size_t len);
bool smtp_utf8_valid(const char *s, size_t len);

/* The address as it goes on the wire and into headers: the local part quoted (with \" and \\) when it
 * is not a dot-string. Returns the length written (NUL-terminated), or 0 when cap is too small. */
size_t smtp_addr_external(const char *addr, size_t local_len, char *out, size_t cap);

/* smtp_base64.c. Strict base64 (RFC 4648 4): length a multiple of 4, '=' only as final padding, no
 * whitespace. Returns the decoded length, or -1 for invalid input or when out (cap octets) is too small. */
long smtp_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap);
/* Encode len octets; out needs 4 * ((len + 2) / 3) + 1 octets. Returns the length written. */
size_t smtp_b64_encode(const unsigned char *in, size_t len, char *out, size_t cap);

#endif
