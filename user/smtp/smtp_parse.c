/* SMTP command-line parsing: verbs, MAIL/RCPT paths and ESMTP parameters, domains. No
 * allocation and no I/O; everything is bounded by the line it is given. */
#include "smtp/smtp_parse.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
        {"HELO", SMTP_VERB_HELO},         {"EHLO", SMTP_VERB_EHLO}, {"MAIL", SMTP_VERB_MAIL},
        {"RCPT", SMTP_VERB_RCPT},         {"DATA", SMTP_VERB_DATA}, {"BDAT", SMTP_VERB_BDAT},
        {"RSET", SMTP_VERB_RSET},         {"NOOP", SMTP_VERB_NOOP}, {"QUIT", SMTP_VERB_QUIT},
        {"VRFY", SMTP_VERB_VRFY},         {"EXPN", SMTP_VERB_EXPN}, {"HELP", SMTP_VERB_HELP},
        {"STARTTLS", SMTP_VERB_STARTTLS}, {"AUTH", SMTP_VERB_AUTH}, {"LHLO", SMTP_VERB_LHLO},
};

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static char to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool prefix_ci(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);
	return len >= n && strncasecmp(s, p, n) == 0;
}

static bool equal_ci(const char *s, size_t len, const char *p)
{
	return strlen(p) == len && strncasecmp(s, p, len) == 0;
}

void smtp_parse_command(const char *line, size_t len, struct smtp_command *out)
{
	size_t v = 0;

	while (v < len && line[v] != ' ')
		v++;
	out->verb = SMTP_VERB_UNKNOWN;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (equal_ci(line, v, verbs[i].name)) {
			out->verb = verbs[i].verb;
			break;
		}
	}
	size_t a = v;
	while (a < len && line[a] == ' ')
		a++;
	size_t e = len;
	while (e > a && (line[e - 1] == ' ' || line[e - 1] == '\t'))
		e--;
	out->arg = line + a;
	out->arg_len = e - a;
}

const char *smtp_verb_name(enum smtp_verb v)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (verbs[i].verb == v)
			return verbs[i].name;
	}
	return "UNKNOWN";
}

/* ---- UTF-8 ---- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, <= U+10FFFF),
 * or 0. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return n;
}

bool smtp_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* ---- domains ---- */

static bool valid_literal(const char *s, size_t len)
{
	char buf[64];

	if (len < 2 || s[0] != '[' || s[len - 1] != ']')
		return false;
	s++;
	len -= 2;
	int af = AF_INET;
	if (prefix_ci(s, len, "IPv6:")) {
		af = AF_INET6;
		s += 5;
		len -= 5;
	}
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	unsigned char addr[16];
	return inet_pton(af, buf, addr) == 1;
}

bool smtp_valid_domain(const char *s, size_t len, bool utf8)
{
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	if (s[0] == '[')
		return valid_literal(s, len);
	if (utf8 && !smtp_utf8_valid(s, len))
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool last = i + 1 == len || s[i + 1] == '.';
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		bool letdig = is_alnum(c) || (utf8 && c >= 0x80);
		if (!letdig && !(c == '-' && label > 0 && !last))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

bool smtp_valid_helo(const char *s, size_t len)
{
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	if (s[0] == '[')
		return valid_literal(s, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
			return false;
	}
	return true;
}

/* ---- addresses ---- */

static bool is_atext(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Is s a Dot-string (Atom *("." Atom)), non-ASCII octets counted as atext? */
static bool is_dot_string(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext(c) && c < 0x80) {
			return false;
		}
	}
	return true;
}

/* The local part at s[0..len) as sent, into out (unquoted). Returns the octets written or -1. */
static long parse_local(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	if (len == 0 || len > SMTP_LOCAL_MAX)
		return -1;
	if (s[0] != '"') {
		if (!is_dot_string(s, len) || len > cap)
			return -1;
		memcpy(out, s, len);
		return (long)len;
	}
	if (len < 2 || s[len - 1] != '"')
		return -1;
	for (size_t i = 1; i < len - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			if (++i >= len - 1)
				return -1;
			c = (unsigned char)s[i];
			if (c < 32 || c > 126)
				return -1;
		} else if (c == '"' || (c < 32) || c == 127) {
			return -1;
		}
		if (o >= cap)
			return -1;
		out[o++] = (char)c;
	}
	return (long)o;
}

/* Where the local part ends: the '@' outside quotes, or len. */
static size_t local_end(const char *s, size_t len)
{
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (quoted && s[i] == '\\') {
			i++;
		} else if (s[i] == '"') {
			quoted = !quoted;
		} else if (!quoted && s[i] == '@') {
			return i;
		}
	}
	return len;
}

