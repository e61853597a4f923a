/* libFuzzer target for tls_sni_parse() (src/tlsconf.c), the server_name extension of a
 * ClientHello. Properties checked: a name it returns is as long as it says, has no NUL,
 * fits the buffer, and is bytes of the input; the same input with a smaller buffer gives
 * the same name or -1, never more. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[256], small[8];
	int n = tls_sni_parse(data, size, name, sizeof(name)), m;

	if (n < -1 || n == 0)
		abort();
	if (n > 0 && ((size_t)n >= sizeof(name) || strlen(name) != (size_t)n ||
		      (size_t)n + 5 > size || !memmem(data, size, name, (size_t)n)))
		abort();
	m = tls_sni_parse(data, size, small, sizeof(small));
	if (m != -1 && (m != n || strcmp(small, name) != 0))
		abort();
	return 0;
}
