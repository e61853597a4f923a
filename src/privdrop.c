/* Privilege drop for the serving process. */
#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "spliced/privdrop.h"

static int privdrop_uid(const char *user, uid_t *uid, gid_t *pgid)
{
	struct passwd *pw;

	if (user[0] == '#') {
		char *end;
		unsigned long v = strtoul(user + 1, &end, 10);

		if (!user[1] || *end)
			return -EINVAL;
		*uid = (uid_t)v;
		pw = getpwuid(*uid);
		*pgid = pw ? pw->pw_gid : (gid_t)v;
		return 0;
	}
	pw = getpwnam(user);
	if (!pw)
		return -ENOENT;
	*uid = pw->pw_uid;
	*pgid = pw->pw_gid;
	return 0;
}

static int privdrop_gid(const char *group, gid_t *gid)
{
	struct group *gr;

	if (group[0] == '#') {
		char *end;
		unsigned long v = strtoul(group + 1, &end, 10);

		if (!group[1] || *end)
			return -EINVAL;
		*gid = (gid_t)v;
		return 0;
	}
	gr = getgrnam(group);
	if (!gr)
		return -ENOENT;
	*gid = gr->gr_gid;
	return 0;
}

int privdrop_ids(const char *user, const char *group, uid_t *uid, gid_t *gid, char *msg,
		 size_t msglen)
{
	const char *u = user && *user ? user : "nobody";
	gid_t pgid;

	if (privdrop_uid(u, uid, &pgid) < 0) {
		snprintf(msg, msglen, "User %s: no such user", u);
		return -ENOENT;
	}
	*gid = pgid;
	if (group && *group && privdrop_gid(group, gid) < 0) {
		snprintf(msg, msglen, "Group %s: no such group", group);
		return -ENOENT;
	} else if ((!group || !*group) && (!user || !*user) && privdrop_gid("nogroup", gid) < 0) {
		*gid = pgid;
	}
	return 0;
}

int privdrop_lock(char *msg, size_t msglen)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		snprintf(msg, msglen, "clearing ambient capabilities: %s", strerror(errno));
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(msg, msglen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int privdrop_apply(const char *user, const char *group, int *applied, char *msg, size_t msglen)
{
	const char *u = user && *user ? user : "nobody";
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid;
	int ret;

	*applied = 0;
	if (geteuid() != 0) {
		/* A non-root start may still hold file capabilities (setcap
		 * cap_net_bind_service): they were for binding, which is done. */
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
		    capng_apply(CAPNG_SELECT_BOTH) < 0) {
			snprintf(msg, msglen, "could not clear capabilities");
			return -EPERM;
		}
		ret = privdrop_lock(msg, msglen);
		if (ret < 0)
			return ret;
		capng_get_caps_process();
		if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
			snprintf(msg, msglen, "capabilities still held after clearing them");
			return -EPERM;
		}
		return 0;
	}
	ret = privdrop_ids(user, group, &uid, &gid, msg, msglen);
	if (ret < 0)
		return ret;
	if (uid == 0) {
		snprintf(msg, msglen, "User %s is root: refusing to serve as root", u);
		return -EPERM;
	}
	capng_clear(CAPNG_SELECT_ALL);
	ret = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (ret < 0) {
		snprintf(msg, msglen, "switching to uid %u gid %u failed (capng_change_id %d)",
			 (unsigned)uid, (unsigned)gid, ret);
		return -EPERM;
	}
	ret = privdrop_lock(msg, msglen);
	if (ret < 0)
		return ret;
	/* Trust nothing: check that what we asked for is what we have. */
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
	    ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid || getgroups(0, NULL) > 0 ||
	    capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
		snprintf(msg, msglen, "privileges still held after the switch to uid %u gid %u",
			 (unsigned)uid, (unsigned)gid);
		return -EPERM;
	}
	*applied = 1;
	snprintf(msg, msglen, "running as uid %u gid %u with no capabilities", (unsigned)uid,
		 (unsigned)gid);
	return 0;
}

int privdrop_supervisor(char *msg, size_t msglen)
{
	static const unsigned keep[] = { CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_KILL,
					 CAP_DAC_OVERRIDE };
	bool held[sizeof(keep) / sizeof(keep[0])];

	if (geteuid() != 0) {
		/* A start by a user may hold file capabilities (setcap cap_net_bind_service):
		 * they were for binding, done; its children run as its own uid. */
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_apply(CAPNG_SELECT_CAPS) < 0) {
			snprintf(msg, msglen, "could not clear the supervisor's capabilities");
			return -EPERM;
		}
		return privdrop_lock(msg, msglen);
	}
	capng_get_caps_process();
	for (unsigned i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		held[i] = capng_have_capability(CAPNG_PERMITTED, keep[i]) &&
			  capng_have_capability(CAPNG_BOUNDING_SET, keep[i]);
	capng_clear(CAPNG_SELECT_BOTH);
	for (unsigned i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (held[i] && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
					    CAPNG_BOUNDING_SET, keep[i]) < 0) {
			snprintf(msg, msglen, "keeping capability %u failed", keep[i]);
			return -EPERM;
		}
	if (capng_apply(CAPNG_SELECT_BOTH) < 0) {
		snprintf(msg, msglen, "could not limit the supervisor's capabilities");
		return -EPERM;
	}
	return privdrop_lock(msg, msglen);
}