/* Skip a source route "@dom,@dom:" at s; returns the octets it takes, or 0 when malformed. */
static size_t skip_route(const char *s, size_t len)
{
	size_t i = 0;

	for (;;) {
		if (i >= len || s[i] != '@')
			return 0;
		size_t d = ++i;
		while (i < len && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= len || !smtp_valid_domain(s + d, i - d, false))
			return 0;
		if (s[i++] == ':')
			return i;
	}
}

static bool has_high(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

enum smtp_parse_status smtp_parse_path(const char *s, size_t len, bool allow_null, bool allow_postmaster,
                                       struct smtp_path *path, size_t *used)
{
	memset(path, 0, sizeof(*path));
	*used = 0;
	if (len == 0 || s[0] != '<')
		return SMTP_PARSE_SYNTAX;
	/* The closing '>': the first one outside a quoted string. */
	size_t end = 1;
	bool quoted = false;
	for (; end < len; end++) {
		if (quoted && s[end] == '\\' && end + 1 < len)
			end++;
		else if (s[end] == '"')
			quoted = !quoted;
		else if (!quoted && s[end] == '>')
			break;
	}
	if (end >= len)
		return SMTP_PARSE_SYNTAX;
	*used = end + 1;
	if (end + 1 > SMTP_PATH_MAX)
		return SMTP_PARSE_ADDRESS;
	const char *p = s + 1;
	size_t n = end - 1;
	if (n == 0) {
		if (!allow_null)
			return SMTP_PARSE_ADDRESS;
		path->null = true;
		return SMTP_PARSE_OK;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 32 || c == 127)
			return SMTP_PARSE_ADDRESS;
	}
	if (p[0] == '@') {
		size_t r = skip_route(p, n);
		if (r == 0)
			return SMTP_PARSE_ADDRESS;
		p += r;
		n -= r;
	}
	path->utf8 = has_high(p, n);
	if (path->utf8 && !smtp_utf8_valid(p, n))
		return SMTP_PARSE_ADDRESS;
	size_t at = local_end(p, n);
	if (at == n) {
		if (!allow_postmaster || !equal_ci(p, n, "postmaster"))
			return SMTP_PARSE_ADDRESS;
		memcpy(path->addr, "postmaster", 10);
		path->local_len = 10;
		return SMTP_PARSE_OK;
	}
	long l = parse_local(p, at, path->addr, sizeof(path->addr) - 1);
	if (l <= 0)
		return SMTP_PARSE_ADDRESS;
	const char *dom = p + at + 1;
	size_t dlen = n - at - 1;
	if (!smtp_valid_domain(dom, dlen, path->utf8))
		return SMTP_PARSE_ADDRESS;
	size_t o = (size_t)l;
	if (o + 1 + dlen > SMTP_ADDR_MAX)
		return SMTP_PARSE_ADDRESS;
	path->local_len = o;
	path->addr[o++] = '@';
	for (size_t i = 0; i < dlen; i++) /* an address literal stays as it is ("IPv6:") */
		path->addr[o++] = dom[0] == '[' ? dom[i] : to_lower(dom[i]);
	path->addr[o] = '\0';
	return SMTP_PARSE_OK;
}

/* ---- parameters ---- */

static bool valid_keyword(const char *s, size_t len)
{
	if (len == 0 || !is_alnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	}
	return true;
}

/* esmtp-value: 1*(%d33-60 / %d62-126), and UTF-8 (RFC 6531 3.3). */
static bool valid_value(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c == '=' || c == 127)
			return false;
	}
	return smtp_utf8_valid(s, len);
}

/* xtext (RFC 3461 4): "+" followed by two upper-case hex digits, or %d33-42 / %d44-60 / %d62-126. */
static bool valid_xtext(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			for (int k = 1; k <= 2; k++) {
				unsigned char h = i + (size_t)k < len ? (unsigned char)s[i + (size_t)k] : 0;
				if (!is_digit(h) && !(h >= 'A' && h <= 'F'))
					return false;
			}
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	return true;
}

static enum smtp_parse_status mail_param(const char *kw, size_t klen, const char *val, size_t vlen,
                                         bool has_val, struct smtp_params *p)
{
	if (equal_ci(kw, klen, "SIZE")) {
		if (p->has_size)
			return SMTP_PARSE_PARAM;
		if (!has_val || vlen == 0 || vlen > 20)
			return SMTP_PARSE_PARAM;
		uint64_t v = 0;
		for (size_t i = 0; i < vlen; i++) {
			if (!is_digit((unsigned char)val[i]))
				return SMTP_PARSE_PARAM;
			unsigned d = (unsigned)(val[i] - '0');
			v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		}
		p->has_size = true;
		p->size = v;
	} else if (equal_ci(kw, klen, "BODY")) {
		if (p->body != SMTP_BODY_NONE || !has_val)
			return SMTP_PARSE_PARAM;
		if (equal_ci(val, vlen, "7BIT"))
			p->body = SMTP_BODY_7BIT;
		else if (equal_ci(val, vlen, "8BITMIME"))
			p->body = SMTP_BODY_8BITMIME;
		else
			return SMTP_PARSE_PARAM_UNKNOWN;
	} else if (equal_ci(kw, klen, "SMTPUTF8")) {
		if (p->smtputf8 || has_val)
			return SMTP_PARSE_PARAM;
		p->smtputf8 = true;
	} else if (equal_ci(kw, klen, "AUTH")) {
		if (p->has_auth || !has_val)
			return SMTP_PARSE_PARAM;
		if (!equal_ci(val, vlen, "<>") && !valid_xtext(val, vlen))
			return SMTP_PARSE_PARAM;
		p->has_auth = true;
	} else {
		return SMTP_PARSE_PARAM_UNKNOWN;
	}
	return SMTP_PARSE_OK;
}

