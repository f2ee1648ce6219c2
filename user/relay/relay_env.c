/* The envelope of a queued message as text, and dot-stuffing for the outbound DATA. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay.h"
#include "util/obuf.h"

#define ENV_MAGIC "originmail-queue 1"

bool relay_valid_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n >= RELAY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

bool relay_env_add_rcpt(struct relay_env *e, const char *addr)
{
	char **v = realloc(e->rcpts, (e->nrcpt + 1) * sizeof(*v));

	if (!v)
		return false;
	e->rcpts = v;
	if (!(v[e->nrcpt] = strdup(addr)))
		return false;
	e->nrcpt++;
	return true;
}

void relay_env_free(struct relay_env *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nrcpt; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	free(e->from);
	free(e->error);
	memset(e, 0, sizeof(*e));
}

/* A value that fits on one line. */
static bool one_line(const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\r' || *s == '\n')
			return false;
	}
	return true;
}

char *relay_env_format(const struct relay_env *e)
{
	struct obuf b = {0};

	if (!relay_valid_id(e->id) || !one_line(e->from) || !one_line(e->error))
		return NULL;
	obuf_printf(&b, ENV_MAGIC "\nid %s\narrival %lld\nnext %lld\nattempts %u\nutf8 %d\nfrom %s\n", e->id,
	            e->arrival, e->next, e->attempts, e->utf8 ? 1 : 0, e->from ? e->from : "");
	for (size_t i = 0; i < e->nrcpt; i++) {
		if (!one_line(e->rcpts[i]) || !*e->rcpts[i]) {
			obuf_free(&b);
			return NULL;
		}
		obuf_printf(&b, "rcpt %s\n", e->rcpts[i]);
	}
	if (e->error)
		obuf_printf(&b, "error %s\n", e->error);
	obuf_append(&b, "", 1);
	if (b.oom) {
		obuf_free(&b);
		return NULL;
	}
	return b.data; /* the obuf's storage, NUL-terminated: the caller frees it */
}

static bool parse_ll(const char *v, long long *out)
{
	char *end;

	if (!*v || *v == '-' || *v == '+' || *v == ' ')
		return false;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end)
		return false;
	*out = n;
	return true;
}

/* One "key value" line (value may be empty for "from"). */
static bool parse_line(struct relay_env *e, const char *key, const char *v, unsigned *seen)
{
	long long n;

	if (!strcmp(key, "id")) {
		if (!relay_valid_id(v))
			return false;
		snprintf(e->id, sizeof(e->id), "%s", v);
		*seen |= 1;
	} else if (!strcmp(key, "arrival") && parse_ll(v, &n)) {
		e->arrival = n;
		*seen |= 2;
	} else if (!strcmp(key, "next") && parse_ll(v, &n)) {
		e->next = n;
	} else if (!strcmp(key, "attempts") && parse_ll(v, &n) && n <= 1000000) {
		e->attempts = (unsigned)n;
	} else if (!strcmp(key, "utf8") && (!strcmp(v, "0") || !strcmp(v, "1"))) {
		e->utf8 = v[0] == '1';
	} else if (!strcmp(key, "from") && !e->from) {
		if (!(e->from = strdup(v)))
			return false;
		*seen |= 4;
	} else if (!strcmp(key, "rcpt") && *v) {
		return relay_env_add_rcpt(e, v);
	} else if (!strcmp(key, "error") && !e->error) {
		return (e->error = strdup(v)) != NULL;
	} else {
		return false;
	}
	return true;
}

bool relay_env_parse(const char *text, size_t len, struct relay_env *e, char *err, size_t errlen)
{
	size_t ml = strlen(ENV_MAGIC), line = 1;
	unsigned seen = 0;

	memset(e, 0, sizeof(*e));
	if (len < ml + 1 || memcmp(text, ENV_MAGIC "\n", ml + 1) != 0) {
		snprintf(err, errlen, "not an originmail queue envelope");
		return false;
	}
	for (size_t pos = ml + 1; pos < len;) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		line++;
		if (!nl) {
			snprintf(err, errlen, "line %zu: no end of line", line);
			goto fail;
		}
		size_t n = (size_t)(nl - p);
		char buf[1024];
		if (n >= sizeof(buf) || memchr(p, '\0', n) || memchr(p, '\r', n)) {
			snprintf(err, errlen, "line %zu: too long or a control character", line);
			goto fail;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		char *sp = strchr(buf, ' ');
		if (!sp || !parse_line(e, (*sp = '\0', buf), sp + 1, &seen)) {
			snprintf(err, errlen, "line %zu: bad or repeated field '%.40s'", line, buf);
			goto fail;
		}
		pos += n + 1;
	}
	if (seen != 7 || e->nrcpt == 0) {
		snprintf(err, errlen, "id, arrival, from or rcpt missing");
		goto fail;
	}
	return true;
fail:
	relay_env_free(e);
	return false;
}

size_t relay_dot_stuff(struct relay_dot *d, const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (!d->mid && c == '.')
			out[o++] = '.';
		out[o++] = c;
		d->mid = c != '\n';
	}
	return o;
}

size_t relay_dot_end(const struct relay_dot *d, char *out)
{
	size_t o = 0;

	if (d->mid) {
		memcpy(out, "\r\n", 2);
		o = 2;
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
