# spliced: `make` builds ./spliced, `make check` runs every test, `make run` starts it.
# `make SANITIZE=1 check` builds into build-asan/ with ASan + UBSan and runs the same tests.

CC      ?= cc
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 $(WARN) -Iinclude -D_GNU_SOURCE -pthread \
           -I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)
# CPPFLAGS, CFLAGS and LDFLAGS from the environment are kept (dpkg-buildflags' hardening
# flags, for instance): ours are added after them.
# The demo site and application of the built-in configuration (`make run`) are read from
# the source tree; the installed binary (`make install`) looks in $(DATADIR) instead, where
# no demo is installed, so its built-in configuration is the plain one.
DATADIR_CPPFLAGS := -DSPLICED_DATADIR='"$(CURDIR)"'
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif
LIBS    := -luring -lcap-ng -lpthread -lpcre2-8 \
           $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)

ifeq ($(SANITIZE),1)
B       := build-asan
override CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
else
B       := build
endif

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

# The module list is the architecture: one file per module (see README.md).
LIB_SRC   := $(filter-out src/main.c,$(sort $(wildcard src/*.c)))
LIB_OBJ   := $(LIB_SRC:src/%.c=$(B)/src/%.o)
TEST_SRC  := $(sort $(wildcard tests/check_*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_HELP := $(filter-out $(TEST_SRC) tests/failmalloc.c,$(wildcard tests/*.c))
TOOL_BIN  := $(B)/tools/testbackend $(B)/tools/splicebench $(B)/tools/rewritetest \
             $(B)/tools/rwbench $(B)/tools/abuse
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_HELP := $(filter-out $(FUZZ_SRC),$(wildcard fuzz/*.c))

DEPS_PKGS := gcc make pkg-config liburing-dev libcap-ng-dev check libpcre2-dev \
             systemtap-sdt-dev curl bpftrace python3-cherrypy3 logrotate libssl-dev openssl \
             chromium

.PHONY: all deps run check test fuzz fuzz-deps clean install uninstall deb soak bench FORCE
# ./spliced is the normal build only; a sanitizer build stays in build-asan/.
ifeq ($(SANITIZE),1)
all: $(B)/spliced $(TOOL_BIN)
else
all: spliced $(TOOL_BIN)
endif

$(B)/src/%.o: src/%.c $(wildcard include/spliced/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DATADIR_CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libspliced.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/spliced: $(B)/src/main.o $(B)/libspliced.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

spliced: $(B)/spliced
	cp $< $@.tmp && mv -f $@.tmp $@

$(B)/tools/%: tools/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

# Tools that measure or exercise the project's own modules link the library.
$(B)/tools/splicebench $(B)/tools/rewritetest $(B)/tools/rwbench: $(B)/tools/%: tools/%.c $(B)/libspliced.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libspliced.a $(LIBS)

$(B)/tests/check_%: tests/check_%.c $(TEST_HELP) $(wildcard tests/*.h) $(B)/libspliced.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DATADIR_CPPFLAGS) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(TEST_HELP) \
	  $(B)/libspliced.a $(LIBS) $(CHECK_LIBS)

# An LD_PRELOAD shim that makes the heap refuse while a file exists (tests/failmalloc.c),
# for the memory-pressure case of check_e2e_abuse; built without the sanitizers, whose
# allocator it sits on top of.
$(B)/tests/libfailmalloc.so: tests/failmalloc.c Makefile
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g -fPIC -shared -o $@ $< -ldl
$(B)/tests/check_e2e_abuse: $(B)/tests/libfailmalloc.so

# ---- make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc] ----
# The installed binary is linked from the same objects except config.c, compiled with
# SPLICED_DATADIR=$(DATADIR): it never looks into this tree. No demo is installed there,
# so without -c it runs the plain built-in configuration. An existing spliced.conf and
# logrotate file are never overwritten.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share/spliced
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL    ?= install

# Rewritten only when DATADIR changes, so that config.o follows PREFIX.
$(B)/install/datadir: FORCE
	@mkdir -p $(dir $@)
	@echo '$(DATADIR)' | cmp -s - $@ || echo '$(DATADIR)' > $@

$(B)/install/config.o: src/config.c $(wildcard include/spliced/*.h) Makefile $(B)/install/datadir
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DSPLICED_DATADIR='"$(DATADIR)"' $(CFLAGS) -c -o $@ $<

$(B)/install/spliced: $(B)/src/main.o $(filter-out $(B)/src/config.o,$(LIB_OBJ)) $(B)/install/config.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

install: $(B)/install/spliced
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DATADIR)/bpftrace \
	  $(DESTDIR)$(SYSCONFDIR)/spliced/conf.d $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	  $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0755 $(B)/install/spliced $(DESTDIR)$(SBINDIR)/spliced
	$(INSTALL) -m 0644 spliced.8 $(DESTDIR)$(MANDIR)/man8/spliced.8
	$(INSTALL) -m 0755 tools/trace tools/perf-record.sh $(DESTDIR)$(DATADIR)/
	$(INSTALL) -m 0644 tools/bpftrace/*.bt $(DESTDIR)$(DATADIR)/bpftrace/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	  dist/spliced.service.in > $(DESTDIR)$(UNITDIR)/spliced.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/spliced.service
	$(INSTALL) -m 0644 dist/spliced.socket $(DESTDIR)$(UNITDIR)/spliced.socket
	@for f in spliced/spliced.conf:spliced.conf logrotate.d/spliced:spliced.logrotate; do \
	  dst=$(DESTDIR)$(SYSCONFDIR)/$${f%%:*}; src=dist/$${f#*:}; \
	  if [ -e "$$dst" ] || [ -L "$$dst" ]; then echo "kept $$dst (not overwritten)"; \
	  else echo "$(INSTALL) -m 0644 $$src $$dst"; $(INSTALL) -m 0644 $$src $$dst || exit 1; fi; \
	done

# Removes what install put there, except the configuration and logrotate files (edited by
# their owner: remove them by hand).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/spliced $(DESTDIR)$(MANDIR)/man8/spliced.8 \
	  $(DESTDIR)$(DATADIR)/trace $(DESTDIR)$(DATADIR)/perf-record.sh \
	  $(DESTDIR)$(UNITDIR)/spliced.service $(DESTDIR)$(UNITDIR)/spliced.socket
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/bpftrace/,$(notdir $(wildcard tools/bpftrace/*.bt)))
	-rmdir $(DESTDIR)$(DATADIR)/bpftrace $(DESTDIR)$(DATADIR)
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/spliced and $(DESTDIR)$(SYSCONFDIR)/logrotate.d/spliced"

# ---- make deb: the Debian package (debian/) in build/ ----
# dpkg-buildpackage runs on a copy of this tree's files (git ls-files: tracked and new,
# not ignored) in build/deb/, so no package build output lands among them; the .deb is
# moved to build/ once lintian finds no error in it. The package is rebuilt only when one
# of those files changed, so the normal and the ASan `make check` share one
# (tests/check_e2e_deb). This make's variables (SANITIZE, WERROR, -j) do not reach the
# package build: debian/rules sets its own flags, DEB_JOBS its parallelism.
DEB_PKGS    := $(filter gcc make pkg-config %-dev,$(DEPS_PKGS)) dpkg-dev debhelper fakeroot \
               lintian media-types
DEB_JOBS    ?= 2
DEB_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog 2>/dev/null)
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE    := build/spliced_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_DIR     := build/deb/spliced-$(firstword $(subst -, ,$(DEB_VERSION)))

deb:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(DEB_PKGS)"
	@$(MAKE) --no-print-directory $(DEB_FILE) \
	  DEB_SRC="$$(git ls-files --cached --others --exclude-standard | tr '\n' ' ')"
	@echo "package: $(CURDIR)/$(DEB_FILE)"

# DEB_SRC is set by `deb` above only (empty otherwise, so other targets never run git).
$(DEB_FILE): $(wildcard $(DEB_SRC))
	@test -n "$(DEB_SRC)" || { echo "run make deb, which lists the files to copy"; exit 1; }
	rm -rf build/deb $@
	mkdir -p $(DEB_DIR)
	tar -cf - $^ | tar -xf - -C $(DEB_DIR)
	cd $(DEB_DIR) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	  dpkg-buildpackage -us -uc -b -J$(DEB_JOBS)
	lintian --fail-on error build/deb/$(notdir $@)
	mv -f build/deb/*.deb build/

# Installs the Debian packages the build and tests need, if any is missing (root only).
deps:
	@missing=""; for p in $(DEPS_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing packages:$$missing (run 'make deps' as root)"; exit 1; fi; \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

run: deps
	$(MAKE) spliced
	./spliced

test: all $(TEST_BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  echo "== $$t"; \
	  SPLICED_BIN=$(CURDIR)/$(B)/spliced TESTBACKEND_BIN=$(CURDIR)/$(B)/tools/testbackend \
	    CK_DEFAULT_TIMEOUT=120 $$t || fail=1; \
	done; exit $$fail

check: deps
	$(MAKE) test

# ---- make soak [SOAK_SECONDS=600]: mixed load, reloads and backend restarts (tools/soak)
# against this build; fails on any failed request or on RSS, fd or pipe growth. Under
# SANITIZE=1 ASan's quarantine (256 MiB of freed memory held back) would read as RSS
# growth: it is kept to 4 MiB.
SOAK_SECONDS ?= 600
soak: all
	$(if $(filter 1,$(SANITIZE)),ASAN_OPTIONS=$${ASAN_OPTIONS:+$$ASAN_OPTIONS:}quarantine_size_mb=4) \
	SOAK_SECONDS=$(SOAK_SECONDS) SPLICED=$(CURDIR)/$(B)/spliced \
	  TESTBACKEND=$(CURDIR)/$(B)/tools/testbackend /usr/bin/python3 tools/soak

# ---- make bench: spliced against nginx and HAProxy (tools/bench); results (Markdown,
# JSON, PNG charts) in BENCH_DIR. Its peers are installed here, not by make check.
BENCH_DIR  ?= build/bench
BENCH_PKGS := wrk nginx haproxy gnuplot-nox $(if $(filter 1,$(BENCH_APACHE)),apache2)
bench: all
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(BENCH_PKGS)"
	RESULTS=$(CURDIR)/$(BENCH_DIR) SPLICED=$(CURDIR)/$(B)/spliced tools/bench

# libFuzzer targets (clang): make fuzz FUZZ_RUNS=100000 [FUZZ_SEED=N]. Without FUZZ_SEED
# libFuzzer picks a seed each run; CI fixes one (.ci/run), so that its run is repeatable
# and a red CI always names a crash it can reproduce. New inputs go to a scratch copy of
# the corpus (build/fuzz/corpus/), never into the repository's seeds.
FUZZ_RUNS ?= 20000
FUZZ_SEED ?=
FUZZ_PKGS := clang libclang-rt-14-dev
fuzz: fuzz-deps $(FUZZ_SRC:fuzz/%.c=$(B)/fuzz/%)
	@for f in $(FUZZ_SRC:fuzz/%.c=$(B)/fuzz/%); do n=$$(basename $$f); echo "== $$f"; \
	  rm -rf $(B)/fuzz/corpus/$$n && mkdir -p $(B)/fuzz/corpus/$$n && \
	  $$f -runs=$(FUZZ_RUNS) -max_len=4096 $(if $(FUZZ_SEED),-seed=$(FUZZ_SEED)) \
	    $(B)/fuzz/corpus/$$n fuzz/corpus/$$n || exit 1; done

fuzz-deps:
	@missing=""; for p in $(FUZZ_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(B)/fuzz/%: fuzz/%.c $(FUZZ_HELP) $(LIB_SRC) $(wildcard include/spliced/*.h) | fuzz-deps
	@mkdir -p $(dir $@) fuzz/corpus/$*
	clang -g -O1 -std=gnu11 -Iinclude -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	  -o $@ $< $(FUZZ_HELP) $(LIB_SRC) $(LIBS)

clean:
	rm -rf build build-asan spliced
