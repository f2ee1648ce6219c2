/* Framing: recognise v1 or v2 from the first bytes, take exactly the header's bytes, then parse. */
#include <stdlib.h>
#include <string.h>

#include "proxy_internal.h"

static const uint8_t v1_prefix[6] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const uint8_t v2_sig[12] = {'\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};

static void resolve_options(struct pp_options *o, const struct pp_options *in)
{
	o->accept = in && in->accept ? in->accept & PP_ACCEPT_ANY : PP_ACCEPT_ANY;
	o->max_header = in && in->max_header ? in->max_header : PP_DEFAULT_MAX_HEADER;
	if (o->max_header > PP_V2_MAX_LEN)
		o->max_header = PP_V2_MAX_LEN;
	if (o->max_header < PP_V2_FIXED_LEN)
		o->max_header = PP_V2_FIXED_LEN;
}

/* Which version the prefix buf[0..n) belongs to: 1 or 2 when the whole prefix is in, 0 while it may
 * still become one, -1 when it cannot. */
static int detect(const uint8_t *buf, size_t n)
{
	if (n == 0)
		return 0;
	if (buf[0] == 'P') {
		if (n >= sizeof(v1_prefix)) /* constant-size compares inline; this runs per connection */
			return memcmp(buf, v1_prefix, sizeof(v1_prefix)) == 0 ? 1 : -1;
		return memcmp(buf, v1_prefix, n) == 0 ? 0 : -1;
	}
	if (n >= sizeof(v2_sig))
		return memcmp(buf, v2_sig, sizeof(v2_sig)) == 0 ? 2 : -1;
	return memcmp(buf, v2_sig, n) == 0 ? 0 : -1;
}

/* Given the first n bytes of a buffer, how long the header is (*total), or need-more/error. The v1
 * length is found by the LF; v2 by the length field. Never looks at a byte past the header. */
static enum pp_status frame(const uint8_t *buf, size_t n, const struct pp_options *o, size_t *total,
                            enum pp_error *err)
{
	int v = detect(buf, n);

	if (v < 0 || (v == 0 && n == 0)) {
		*err = PP_ERR_NOT_PROXY;
		return v < 0 ? PP_ERROR : PP_NEED_MORE;
	}
	if (v == 0)
		return PP_NEED_MORE;
	if (!(o->accept & (v == 1 ? PP_ACCEPT_V1 : PP_ACCEPT_V2))) {
		*err = PP_ERR_VERSION_REFUSED;
		return PP_ERROR;
	}
	if (v == 1) {
		size_t lim = n < PP_V1_MAX_LEN ? n : PP_V1_MAX_LEN;
		const uint8_t *lf = memchr(buf, '\n', lim);
		if (!lf) {
			if (n >= PP_V1_MAX_LEN) {
				*err = PP_ERR_V1_TOO_LONG;
				return PP_ERROR;
			}
			return PP_NEED_MORE;
		}
		if (lf == buf || lf[-1] != '\r') {
			*err = PP_ERR_V1_NO_CRLF;
			return PP_ERROR;
		}
		*total = (size_t)(lf - buf) + 1;
		return PP_DONE;
	}
	if (n < PP_V2_FIXED_LEN)
		return PP_NEED_MORE;
	*err = pp_v2_check_fixed(buf, o->max_header, total);
	if (*err != PP_OK)
		return PP_ERROR;
	return n >= *total ? PP_DONE : PP_NEED_MORE;
}

static enum pp_status parse(const uint8_t *buf, size_t total, struct pp_header *out, enum pp_error *err)
{
	*err = buf[0] == 'P' ? pp_parse_v1(buf, total, out) : pp_parse_v2(buf, total, out);
	return *err == PP_OK ? PP_DONE : PP_ERROR;
}

enum pp_status pp_decode(const void *buf, size_t len, const struct pp_options *opt, struct pp_header *out,
                         enum pp_error *err)
{
	struct pp_options o;
	enum pp_error e = PP_OK;
	size_t total = 0;
	enum pp_status st;

	resolve_options(&o, opt);
	st = frame(buf, len, &o, &total, &e);
	if (st == PP_DONE)
		st = parse(buf, total, out, &e);
	if (err)
		*err = st == PP_NEED_MORE ? PP_OK : e;
	return st;
}

void pp_decoder_init(struct pp_decoder *d, const struct pp_options *opt)
{
	/* hdr is left as it is: parsing fills it, and nothing reads it before PP_DONE. */
	resolve_options(&d->opt, opt);
	d->buf = d->inline_buf;
	d->have = d->need = 0;
	d->status = PP_NEED_MORE;
	d->error = PP_OK;
}

void pp_decoder_free(struct pp_decoder *d)
{
	if (d->buf != d->inline_buf)
		free(d->buf);
	d->buf = d->inline_buf;
}

void pp_decoder_reset(struct pp_decoder *d)
{
	struct pp_options o = d->opt;

	pp_decoder_free(d);
	pp_decoder_init(d, &o);
}

static enum pp_status fail(struct pp_decoder *d, enum pp_error e)
{
	d->error = e;
	d->status = PP_ERROR;
	return PP_ERROR;
}

/* How many of the next bytes to take: the signature first (so that a stream that is not PROXY is
 * recognised before more of it is taken), then up to the v1 LF or the v2 declared length. */
static size_t wanted(const struct pp_decoder *d, const uint8_t *in, size_t len)
{
	uint8_t first = d->have ? d->buf[0] : in[0];

	if (first != 'P') {
		if (d->have < sizeof(v2_sig))
			return sizeof(v2_sig) - d->have;
		return d->need ? d->need - d->have : PP_V2_FIXED_LEN - d->have;
	}
	if (d->have < sizeof(v1_prefix))
		return sizeof(v1_prefix) - d->have;
	size_t room = PP_V1_MAX_LEN - d->have;
	const uint8_t *lf = memchr(in, '\n', len < room ? len : room);
	return lf ? (size_t)(lf - in) + 1 : room;
}

/* The usual case: the whole header arrives in one read. Frame it in place, copy it once, parse.
 * Anything else (a partial or invalid header) takes the step-by-step path, which decides the exact
 * bytes consumed. */
static bool fast_path(struct pp_decoder *d, const uint8_t *in, size_t len, size_t *consumed)
{
	enum pp_error e = PP_OK;
	size_t total = 0;

	if (frame(in, len, &d->opt, &total, &e) != PP_DONE)
		return false;
	if (total > PP_INLINE_BUF) {
		uint8_t *big = malloc(total);
		if (!big)
			return false;
		d->buf = big;
	}
	memcpy(d->buf, in, total);
	d->have = total;
	*consumed = total;
	if (parse(d->buf, total, &d->hdr, &e) == PP_ERROR)
		fail(d, e);
	else
		d->status = PP_DONE;
	return true;
}

enum pp_status pp_decoder_feed(struct pp_decoder *d, const void *data, size_t len, size_t *consumed)
{
	const uint8_t *in = data;
	size_t used = 0;

	*consumed = 0;
	if (d->status != PP_NEED_MORE)
		return d->status;
	if (d->have == 0 && len > 0 && fast_path(d, in, len, consumed))
		return d->status;
	while (used < len) {
		size_t take = wanted(d, in + used, len - used);
		enum pp_error e = PP_OK;
		size_t total = 0;
		enum pp_status st;

		if (take > len - used)
			take = len - used;
		if (d->have + take > PP_INLINE_BUF && d->buf == d->inline_buf) {
			/* Only a v2 header grows past the inline buffer, and its size is known by now. */
			uint8_t *big = malloc(d->need);
			if (!big)
				return fail(d, PP_ERR_NOMEM);
			memcpy(big, d->inline_buf, d->have);
			d->buf = big;
		}
		memcpy(d->buf + d->have, in + used, take);
		d->have += take;
		used += take;
		*consumed = used;

		st = frame(d->buf, d->have, &d->opt, &total, &e);
		if (st == PP_ERROR && e == PP_ERR_NOT_PROXY) {
			/* Not a header: hand this call's bytes back; buf keeps only the earlier matching
			 * prefix. */
			d->have -= take;
			*consumed = used - take;
			return fail(d, e);
		}
		if (st == PP_ERROR)
			return fail(d, e);
		if (st == PP_DONE) {
			st = parse(d->buf, total, &d->hdr, &e);
			if (st == PP_ERROR)
				return fail(d, e);
			d->status = PP_DONE;
			return PP_DONE;
		}
		if (d->buf[0] != 'P' && d->have >= PP_V2_FIXED_LEN)
			d->need = PP_V2_FIXED_LEN + pp_get16(d->buf + 14);
	}
	return PP_NEED_MORE;
}

const struct pp_header *pp_decoder_header(const struct pp_decoder *d)
{
	return d->status == PP_DONE ? &d->hdr : NULL;
}

enum pp_error pp_decoder_error(const struct pp_decoder *d)
{
	return d->status == PP_ERROR ? d->error : PP_OK;
}
