/* Log lines: one per event, to stderr and/or syslog. */
#ifndef ORIGINMAIL_LOG_H
#define ORIGINMAIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* target: "stderr", "syslog" or "both". Returns false for anything else. */
bool log_open(const char *target, const char *ident);
void log_set_level(enum log_level max);
/* Whether a line at lvl would be written: lets a caller skip formatting its arguments. */
bool log_enabled(enum log_level lvl);
__attribute__((format(printf, 2, 3))) void log_msg(enum log_level lvl, const char *fmt, ...);

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
