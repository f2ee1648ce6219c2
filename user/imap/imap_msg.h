/* A message's octets as IMAP serves them (CRLF line ends, whatever the file has), its header fields,
 * and its MIME structure with the offsets FETCH BODY[section] and BODYSTRUCTURE need. The structure is
 * found here (boundaries, header blocks); header values (Content-Type and its parameters,
 * dispositions, addresses, dates) are parsed by GMime. Malformed mail gets the RFC 2045 defaults
 * (text/plain; charset=us-ascii), never a failure. */
#ifndef ORIGINMAIL_IMAP_MSG_H
#define ORIGINMAIL_IMAP_MSG_H

#include <gmime/gmime.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIME_MAX_DEPTH 20
#define MIME_MAX_PARTS 500

struct mime_part {
	size_t hdr, body, end; /* header block [hdr, body) with its blank line; body [body, end) */
	size_t lines;          /* lines in the body */
	GMimeContentType *ct;  /* never NULL once parsed */
	bool multipart;        /* children are its parts */
	bool message;          /* message/rfc822: the one child is the enclosed message */
	struct mime_part *child, *next;
	unsigned nchild;
};

struct imap_msg {
	char *data; /* CRLF line ends, NUL after the end */
	size_t len;
	bool complete;          /* all of it, not only the header */
	struct mime_part *root; /* once imap_msg_structure has run */
};

/* Start GMime once per process. */
void imap_gmime_init(void);

/* Read the file: all of it, or (headers_only) at least its header block. Bare LF becomes CRLF. */
bool imap_msg_read(int fd, bool headers_only, struct imap_msg *m);
/* The same from memory (APPEND, tests). */
bool imap_msg_from(const char *data, size_t len, struct imap_msg *m);
void imap_msg_free(struct imap_msg *m);
/* The octets of data with CRLF line ends (bare CR or LF become CRLF); *n its length. */
char *imap_crlf(const char *data, size_t len, size_t *n);

/* The length of the header block starting at data: through the empty line, or all of len. */
size_t imap_header_len(const char *data, size_t len);
/* The first field called name in the header block: its value unfolded (CRLF removed) and trimmed,
 * malloc'd; NULL if absent. */
char *imap_header_get(const char *hdr, size_t len, const char *name);
/* Call fn for each field of a header block: [start, end) is the whole field with its CRLF(s). */
void imap_header_each(const char *hdr, size_t len,
                      void (*fn)(const char *name, size_t nlen, size_t start, size_t end, void *arg),
                      void *arg);

/* The MIME tree of m (read complete); NULL only when memory is short. Kept in m->root. */
const struct mime_part *imap_msg_structure(struct imap_msg *m);
void imap_mime_free(struct mime_part *p);
/* The part a section path names ("1.2" as {1, 2}; part 1 of a message that is not multipart is its
 * body); NULL if there is none. Numbers after a message/rfc822 part name the parts of the message it
 * encloses. */
const struct mime_part *imap_mime_find(const struct mime_part *root, const uint32_t *path, size_t n);

/* imap_bodystructure.c: ENVELOPE of a header block; BODY (extended: BODYSTRUCTURE) of a part. */
struct obuf;
void imap_put_envelope(struct obuf *out, const char *hdr, size_t len);
void imap_put_body(struct obuf *out, const char *data, const struct mime_part *p, bool extended);

#endif
