/* Shared by the session fuzz targets: invariant checks that abort (so libFuzzer keeps the input), a
 * scratch directory under /tmp made once per process, trees removed and copied, and the chunking of an
 * input into the pieces a socket would hand over. Header-only (static functions). */
#ifndef ORIGINMAIL_FUZZ_ENV_H
#define ORIGINMAIL_FUZZ_ENV_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((noreturn)) static inline void fz_fail(const char *file, int line, const char *cond,
                                                     const char *what)
{
	fprintf(stderr, "%s:%d: invariant failed: %s (%s)\n", file, line, what, cond);
	abort();
}

#define FZ_CHECK(cond, what)                                                                                 \
	do {                                                                                                 \
		if (!(cond))                                                                                 \
			fz_fail(__FILE__, __LINE__, #cond, what);                                            \
	} while (0)

static inline int fz_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

/* rm -rf path (nothing to do when it does not exist). */
static inline void fz_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		nftw(path, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void fz_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	FZ_CHECK(f != NULL, "create a file in the scratch directory");
	fputs(text, f);
	FZ_CHECK(fclose(f) == 0, "write a file in the scratch directory");
}

/* cp -r src dst for a tree of directories and small regular files (dst must not exist). */
static inline void fz_copytree(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *e;

	FZ_CHECK(d != NULL, "open the template directory");
	FZ_CHECK(mkdir(dst, 0700) == 0, "mkdir in the scratch directory");
	while ((e = readdir(d)) != NULL) {
		char from[1024], to[1024];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
		FZ_CHECK(lstat(from, &st) == 0, "stat a template file");
		if (S_ISDIR(st.st_mode)) {
			fz_copytree(from, to);
			continue;
		}
		char buf[65536];
		int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
		ssize_t n;
		FZ_CHECK(in >= 0 && out >= 0, "open a template file and its copy");
		while ((n = read(in, buf, sizeof(buf))) > 0)
			FZ_CHECK(write(out, buf, (size_t)n) == n, "copy a template file");
		close(in);
		close(out);
		/* Maildir readers go by mtimes: keep them. */
		struct timespec times[2] = {st.st_atim, st.st_mtim};
		utimensat(AT_FDCWD, to, times, 0);
	}
	closedir(d);
}

/* A scratch directory for this process: $TMPDIR (or /tmp)/om-fuzz-NAME-XXXXXX, removed at exit. */
static char fz_dir[128];

static inline void fz_cleanup(void)
{
	if (fz_dir[0])
		fz_rmtree(fz_dir);
}

static inline const char *fz_scratch(const char *name)
{
	if (!fz_dir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(fz_dir, sizeof(fz_dir), "%s/om-fuzz-%s-XXXXXX", base && *base ? base : "/tmp", name);
		FZ_CHECK(mkdtemp(fz_dir) != NULL, "mkdtemp under /tmp");
		atexit(fz_cleanup);
	}
	return fz_dir;
}

/* The pieces in which a socket hands the input over, by the seed's low 2 bits: all at once (0), one line
 * per read as a client that waits for each reply sends them (1), or 1..64-byte pieces from a sequence
 * seeded by the input's own byte (2, 3), so that a crash replays exactly. */
struct fz_chunks {
	uint32_t rng;
	unsigned mode;
};

static inline void fz_chunks_init(struct fz_chunks *c, uint8_t seed)
{
	c->mode = seed & 3;
	c->rng = seed;
}

static inline size_t fz_chunk_next(struct fz_chunks *c, const uint8_t *p, size_t left)
{
	size_t n;

	if (c->mode == 0)
		return left;
	if (c->mode == 1) {
		const uint8_t *lf = memchr(p, '\n', left);
		return lf ? (size_t)(lf - p) + 1 : left;
	}
	c->rng = c->rng * 1103515245u + 12345u;
	n = 1 + (c->rng >> 16) % 64;
	return n < left ? n : left;
}

#endif
