/* The POP3 session's state, shared by the files of user/pop3/ (not part of the API). */
#ifndef ORIGINMAIL_POP3_INTERNAL_H
#define ORIGINMAIL_POP3_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth_wait.h"
#include "pop3/pop3.h"
#include "store/mailbox.h"

#define POP3_MAX_AUTH_FAILURES 3 /* then the session ends, as in IMAP */
#define POP3_MAX_ERRORS        20
#define POP3_LINE_DEFAULT      4096 /* max_line when the configuration says 0 */
#define POP3_OUTPUT_DEFAULT    (1u << 20)
#define POP3_READ_CHUNK        65536
#define POP3_LOCK_NAME         "originmail-pop3.lock"

enum pop3_state { PS_AUTH, PS_TRANS, PS_DONE }; /* AUTHORIZATION, TRANSACTION, after QUIT/close */

enum pop3_mode {
	PM_CMD,       /* reading a command line */
	PM_SKIP_LINE, /* dropping the rest of an overlong line through its LF */
	PM_SASL,      /* AUTH PLAIN: waiting for the client's response line */
	PM_TLS_WAIT,  /* STLS answered: input dropped until TLS is up */
	PM_CLOSED,    /* QUIT, too many errors: input dropped */
};

/* One message of the maildrop, numbered from 1 by its index + 1; fixed for the session (RFC 1939). */
struct pop3_msg {
	uint32_t uid;
	uint64_t size; /* octets with CRLF line ends, as RETR sends them before dot-stuffing */
	bool deleted;  /* DELE: removed at QUIT */
};

/* CRLF and dot-stuffing of a message as it is read (pop3_stuff.c); TOP stops after lines body lines. */
struct pop3_stuff {
	bool bol;    /* at the start of a line */
	bool cr;     /* the last octet was CR */
	bool header; /* still in the header block */
	bool limit;  /* TOP: stop after lines_left body lines */
	bool done;   /* nothing more to send */
	uint64_t lines_left;
	size_t line_octets;
};

struct pop3_session {
	struct pop3_ctx ctx; /* ctx.tls_info points at tls_info below */
	char *tls_info;
	bool tls;
	enum pop3_state state;
	enum pop3_mode mode;

	char *line; /* the command line being read, CRLF not included */
	size_t line_len, line_cap;

	unsigned errors, auth_failures;
	unsigned long progress;
	struct auth_wait auth; /* a PASS/AUTH checked on a worker: commands after it wait */
	char *user_arg;        /* USER given, waiting for PASS */
	char event[160];

	/* TRANSACTION: the maildrop. */
	char *user;
	struct mbox *mb;
	int lock_fd; /* the maildrop lock (flock on POP3_LOCK_NAME), -1 when not held */
	struct pop3_msg *msgs;
	size_t nmsgs;

	/* RETR/TOP being written. */
	int send_fd; /* -1 when none */
	struct pop3_stuff stuff;
};

/* pop3_auth.c: the answer to a login checked on a worker (auth_wait_take). */
void pop3_auth_finish(struct pop3_session *s, struct obuf *out, bool ok);

/* pop3_session.c */
__attribute__((format(printf, 2, 3))) void pop3_event(struct pop3_session *s, const char *fmt, ...);
void pop3_err(struct pop3_session *s, struct obuf *out, const char *text); /* counts as an error */
void pop3_close(struct pop3_session *s, struct obuf *out, const char *line);
bool pop3_auth_allowed(const struct pop3_session *s);

/* pop3_auth.c: USER, PASS, AUTH; arg is the rest of the line after the command and one space. */
void pop3_cmd_user(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_cmd_pass(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_cmd_auth(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_sasl_line(struct pop3_session *s, char *line, size_t len, struct obuf *out);

/* pop3_maildrop.c */
/* Lock and read the INBOX at root: false with the -ERR reply queued. */
bool pop3_maildrop_open(struct pop3_session *s, const char *root, struct obuf *out);
/* UPDATE (QUIT in TRANSACTION): expunge what DELE marked; false if some could not be removed. */
bool pop3_maildrop_update(struct pop3_session *s);
void pop3_maildrop_close(struct pop3_session *s);
/* "n" -> the message, not deleted; NULL with the -ERR queued. */
struct pop3_msg *pop3_msg_arg(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_cmd_stat(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_cmd_list(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_cmd_uidl(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_cmd_dele(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_cmd_rset(struct pop3_session *s, const char *arg, struct obuf *out);

/* pop3_retr.c: RETR and TOP, written in pieces of output_buffer. */
void pop3_cmd_retr(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_cmd_top(struct pop3_session *s, const char *arg, struct obuf *out);
void pop3_send_resume(struct pop3_session *s, struct obuf *out);
void pop3_send_drop(struct pop3_session *s);

/* pop3_stuff.c */
void pop3_stuff_init(struct pop3_stuff *st, bool top, uint64_t lines);
/* Transform in[0..len) into out; returns the octets taken (fewer when TOP is done). */
size_t pop3_stuff(struct pop3_stuff *st, const char *in, size_t len, struct obuf *out);
/* After the last octet: the final line's CRLF if it had none, then ".\r\n". */
void pop3_stuff_end(struct pop3_stuff *st, struct obuf *out);
/* The size of fd's content with CRLF line ends (bare LF counted as CRLF), read from the start. */
bool pop3_crlf_size(int fd, uint64_t *size);

#endif
