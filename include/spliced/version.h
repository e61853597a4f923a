/* spliced's version, for --version, the start-up line and the status page. */
#ifndef SPLICED_VERSION_H
#define SPLICED_VERSION_H

#define SPLICED_VERSION "0.1.0"

#endif
