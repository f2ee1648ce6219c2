/* The IMAP session's state, shared by the files of user/imap/ (not part of the API). */
#ifndef ORIGINMAIL_IMAP_INTERNAL_H
#define ORIGINMAIL_IMAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/auth_wait.h"
#include "imap/imap.h"
#include "imap/imap_parse.h"
#include "store/mailbox.h"

#define IMAP_MAX_LINE          65536      /* command text outside literals, per command */
#define IMAP_MAX_AUTH_FAILURES 3          /* then BYE */
#define IMAP_MAX_ERRORS        20         /* BAD responses before BYE */
#define IMAP_IDLE_MAX_S        1800       /* RFC 2177: clients re-issue IDLE within 29 minutes */
#define IMAP_IDLE_ALIVE_S      120        /* "* OK Still here" during IDLE */
#define IMAP_NAME_MAX          512        /* mailbox names as received */
#define IMAP_OUTPUT_DEFAULT    (1u << 20) /* output_buffer when the configuration says 0 */
#define IMAP_PROGRESS_BLOCK    8192       /* literal octets that count as progress, like a line */

enum imap_state { IS_NOAUTH, IS_AUTH, IS_SELECTED, IS_LOGOUT };

enum imap_mode {
	M_CMD,          /* reading a command line */
	M_LITERAL,      /* reading a literal's octets into the command */
	M_SKIP_LITERAL, /* dropping a refused non-synchronizing literal */
	M_SKIP_LINE,    /* dropping the rest of an overlong line through its LF */
	M_AUTH,         /* AUTHENTICATE PLAIN: waiting for the client's response line */
	M_IDLE,         /* IDLE: waiting for DONE */
	M_TLS_WAIT,     /* STARTTLS answered: input dropped until TLS is up */
	M_CLOSED,       /* LOGOUT, BYE: input dropped */
};

/* One message as the client knows it: the sequence number is the index + 1. */
struct imap_vmsg {
	uint32_t uid;
	uint8_t flags;  /* MBOX_* */
	bool recent;    /* \Recent in this session */
	bool gone;      /* expunged elsewhere, not yet announced (EXPUNGE not allowed then) */
	bool have_size; /* size below is known */
	uint64_t size;  /* RFC822.SIZE: octets with CRLF line ends */
	time_t idate;   /* INTERNALDATE, 0 until known */
};

struct imap_session {
	struct imap_ctx ctx; /* ctx.tls_info points at tls_info below */
	char *tls_info;
	bool tls;
	enum imap_state state;
	enum imap_mode mode;

	/* The command being assembled: text and literals, the final CRLF not included. */
	char *cmd;
	size_t cmd_len, cmd_cap;
	size_t text_len;    /* octets of it outside literals */
	size_t line_start;  /* where the line after the last literal starts */
	uint64_t lit_left;  /* octets of the current literal still to come */
	uint64_t lit_total; /* octets of literals in this command */
	bool discard;       /* the command was refused: assemble it only to drop it */
	bool wipe;          /* it held a password: zero it before reuse */

	unsigned errors, auth_failures;
	bool no_expunge; /* the command running may not announce expunges (FETCH, STORE, SEARCH) */
	bool syncing;
	char tag[72]; /* the command waiting for a continuation (AUTHENTICATE, IDLE) */

	char *user; /* the logged-in identity */
	char *root; /* their Maildir */

	/* The selected mailbox. */
	struct mbox *mb;
	char *mbname;
	bool readonly;
	uint32_t uidvalidity;
	struct imap_vmsg *view;
	size_t nview, view_cap;
	uint32_t nrecent; /* \Recent messages announced */

	time_t idle_since, idle_alive;
	char event[160];

	/* A FETCH whose responses are still being written (imap_fetch.c): commands after it wait. */
	struct fetch_job *fetch;
	unsigned long progress; /* complete lines and literal blocks taken (imap_session_progress) */
	struct auth_wait auth;  /* a LOGIN/AUTHENTICATE checked on a worker: commands after it wait */
	uint64_t lit_run;       /* literal octets since progress last grew */
};

/* A command handler: the parser is after "tag SP name", at the SP before arguments (or the end). */
typedef void imap_cmd_fn(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                         bool uid);

