/* The one place the version is written. */
#ifndef ORIGINMAIL_VERSION_H
#define ORIGINMAIL_VERSION_H

#define ORIGINMAIL_VERSION "0.1.0"

#endif
