# portshim — build, test, install, demo, bench.
#
#   make            build the library, the command's helper and the test helpers
#   make test       install missing test packages (Criterion, redis) and run every test
#   make demo       four copies of a hard-coded-port server at once, under the shim;
#                   then a #2034-style race found by portshim stress and replayed
#   make bench      benchmarks: ratios against bare runs in the same run
#   make fuzz       libFuzzer over the manifest reader and the config parsers,
#                   FUZZ_SECONDS in all (default 60); `make test` runs a short smoke
#   make install    PREFIX=/usr/local DESTDIR=
#   make sanitize   ASan+UBSan, TSan and valgrind over the suites (scripts/sanitize)
#
# Warnings are errors (WERROR=0 to relax on an unknown compiler).

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
WERROR  ?= 1
SAN     ?=
B       ?= build

# Quiet rules; V=1 shows every command.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN) $(EXTRA_CFLAGS)
LDSAN   := $(SAN)

CORE_SRC   := $(sort $(wildcard shim/core/*.c))
LIB_SRC    := $(sort $(wildcard shim/lib/*.c))
CLI_SRC    := $(sort $(wildcard shim/cli/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/*.c))
E2E_SRC    := $(sort $(wildcard tests/e2e/*.c))
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/*.c))

CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)

LIB      := $(B)/libportshim.so
HELPER   := $(B)/portshim-helper
HELPERS  := $(HELPER_SRC:tests/helpers/%.c=$(B)/helpers/%)
BENCHES  := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%)
UNIT     := $(B)/tests/unit
E2E      := $(B)/tests/e2e

.PHONY: all test unit e2e musl runners demo bench install uninstall clean deps check-exports \
        sanitize fuzz fuzz-smoke
all: $(LIB) $(HELPER) $(HELPERS)

# Library objects: position independent, hidden by default.
$(B)/shim/%.o: shim/%.c $(wildcard shim/*/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -Ishim -c -o $@ $<

$(B)/libcore.a: $(CORE_OBJ)
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

# Only the libc names in exports.map leave the library. Two LOAD segments
# instead of four (-z noseparate-code): every exec under the shim maps the
# library, and fewer mappings and page faults make that measurably cheaper
# (docs/benchmarks.md); the cost is that read-only data is mapped executable.
$(LIB): $(LIB_OBJ) $(CORE_OBJ) shim/lib/exports.map
	$(call say,LD,$@)
	$(Q)$(CC) $(LDSAN) -shared -Wl,--version-script=shim/lib/exports.map -Wl,-z,defs \
	    -Wl,-z,noseparate-code \
	    -o $@ $(LIB_OBJ) $(CORE_OBJ) -ldl -lpthread

$(HELPER): $(CLI_OBJ) $(B)/libcore.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(B)/libcore.a -lpthread -lm

$(B)/helpers/%: tests/helpers/%.c tests/helpers/common.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/helpers -o $@ $< -lpthread

$(B)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/helpers -o $@ $< -lpthread

$(UNIT): $(UNIT_SRC) $(B)/libcore.a | deps
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ishim -o $@ $(UNIT_SRC) $(B)/libcore.a -lcriterion -lpthread

$(E2E): $(E2E_SRC) tests/e2e/e2e.h tests/helpers/common.h $(B)/libcore.a | deps
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ishim -Itests/e2e -o $@ $(E2E_SRC) $(B)/libcore.a -lcriterion -lpthread -lm

# Test packages come from the project, not from whoever set up the machine.
deps:
	@scripts/ensure-deps

check-exports: $(LIB)
	@scripts/check-exports $(LIB) shim/lib/exports.map

unit: $(UNIT)
	$(UNIT) --jobs 2

# The library and the echo helpers built against musl, when musl-gcc is
# installed (scripts/ensure-deps installs it): tests/e2e/musl.c uses them.
MUSL_CC ?= musl-gcc
musl:
	@if command -v $(MUSL_CC) >/dev/null 2>&1; then \
	    $(MAKE) -s B=$(B)/musl CC=$(MUSL_CC) SAN= $(B)/musl/libportshim.so \
	        $(B)/musl/helpers/echo-server $(B)/musl/helpers/client; \
	else echo "make: $(MUSL_CC) not found: the musl e2e test will be skipped" >&2; fi

# JavaScript test runners from npm (Mocha), into build/runners: the e2e test
# of `mocha --parallel` under --per-worker skips, saying so, without them.
runners:
	@scripts/ensure-runners $(B)/runners

e2e: all musl runners $(E2E)
	PORTSHIM_BUILD=$(abspath $(B)) $(E2E) --jobs 2

test: all check-exports unit e2e fuzz-smoke

# libFuzzer targets (tests/fuzz) built by clang: scripts/fuzz.
fuzz:
	@B=$(B) scripts/fuzz run

fuzz-smoke: | deps
	@B=$(B) scripts/fuzz smoke

demo: all
	@scripts/demo

bench: all $(BENCHES)
	@PORTSHIM_BUILD=$(abspath $(B)) tests/bench/run

# ASan+UBSan over the unit and e2e suites, TSan on the threaded and forking
# helpers, valgrind on preloaded helpers and the command: scripts/sanitize.
sanitize:
	@MAKE="$(MAKE)" scripts/sanitize

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/portshim \
	    $(DESTDIR)$(PREFIX)/libexec/portshim $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/portshim/libportshim.so
	install -m 0755 $(HELPER) $(DESTDIR)$(PREFIX)/libexec/portshim/portshim-helper
	install -m 0755 scripts/portshim $(DESTDIR)$(PREFIX)/bin/portshim
	install -m 0644 docs/portshim.1 $(DESTDIR)$(PREFIX)/share/man/man1/portshim.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/portshim $(DESTDIR)$(PREFIX)/share/man/man1/portshim.1
	rm -rf $(DESTDIR)$(PREFIX)/lib/portshim $(DESTDIR)$(PREFIX)/libexec/portshim

clean:
	rm -rf build