/* The parameters after the path: SP-separated keyword[=value]. rcpt: none is supported. */
static enum smtp_parse_status parse_params(const char *s, size_t len, bool esmtp, bool rcpt,
                                           struct smtp_params *p)
{
	size_t i = 0;

	if (len == 0)
		return SMTP_PARSE_OK;
	if (s[0] != ' ')
		return SMTP_PARSE_SYNTAX;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			return SMTP_PARSE_OK;
		size_t start = i;
		while (i < len && s[i] != ' ')
			i++;
		const char *tok = s + start;
		size_t tlen = i - start;
		const char *eq = memchr(tok, '=', tlen);
		size_t klen = eq ? (size_t)(eq - tok) : tlen;
		const char *val = eq ? eq + 1 : NULL;
		size_t vlen = eq ? tlen - klen - 1 : 0;
		enum smtp_parse_status st;
		p->bad = tok;
		p->bad_len = tlen;
		if (!valid_keyword(tok, klen) || (eq && !valid_value(val, vlen)))
			st = SMTP_PARSE_PARAM;
		else if (!esmtp || rcpt)
			st = SMTP_PARSE_PARAM_UNKNOWN;
		else
			st = mail_param(tok, klen, val, vlen, eq != NULL, p);
		if (st != SMTP_PARSE_OK)
			return st;
		p->bad = NULL;
		p->bad_len = 0;
	}
}

static enum smtp_parse_status parse_mail_rcpt(const char *arg, size_t len, const char *prefix, bool esmtp,
                                              bool rcpt, bool smtputf8, struct smtp_path *path,
                                              struct smtp_params *params)
{
	size_t plen = strlen(prefix), used;

	memset(path, 0, sizeof(*path));
	memset(params, 0, sizeof(*params));
	if (!prefix_ci(arg, len, prefix))
		return SMTP_PARSE_SYNTAX;
	arg += plen;
	len -= plen;
	while (len > 0 && arg[0] == ' ') {
		arg++;
		len--;
	}
	enum smtp_parse_status st = smtp_parse_path(arg, len, !rcpt, rcpt, path, &used);
	if (st != SMTP_PARSE_OK)
		return st;
	st = parse_params(arg + used, len - used, esmtp, rcpt, params);
	if (st != SMTP_PARSE_OK)
		return st;
	if (path->utf8 && !(rcpt ? smtputf8 : params->smtputf8))
		return SMTP_PARSE_UTF8;
	return SMTP_PARSE_OK;
}

enum smtp_parse_status smtp_parse_mail(const char *arg, size_t len, bool esmtp, struct smtp_path *path,
                                       struct smtp_params *params)
{
	return parse_mail_rcpt(arg, len, "FROM:", esmtp, false, false, path, params);
}

enum smtp_parse_status smtp_parse_rcpt(const char *arg, size_t len, bool esmtp, bool smtputf8,
                                       struct smtp_path *path, struct smtp_params *params)
{
	return parse_mail_rcpt(arg, len, "TO:", esmtp, true, smtputf8, path, params);
}

size_t smtp_addr_external(const char *addr, size_t local_len, char *out, size_t cap)
{
	size_t o = 0, len = strlen(addr);

	if (local_len > len)
		return 0;
	if (!is_dot_string(addr, local_len)) {
		if (o + 1 >= cap)
			return 0;
		out[o++] = '"';
		for (size_t i = 0; i < local_len; i++) {
			if (o + 3 >= cap)
				return 0;
			if (addr[i] == '"' || addr[i] == '\\')
				out[o++] = '\\';
			out[o++] = addr[i];
		}
		out[o++] = '"';
	} else {
		if (o + local_len >= cap)
			return 0;
		memcpy(out + o, addr, local_len);
		o += local_len;
	}
	size_t rest = len - local_len;
	if (o + rest >= cap)
		return 0;
	memcpy(out + o, addr + local_len, rest);
	o += rest;
	out[o] = '\0';
	return o;
}
