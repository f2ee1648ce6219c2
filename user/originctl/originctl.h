/* originctl subcommands: each lives in its own file and returns the process exit code. */
#ifndef ORIGINCTL_H
#define ORIGINCTL_H

#include <stdbool.h>

int cmd_proxy_decode(int argc, char **argv);
int cmd_proxy_encode(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_conns(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_limits(int argc, char **argv);
int cmd_unpin(int argc, char **argv);

/* false (with a message) when the pinned maps in dir are of another ABI version; true when absent. */
bool ctl_pin_abi_ok(const char *dir);

#endif
