/* Types of the header edits of mod_headers (src/headers.c). Types only. */
#ifndef SPLICED_HEADERS_T_H
#define SPLICED_HEADERS_T_H

#include <stdbool.h>
#include <stdint.h>

#define HDR_NAME_MAX 128
#define HDR_VALUE_MAX 1024
/* Room a head buffer keeps for what the edits add. */
#define HDR_ROOM 8192

enum hdr_action {
	HDR_SET = 1,               /* replace every field of the name by one */
	HDR_APPEND,                /* ", value" to the first field of the name, or set */
	HDR_MERGE,                 /* append unless the value is already one of its tokens */
	HDR_ADD,                   /* one more field, even if the name is there */
	HDR_UNSET,                 /* remove every field of the name */
	HDR_SETIFEMPTY,            /* set when no field of the name is there */
};

/* Which table a rule edits, as httpd: the request's fields (RequestHeader), the
 * response's own fields ("Header [onsuccess]": a proxied response whatever its status, a
 * file's 2xx) or the fields added to every response ("Header always": pages spliced makes
 * too; they are sent after the others). */
enum hdr_table {
	HDR_REQUEST = 0,
	HDR_ONSUCCESS,
	HDR_ALWAYS,
};

/* Header [always|onsuccess] ACTION NAME [VALUE], RequestHeader ACTION NAME [VALUE] */
struct hdr_rule {
	uint8_t action;            /* enum hdr_action */
	uint8_t table;             /* enum hdr_table */
	uint16_t scope;            /* the <VirtualHost> (0: the main server) */
	int32_t loc;               /* the <Location> (index in config.authz.loc); -1: none */
	uint16_t name_len;
	uint16_t value_len;
	char name[HDR_NAME_MAX];
	char value[HDR_VALUE_MAX];
};

/* Every Header and RequestHeader line, in file order (a heap array, headers_free()). */
struct hdr_conf {
	struct hdr_rule *rule;
	unsigned n, cap;
	bool any[3];               /* some rule edits this table (enum hdr_table) */
};

#endif
