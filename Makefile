# originmail — one Makefile for the daemon, the tools, the tests, the demo and the benchmarks.
# Objects go under $(BUILD) (build/ by default; build/asan for the sanitizer pass).

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang
SAN ?=

# The BPF side (docs/bpf.md): the object and its skeleton do not depend on SAN, so both passes share them.
BPF_OUT := build/bpf
VMLINUX := $(BPF_OUT)/vmlinux.h
BPF_OBJ := $(BPF_OUT)/originmail.bpf.o
SKEL := $(BPF_OUT)/originmail.skel.h

# GMime parses MIME header values for IMAP (ENVELOPE, BODYSTRUCTURE); -isystem keeps -Werror to our code.
GMIME_CFLAGS := $(shell pkg-config --cflags gmime-3.0 2>/dev/null | sed 's/-I/-isystem /g')
GMIME_LIBS := $(shell pkg-config --libs gmime-3.0 2>/dev/null)

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Iinclude -Iuser \
	-I$(BPF_OUT) $(GMIME_CFLAGS) -D_GNU_SOURCE -MMD -MP
ifeq ($(SAN),1)
CFLAGS_OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS_SAN := -fsanitize=address,undefined
else ifeq ($(SAN),fuzz)
# The libFuzzer build (build/fuzz, clang): the library instrumented for coverage; only the targets link
# libFuzzer's main.
CFLAGS_OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all
LDFLAGS_SAN := -fsanitize=address,undefined
else
CFLAGS_OPT := -O2 -g
LDFLAGS_SAN :=
endif
CFLAGS ?=
CPPFLAGS ?=
LDFLAGS ?=
# CPPFLAGS/CFLAGS/LDFLAGS from the environment: dpkg-buildflags' hardening when debian/rules builds.
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS_OPT) $(CPPFLAGS) $(CFLAGS)
LDLIBS := -lssl -lcrypto -lcrypt -lbpf -lelf -lz -lseccomp -pthread $(GMIME_LIBS)

