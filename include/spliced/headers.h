/* mod_headers: Header and RequestHeader, parsed and applied to a block of header fields.
 * Pure: no I/O (tests/check_headers.c). */
#ifndef SPLICED_HEADERS_H
#define SPLICED_HEADERS_H

#include <stddef.h>
#include <sys/types.h>

#include "spliced/authz-t.h"
#include "spliced/headers-t.h"

/* One line: argv[0] is "Header" or "RequestHeader". loc: the <Location> it is in (-1:
 * none). Values are literal; "%%" is a '%', any other %-format (%{VAR}e, %t, %D...) is
 * refused, as are conditions (env=, expr=, early), the actions echo, edit, edit* and
 * note, and the fields that frame the message or belong to the hop (Content-Length,
 * Transfer-Encoding, Connection...) or that spliced writes itself in a request (Host,
 * X-Forwarded-*). Returns 0, or -1 with a message in msg. */
int headers_parse(struct hdr_conf *hc, unsigned scope, int loc, unsigned argc, char **argv,
		  char *msg, size_t msglen);

void headers_free(struct hdr_conf *hc);

/* Applies rule r to the field block b[0..len) (lines "Name: value\r\n", nothing else),
 * editing in place within cap bytes. Returns the new length, or -1 when it does not fit
 * (b is then unspecified). */
ssize_t headers_edit(const struct hdr_rule *r, char *b, size_t len, size_t cap);

/* Applies the rules of `table` that concern a request for the normalized path[0..plen)
 * in `scope`, in httpd's merge order: the main server's, the virtual host's, then those
 * of each <Location> that covers the path (the main server's sections first, each in
 * file order). Returns the new length, or -1 when the block does not fit in cap. */
ssize_t headers_apply(const struct hdr_conf *hc, const struct authz *az, enum hdr_table table,
		      unsigned scope, const char *path, size_t plen, char *b, size_t len,
		      size_t cap);

#endif
