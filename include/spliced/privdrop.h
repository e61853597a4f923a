/* Leaving root: user and group switch, every capability cleared, no_new_privs. */
#ifndef SPLICED_PRIVDROP_H
#define SPLICED_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* When running as root: switches to `user`/`group` (names or "#uid"/"#gid"; empty means
 * nobody/nogroup), drops supplementary groups, clears every capability set (effective,
 * permitted, inheritable, bounding, ambient), sets PR_SET_NO_NEW_PRIVS, and verifies the
 * result. When not root: sets no_new_privs only and reports in *applied = 0 that
 * User/Group could not be applied. Returns 0 or -errno with msg set. */
/* The uid and gid User/Group name (the same defaults as privdrop_apply()). 0 or -ENOENT
 * with msg set. */
int privdrop_ids(const char *user, const char *group, uid_t *uid, gid_t *gid, char *msg,
		 size_t msglen);

int privdrop_apply(const char *user, const char *group, int *applied, char *msg, size_t msglen);

/* Clears the ambient capabilities and sets PR_SET_NO_NEW_PRIVS. 0 or -errno with msg set. */
int privdrop_lock(char *msg, size_t msglen);

/* The supervisor (supervise.h), when running as root: keeps uid 0 but of its capabilities
 * only what forking a serving process that runs privdrop_apply() needs (CAP_SETUID,
 * CAP_SETGID, CAP_SETPCAP), signalling that process and the helper when they run as
 * other users (CAP_KILL) and reopening the error log, which belongs to User
 * (CAP_DAC_OVERRIDE): in the effective, permitted and bounding sets, each only if it was
 * held; nothing inheritable or ambient; no_new_privs. Not root: no capability at all
 * (file capabilities were for binding), no_new_privs. 0 or -errno with msg set. */
int privdrop_supervisor(char *msg, size_t msglen);

#endif
