/* ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2) from the MIME tree; header values parsed by GMime
 * (addresses, Content-Type parameters with RFC 2231, Content-Disposition). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_internal.h"
#include "imap/imap_msg.h"

static void put_header(struct obuf *out, const char *hdr, size_t len, const char *name)
{
	char *v = imap_header_get(hdr, len, name);

	imap_put_cstr(out, v);
	free(v);
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s > 0x7f)
			return false;
	return true;
}

/* A display name as it would appear in a header: RFC 2047-encoded when it is not ASCII. */
static void put_name(struct obuf *out, const char *name)
{
	if (!name || !*name) {
		obuf_puts(out, "NIL");
	} else if (ascii(name)) {
		imap_put_cstr(out, name);
	} else {
		char *enc = g_mime_utils_header_encode_phrase(NULL, name, "utf-8");
		imap_put_cstr(out, enc ? enc : name);
		g_free(enc);
	}
}

static void put_addresses(struct obuf *out, InternetAddressList *l)
{
	for (int i = 0; i < internet_address_list_length(l); i++) {
		InternetAddress *a = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(a)) {
			obuf_puts(out, "(NIL NIL ");
			imap_put_cstr(out, internet_address_get_name(a) ? internet_address_get_name(a) : "");
			obuf_puts(out, " NIL)");
			put_addresses(out, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)));
			obuf_puts(out, "(NIL NIL NIL NIL)");
			continue;
		}
		const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
		const char *at = addr ? strrchr(addr, '@') : NULL;
		obuf_puts(out, "(");
		put_name(out, internet_address_get_name(a));
		obuf_puts(out, " NIL ");
		imap_put_string(out, addr ? addr : "", at ? (size_t)(at - addr) : addr ? strlen(addr) : 0);
		obuf_puts(out, " ");
		imap_put_cstr(out, at ? at + 1 : "");
		obuf_puts(out, ")");
	}
}

/* An address header as a list, or NIL; *present says whether the field was there at all. */
static void put_address_field(struct obuf *out, const char *hdr, size_t len, const char *name,
                              const char *fallback)
{
	char *v = imap_header_get(hdr, len, name);
	InternetAddressList *l = NULL;

	if (!v && fallback)
		v = imap_header_get(hdr, len, fallback);
	if (v)
		l = internet_address_list_parse(NULL, v);
	if (l && internet_address_list_length(l) > 0) {
		obuf_puts(out, "(");
		put_addresses(out, l);
		obuf_puts(out, ")");
	} else {
		obuf_puts(out, "NIL");
	}
	if (l)
		g_object_unref(l);
	free(v);
}

void imap_put_envelope(struct obuf *out, const char *hdr, size_t len)
{
	imap_gmime_init();
	obuf_puts(out, "(");
	put_header(out, hdr, len, "Date");
	obuf_puts(out, " ");
	put_header(out, hdr, len, "Subject");
	obuf_puts(out, " ");
	put_address_field(out, hdr, len, "From", NULL);
	obuf_puts(out, " ");
	put_address_field(out, hdr, len, "Sender", "From");
	obuf_puts(out, " ");
	put_address_field(out, hdr, len, "Reply-To", "From");
	obuf_puts(out, " ");
	put_address_field(out, hdr, len, "To", NULL);
	obuf_puts(out, " ");
	put_address_field(out, hdr, len, "Cc", NULL);
	obuf_puts(out, " ");
	put_address_field(out, hdr, len, "Bcc", NULL);
	obuf_puts(out, " ");
	put_header(out, hdr, len, "In-Reply-To");
	obuf_puts(out, " ");
	put_header(out, hdr, len, "Message-ID");
	obuf_puts(out, ")");
}

static void put_params(struct obuf *out, GMimeParamList *pl)
{
	int n = pl ? g_mime_param_list_length(pl) : 0, shown = 0;

	for (int i = 0; i < n; i++) {
		GMimeParam *p = g_mime_param_list_get_parameter_at(pl, i);
		const char *name = g_mime_param_get_name(p), *value = g_mime_param_get_value(p);
		if (!name || !value)
			continue;
		obuf_puts(out, shown++ ? " " : "(");
		imap_put_cstr(out, name);
		obuf_puts(out, " ");
		imap_put_cstr(out, value);
	}
	obuf_puts(out, shown ? ")" : "NIL");
}

