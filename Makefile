# spliced: `make` builds ./spliced, `make check` runs every test, `make run` starts it.
# `make SANITIZE=1 check` builds into build-asan/ with ASan + UBSan and runs the same tests.

CC      ?= cc
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -Iinclude -D_GNU_SOURCE -pthread \
           -I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)
# The demo site and application of the built-in configuration (`make run`) are read from
# the source tree.
CFLAGS  += -DSPLICED_DATADIR='"$(CURDIR)"'
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
LIBS    := -luring -lcap-ng -lpthread -lpcre2-8

ifeq ($(SANITIZE),1)
B       := build-asan
CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
B       := build
endif

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

# The module list is the architecture: one file per module (see README.md).
LIB_SRC   := $(filter-out src/main.c,$(sort $(wildcard src/*.c)))
LIB_OBJ   := $(LIB_SRC:src/%.c=$(B)/src/%.o)
TEST_SRC  := $(sort $(wildcard tests/check_*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_HELP := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
TOOL_BIN  := $(B)/tools/testbackend $(B)/tools/splicebench $(B)/tools/rewritetest \
             $(B)/tools/rwbench
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_HELP := $(filter-out $(FUZZ_SRC),$(wildcard fuzz/*.c))

DEPS_PKGS := gcc make pkg-config liburing-dev libcap-ng-dev check libpcre2-dev \
             systemtap-sdt-dev curl bpftrace python3-cherrypy3

.PHONY: all deps run check test fuzz clean
# ./spliced is the normal build only; a sanitizer build stays in build-asan/.
ifeq ($(SANITIZE),1)
all: $(B)/spliced $(TOOL_BIN)
else
all: spliced $(TOOL_BIN)
endif

$(B)/src/%.o: src/%.c $(wildcard include/spliced/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libspliced.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/spliced: $(B)/src/main.o $(B)/libspliced.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

spliced: $(B)/spliced
	cp $< $@.tmp && mv -f $@.tmp $@

$(B)/tools/%: tools/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

# Tools that measure or exercise the project's own modules link the library.
$(B)/tools/splicebench $(B)/tools/rewritetest $(B)/tools/rwbench: $(B)/tools/%: tools/%.c $(B)/libspliced.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libspliced.a $(LIBS)

$(B)/tests/check_%: tests/check_%.c $(TEST_HELP) $(wildcard tests/*.h) $(B)/libspliced.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(TEST_HELP) $(B)/libspliced.a $(LIBS) $(CHECK_LIBS)

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

# libFuzzer targets (clang): make fuzz FUZZ_RUNS=100000
FUZZ_RUNS ?= 20000
fuzz: $(FUZZ_SRC:fuzz/%.c=$(B)/fuzz/%)
	@for f in $^; do echo "== $$f"; $$f -runs=$(FUZZ_RUNS) -max_len=4096 fuzz/corpus/$$(basename $$f) || exit 1; done

$(B)/fuzz/%: fuzz/%.c $(FUZZ_HELP) $(LIB_SRC) $(wildcard include/spliced/*.h)
	@mkdir -p $(dir $@) fuzz/corpus/$*
	clang -g -O1 -std=gnu11 -Iinclude -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	  -o $@ $< $(FUZZ_HELP) $(LIB_SRC) $(LIBS)

clean:
	rm -rf build build-asan spliced
