/* Minimal JSON writer for originctl's machine-readable output. */
#ifndef ORIGINCTL_JSON_H
#define ORIGINCTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct json {
	FILE *out;
	bool need_comma;
};

void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
/* key may be NULL inside arrays. Strings are bytes: valid UTF-8 passes, anything else is escaped. */
void json_str(struct json *j, const char *key, const void *s, size_t len);
void json_cstr(struct json *j, const char *key, const char *s);
void json_int(struct json *j, const char *key, long long v);
void json_bool(struct json *j, const char *key, bool v);
void json_hex(struct json *j, const char *key, const void *s, size_t len);
void json_double(struct json *j, const char *key, double v);

#endif