static void put_disposition(struct obuf *out, const char *hdr, size_t len)
{
	char *v = imap_header_get(hdr, len, "Content-Disposition");
	GMimeContentDisposition *d = v ? g_mime_content_disposition_parse(NULL, v) : NULL;
	const char *type = d ? g_mime_content_disposition_get_disposition(d) : NULL;

	if (type && *type) {
		obuf_puts(out, "(");
		imap_put_cstr(out, type);
		obuf_puts(out, " ");
		put_params(out, g_mime_content_disposition_get_parameters(d));
		obuf_puts(out, ")");
	} else {
		obuf_puts(out, "NIL");
	}
	if (d)
		g_object_unref(d);
	free(v);
}

/* Content-Language: NIL, one string, or a list of them. */
static void put_language(struct obuf *out, const char *hdr, size_t len)
{
	char *v = imap_header_get(hdr, len, "Content-Language"), *save = NULL;
	const char *tok[16];
	size_t n = 0;

	for (char *t = v ? strtok_r(v, ", \t", &save) : NULL; t && n < 16; t = strtok_r(NULL, ", \t", &save))
		tok[n++] = t;
	if (n == 0)
		obuf_puts(out, "NIL");
	else if (n == 1)
		imap_put_cstr(out, tok[0]);
	for (size_t i = 0; n > 1 && i < n; i++) {
		obuf_puts(out, i ? " " : "(");
		imap_put_cstr(out, tok[i]);
	}
	if (n > 1)
		obuf_puts(out, ")");
	free(v);
}

/* disposition, language, location: the extension data every body part ends with */
static void put_ext_tail(struct obuf *out, const char *hdr, size_t len)
{
	obuf_puts(out, " ");
	put_disposition(out, hdr, len);
	obuf_puts(out, " ");
	put_language(out, hdr, len);
	obuf_puts(out, " ");
	put_header(out, hdr, len, "Content-Location");
}

void imap_put_body(struct obuf *out, const char *data, const struct mime_part *p, bool ext)
{
	const char *hdr = data + p->hdr;
	size_t hlen = p->body - p->hdr;
	const char *type = g_mime_content_type_get_media_type(p->ct);
	const char *sub = g_mime_content_type_get_media_subtype(p->ct);

	obuf_puts(out, "(");
	if (p->multipart) {
		for (const struct mime_part *c = p->child; c; c = c->next)
			imap_put_body(out, data, c, ext);
		obuf_puts(out, " ");
		imap_put_cstr(out, sub);
		if (ext) {
			obuf_puts(out, " ");
			put_params(out, g_mime_content_type_get_parameters(p->ct));
			put_ext_tail(out, hdr, hlen);
		}
		obuf_puts(out, ")");
		return;
	}
	imap_put_cstr(out, type);
	obuf_puts(out, " ");
	imap_put_cstr(out, sub);
	obuf_puts(out, " ");
	put_params(out, g_mime_content_type_get_parameters(p->ct));
	obuf_puts(out, " ");
	put_header(out, hdr, hlen, "Content-ID");
	obuf_puts(out, " ");
	put_header(out, hdr, hlen, "Content-Description");
	obuf_puts(out, " ");
	char *enc = imap_header_get(hdr, hlen, "Content-Transfer-Encoding");
	imap_put_cstr(out, enc && *enc ? enc : "7BIT");
	free(enc);
	obuf_printf(out, " %zu", p->end - p->body);
	if (p->message) {
		const struct mime_part *m = p->child;
		obuf_puts(out, " ");
		imap_put_envelope(out, data + m->hdr, m->body - m->hdr);
		obuf_puts(out, " ");
		imap_put_body(out, data, m, ext);
		obuf_printf(out, " %zu", p->lines);
	} else if (strcasecmp(type, "text") == 0) {
		obuf_printf(out, " %zu", p->lines);
	}
	if (ext) {
		obuf_puts(out, " ");
		put_header(out, hdr, hlen, "Content-MD5");
		put_ext_tail(out, hdr, hlen);
	}
	obuf_puts(out, ")");
}