/* imap_session.c */
/* "tag OK|NO|BAD text": in the selected state an OK or NO is preceded by the untagged updates. */
__attribute__((format(printf, 4, 5))) void imap_tagged(struct imap_session *s, struct obuf *out,
                                                       const char *tag, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void imap_event(struct imap_session *s, const char *fmt, ...);
void imap_bad(struct imap_session *s, struct obuf *out, const char *tag, struct imap_parser *ps);
const char *imap_hostname(const struct imap_session *s);
void imap_capabilities(const struct imap_session *s, struct obuf *out);
void imap_bye(struct imap_session *s, struct obuf *out, const char *text);
void imap_command(struct imap_session *s, char *line, size_t len, struct obuf *out);

/* imap_auth.c: the answer to a LOGIN/AUTHENTICATE checked on a worker (auth_wait_take). */
void imap_auth_finish(struct imap_session *s, struct obuf *out, bool ok);

/* imap_reader.c */
size_t imap_read(struct imap_session *s, const char *data, size_t len, struct obuf *out);
void imap_cmd_reset(struct imap_session *s);

/* imap_write.c */
void imap_put_string(struct obuf *out, const char *s, size_t len); /* quoted or literal as needed */
void imap_put_cstr(struct obuf *out, const char *s);               /* NULL: NIL */
void imap_put_literal(struct obuf *out, const char *s, size_t len);
void imap_put_flags(struct obuf *out, unsigned flags, bool recent);
void imap_put_date(struct obuf *out, time_t t); /* "17-Jul-1996 02:44:25 +0000" */

/* imap_auth.c */
imap_cmd_fn imap_cmd_login, imap_cmd_authenticate;
void imap_auth_line(struct imap_session *s, char *line, size_t len, struct obuf *out);

/* imap_folders.c */
imap_cmd_fn imap_cmd_create, imap_cmd_delete, imap_cmd_rename, imap_cmd_subscribe, imap_cmd_unsubscribe,
        imap_cmd_list, imap_cmd_lsub, imap_cmd_status;

/* imap_list.c: does a LIST pattern ('*' anything, '%' anything but the separator) match name? */
bool imap_list_match(const char *pattern, const char *name);

/* imap_select.c */
imap_cmd_fn imap_cmd_select, imap_cmd_examine, imap_cmd_close, imap_cmd_unselect, imap_cmd_check,
        imap_cmd_expunge;
void imap_deselect(struct imap_session *s);
/* Rescan the selected mailbox and announce what changed elsewhere (EXPUNGE only when allowed). */
void imap_sync(struct imap_session *s, struct obuf *out, bool allow_expunge);
/* Remove view entries whose UIDs are gone, announcing "* n EXPUNGE". */
void imap_view_expunged(struct imap_session *s, struct obuf *out);
/* The Maildir path of mailbox name, or false (NO already queued with the reason). */
bool imap_folder_path(struct imap_session *s, struct obuf *out, const char *tag, const char *name, char *path,
                      size_t cap);

/* imap_append.c */
imap_cmd_fn imap_cmd_append;

/* imap_fetch.c */
imap_cmd_fn imap_cmd_fetch;
/* Write more of the FETCH in progress while out holds less than output_buffer; the tagged reply ends
 * it. */
void imap_fetch_resume(struct imap_session *s, struct obuf *out);
/* Forget the FETCH in progress (the session ends). */
void imap_fetch_drop(struct imap_session *s);
/* imap_store.c */
imap_cmd_fn imap_cmd_store, imap_cmd_copy, imap_cmd_move;
/* A flag list ("(\\Seen \\Flagged)", or without parentheses unless required) -> MBOX_* bits. */
bool imap_parse_flags(struct imap_parser *ps, unsigned *flags, bool parens_required);
/* imap_search.c */
imap_cmd_fn imap_cmd_search;
/* imap_idle.c */
imap_cmd_fn imap_cmd_idle;
void imap_idle_line(struct imap_session *s, const char *line, size_t len, struct obuf *out);
bool imap_idle_poll(struct imap_session *s, struct obuf *out);

/* Messages of a set: sequence numbers or UIDs; fills idx (malloc'd) with view indexes. */
bool imap_set_indexes(const struct imap_session *s, const struct imap_seqset *set, bool uid, size_t **idx,
                      size_t *n);

#endif
