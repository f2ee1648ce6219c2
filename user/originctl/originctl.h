/* originctl subcommands: each lives in its own file and returns the process exit code. */
#ifndef ORIGINCTL_H
#define ORIGINCTL_H

int cmd_proxy_decode(int argc, char **argv);
int cmd_proxy_encode(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_conns(int argc, char **argv);

#endif
