/* libFuzzer target for the socket-activation variables: the input is LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES separated by NUL bytes (a missing part is an unset
 * variable). Any values must be accepted or refused with a message, never crash or read
 * past their end; what is accepted must be consistent. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/sdlisten.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdlisten sl;
	char *copy = malloc(size + 1), *part[3] = { NULL, NULL, NULL }, msg[512];
	size_t start = 0;
	unsigned n = 0;
	int ret;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; i <= size && n < 3; i++) {
		if (copy[i] == '\0') {
			part[n++] = copy + start;
			start = i + 1;
		}
	}
	msg[0] = '\0';
	ret = sdlisten_parse(part[0], part[1], part[2], 4242, &sl, msg, sizeof(msg));
	if (ret != 0 && (ret != -EINVAL || !msg[0] || sl.n != 0))
		abort();
	if (sl.n > SDLISTEN_MAX)
		abort();
	for (unsigned i = 0; i < sl.n; i++)
		if (sl.fd[i] != SDLISTEN_FIRST_FD + (int)i ||
		    strnlen(sl.name[i], SDLISTEN_NAME_MAX) >= SDLISTEN_NAME_MAX)
			abort();
	for (unsigned i = 0; i <= SDLISTEN_METRICS; i++)
		if (sl.of[i] != -1 || sdlisten_fd(&sl, i) != -1)
			abort();
	free(copy);
	return 0;
}