# The library every program and test links: all of user/ but the programs' main files.
LIB_SRCS := $(filter-out user/originctl/%,$(wildcard user/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/liboriginmail.a

CTL_SRCS := $(wildcard user/originctl/*.c)
CTL_OBJS := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
DAEMON_SRCS := user/originmaild.c
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_SRCS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/obj/%.o)

PROGRAMS := $(BUILD)/originmaild $(BUILD)/originctl

# libFuzzer targets (tests/fuzz/fuzz_NAME.c, seed corpus tests/corpus/NAME/), built only with SAN=fuzz.
FUZZ_BUILD := build/fuzz
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/%)
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find bpf user include tests bench -name '*.[ch]')

.PHONY: all test unit integration valgrind lint demo bench fuzz fuzz-bins fuzz-replay vmtest install clean \
	deps deps-demo deps-bench deps-vmtest deps-package deb test-package run

all: $(PROGRAMS) $(UNIT_BINS) $(BUILD)/proxy_bench examples/tls/cert.pem

# The example configuration's certificate: self-signed, made once.
examples/tls/cert.pem:
	@scripts/make-cert.sh examples/tls

# The example configuration in the foreground, as root (it binds 25, 465, 587 on loopback).
run: all
	$(BUILD)/originmaild -c examples/originmail.conf

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(VMLINUX):
	@mkdir -p $(dir $@)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c >$@.tmp && mv $@.tmp $@

$(BPF_OBJ): bpf/originmail.bpf.c include/originmail/bpf_abi.h $(VMLINUX)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(BPF_OUT) -Iinclude -c $< -o $@

$(SKEL): $(BPF_OBJ)
	bpftool gen skeleton $< name originmail_bpf >$@.tmp && mv $@.tmp $@

$(filter $(BUILD)/obj/user/bpf/%,$(LIB_OBJS)): $(SKEL)

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/originmaild: $(DAEMON_OBJS) $(LIB)
	$(CC) $(LDFLAGS_SAN) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/originctl: $(CTL_OBJS) $(LIB)
	$(CC) $(LDFLAGS_SAN) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_HELPER_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) $^ -o $@ -lcmocka $(LDLIBS)

# A fuzz target: libFuzzer's main, the target, the instrumented library (SAN=fuzz only).
$(FUZZ_BINS): $(BUILD)/%: $(BUILD)/obj/tests/fuzz/%.o $(LIB)
	$(CC) -fsanitize=fuzzer,address,undefined $^ -o $@ $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

$(BUILD)/proxy_bench: bench/proxy_bench.c $(wildcard user/proxy/*.c)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -Iinclude -D_GNU_SOURCE $^ -o $@

# The SMTP and IMAP load clients of `make bench` (bench/smtp.sh, bench/imap.sh): standalone, no project
# library; the run loop and result lines they share are in bench/load_common.c.
$(BUILD)/smtp_load $(BUILD)/imap_load: $(BUILD)/%: bench/%.c bench/load_common.c bench/load_common.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE $(filter %.c,$^) -o $@

# The micro-benchmark of the daemon's calls on its BPF entries (bench/bpf.sh): the daemon's own code.
$(BUILD)/bpf_lookup: $(BUILD)/obj/bench/bpf_lookup.o $(LIB)
	$(CC) $(LDFLAGS_SAN) $(LDFLAGS) $^ -o $@ $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- dependencies: installed only when something is missing ----
deps:
	@sh scripts/deps.sh test
deps-demo:
	@sh scripts/deps.sh demo
deps-bench:
	@sh scripts/deps.sh bench
deps-vmtest:
	@sh scripts/deps.sh vmtest
deps-package:
	@sh scripts/deps.sh package

# ---- tests ----
# `make test`: lint, unit tests, integration tests, then both again under ASan+UBSan.
test: deps
	$(MAKE) lint
	$(MAKE) all
	$(MAKE) unit fuzz-replay integration valgrind
	$(MAKE) BUILD=build/asan SAN=1 all unit integration
	@echo "make test: all passed"

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

# The parsers and sessions that face untrusted bytes, once more under valgrind (leaks, uninitialised reads).
VALGRIND_BINS := $(filter $(BUILD)/tests/test_proxy_% $(BUILD)/tests/test_smtp_% $(BUILD)/tests/test_lmtp_% $(BUILD)/tests/test_imap_% \
	$(BUILD)/tests/test_pop3_% \
	$(BUILD)/tests/test_mailbox,$(UNIT_BINS))
valgrind: $(VALGRIND_BINS)
	@mkdir -p $(BUILD)/valgrind; for t in $(VALGRIND_BINS); do \
		log=$(BUILD)/valgrind/$$(basename $$t).log; \
		valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
			$$t >/dev/null 2>$$log || { cat $$log; echo "valgrind: $$t failed"; exit 1; }; \
	done; echo "valgrind: $(words $(VALGRIND_BINS)) binaries clean"

integration: $(PROGRAMS)
	@BUILD=$(BUILD) scripts/run-integration.sh

lint: $(SKEL)
	@scripts/lint.sh

# `make fuzz`: every target for FUZZ_SECONDS (60) on a scratch copy of its corpus; docs/fuzzing.md.
fuzz: deps
	$(MAKE) BUILD=$(FUZZ_BUILD) SAN=fuzz CC=$(CLANG) fuzz-bins
	@scripts/fuzz.sh run $(FUZZ_BUILD) $(if $(FUZZ_SECONDS),$(FUZZ_SECONDS),60)

# Every target over its committed corpus once, no fuzzing: the crashes found so far stay fixed.
fuzz-replay:
	$(MAKE) BUILD=$(FUZZ_BUILD) SAN=fuzz CC=$(CLANG) fuzz-bins
	@scripts/fuzz.sh replay $(FUZZ_BUILD)

bench: deps-bench $(BUILD)/proxy_bench $(BUILD)/smtp_load $(BUILD)/imap_load $(BUILD)/bpf_lookup $(PROGRAMS)
	@scripts/bench.sh $(BUILD)

vmtest: deps-vmtest all
	@vmtest/run.sh $(if $(KERNEL),--kernel $(KERNEL))

demo: deps-demo all
	@scripts/demo.sh $(BUILD)

# ---- the Debian package ----
# build/originmail_VERSION_amd64.deb, built with debhelper in a copy of the tree under build/deb/.
deb: deps-package
	@scripts/deb.sh $(BUILD)

# The .deb installed, started, used, reloaded, stopped and purged in a booted Debian 12 container.
test-package: deb
	@tests/package/test_package.sh $(BUILD)

# ---- install ----
install: $(PROGRAMS)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/originmail
	install -m 0755 $(BUILD)/originmaild $(DESTDIR)$(PREFIX)/sbin/originmaild
	install -m 0755 $(BUILD)/originctl $(DESTDIR)$(PREFIX)/bin/originctl
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/originmail/
	install -d $(DESTDIR)$(PREFIX)/share/doc/originmail/examples
	install -m 0644 examples/originmail.conf $(DESTDIR)$(PREFIX)/share/doc/originmail/examples/
	install -d $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 man/originmail.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/originmaild.8 man/originctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/

clean:
	rm -rf build
