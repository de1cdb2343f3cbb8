# kea-hook-runscript: `make` builds the hook, `make test` runs every test, `make demo` shows it
# working on a real Kea with real clients. See README.md.

KEA_INCLUDE ?= /usr/include/kea
KEA_LIB     ?=
PREFIX      ?= /usr
MULTIARCH   := $(shell $(CC) -print-multiarch 2>/dev/null)
LIBDIR      ?= $(PREFIX)/lib/$(MULTIARCH)
HOOKSDIR    ?= $(LIBDIR)/kea/hooks
DESTDIR     ?=
PYTHON      ?= /usr/bin/python3
BUILD       ?= build

LIBRARY := $(BUILD)/kea-hook-runscript.so
# The operator's tool for spools and dead letters (src/cli).
SPOOL_TOOL := $(BUILD)/kea-runscript-spool
# The operator's look at each script through Kea's control socket (src/cli).
STATUS_TOOL := $(BUILD)/kea-runscript-status
STATUS_SRC  := src/cli/status_tool.c src/cli/status_lines.c
SBINDIR    ?= $(PREFIX)/sbin

# The Kea release we build against. Kea loads a library only if its version() equals Kea's own
# KEA_HOOKS_VERSION (20200 for 2.2.0, 20603 for 2.6.3, 30004 for 3.0.4), so a build is for one
# release; src/kea/kea_version.h holds what differs between releases.
KEA_HOOKS_VERSION := $(shell sed -n 's/.*KEA_HOOKS_VERSION = \([0-9]*\).*/\1/p' \
                       $(KEA_INCLUDE)/hooks/hooks.h 2>/dev/null)
KEA_VERSION := $(shell sed -n 's/^\#define VERSION "\(.*\)"/\1/p' $(KEA_INCLUDE)/config.h 2>/dev/null)
KEA_3 := $(shell test "0$(KEA_HOOKS_VERSION)" -ge 30000 && echo yes)
# Kea 3.0 renamed libkea-dhcp++ to libkea-dhcp, and its headers (dhcpsrv/cfgmgr.h, through
# asiolink/crypto_tls.h) pull in Boost.Asio's TLS code, which calls OpenSSL.
KEA_DHCP_LIB := $(if $(KEA_3),kea-dhcp,kea-dhcp++)
KEA_TLS_LIBS := $(if $(KEA_3),-lssl -lcrypto)
# Debian 12's kea-dev 2.2 lacks dhcpsrv/cfg_globals.h; our declaration stands in for it, and only
# there: -idirafter is searched last, and a Kea other than 2.2 without the header is an error.
ifeq ($(wildcard $(KEA_INCLUDE)/dhcpsrv/cfg_globals.h),)
  ifneq ($(filter 20200 20201,$(KEA_HOOKS_VERSION)),)
    KEA_COMPAT := -idirafter src/kea/compat/kea-2.2
  else ifneq ($(KEA_HOOKS_VERSION),)
    $(error $(KEA_INCLUDE)/dhcpsrv/cfg_globals.h is missing and Kea is not 2.2 ($(KEA_HOOKS_VERSION)))
  endif
endif

WARNINGS  := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wundef
CFLAGS    ?= -O2 -g
CXXFLAGS  ?= -O2 -g
CORE_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -iquote src $(WARNINGS) -Wstrict-prototypes -Wmissing-prototypes
KEA_CXXFLAGS := -std=c++17 -fPIC $(WARNINGS) -Isrc -I$(KEA_INCLUDE) $(KEA_COMPAT) -pthread \
                -DRS_KEA_HOOKS_VERSION=$(KEA_HOOKS_VERSION)
KEA_LIBS := $(if $(KEA_LIB),-L$(KEA_LIB)) -lkea-dhcpsrv -l$(KEA_DHCP_LIB) -lkea-hooks -lkea-stats -lkea-log \
            -lkea-util -lkea-asiolink -lkea-cc -lkea-exceptions $(KEA_TLS_LIBS) -pthread

# The core: src/core, and the parts with rooms of their own (src/spool). No Kea include.
CORE_SRC := $(wildcard src/core/*.c src/spool/*.c)
CORE_HDR := $(wildcard src/core/*.h src/spool/*.h)
KEA_SRC  := $(wildcard src/kea/*.cc)
CORE_OBJ := $(CORE_SRC:src/%.c=$(BUILD)/%.o)
KEA_OBJ  := $(KEA_SRC:src/%.cc=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libruncore.a

.PHONY: all core install uninstall install-doc uninstall-doc deb clean test check test-unit test-sanitize test-valgrind \
        test-e2e test-e2e-roots test-tsan test-fuzz test-starved demo bench deps docs docs-check format format-check

all: $(LIBRARY) $(SPOOL_TOOL) $(STATUS_TOOL)

core: $(CORE_LIB)

$(BUILD)/core/%.o: src/core/%.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/spool/%.o: src/spool/%.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/kea/%.o: src/kea/%.cc $(wildcard src/kea/*.h) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CXX) $(KEA_CXXFLAGS) $(CXXFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	$(AR) rcs $@ $^

# --no-undefined: a symbol missing from Kea's libraries fails the build, not Kea's start-up.
# Linked aside and renamed: a Kea running the previous build keeps its copy intact.
$(LIBRARY): $(KEA_OBJ) $(CORE_LIB)
	$(CXX) -shared -o $@.tmp $(KEA_OBJ) $(CORE_LIB) -Wl,--no-undefined -Wl,-z,defs $(KEA_LIBS)
	mv -f $@.tmp $@

$(SPOOL_TOOL): src/cli/spool_tool.c $(CORE_LIB) $(CORE_HDR)
	$(CC) $(CORE_CFLAGS) $(CFLAGS) $< $(CORE_LIB) -pthread -o $@

$(STATUS_TOOL): $(STATUS_SRC) src/cli/status_lines.h $(CORE_LIB) $(CORE_HDR)
	$(CC) $(CORE_CFLAGS) $(CFLAGS) $(STATUS_SRC) $(CORE_LIB) -o $@

install: $(LIBRARY) $(SPOOL_TOOL) $(STATUS_TOOL) install-doc
	install -d $(DESTDIR)$(HOOKSDIR) $(DESTDIR)$(SBINDIR)
	install -m 0644 $(LIBRARY) $(DESTDIR)$(HOOKSDIR)/kea-hook-runscript.so
	install -m 0755 $(SPOOL_TOOL) $(DESTDIR)$(SBINDIR)/kea-runscript-spool
	install -m 0755 $(STATUS_TOOL) $(DESTDIR)$(SBINDIR)/kea-runscript-status
	install -D -m 0644 packaging/apparmor/kea-hook-runscript \
	    $(DESTDIR)/etc/apparmor.d/abstractions/kea-hook-runscript
	@echo "installed $(DESTDIR)$(HOOKSDIR)/kea-hook-runscript.so, built for Kea $(KEA_VERSION):"
	@echo "  Kea loads hook libraries from $(HOOKSDIR) (or \$$KEA_HOOKS_PATH) only,"
	@echo "  and only those built for its own release."

uninstall: uninstall-doc
	rm -f $(DESTDIR)$(HOOKSDIR)/kea-hook-runscript.so $(DESTDIR)$(SBINDIR)/kea-runscript-spool \
	    $(DESTDIR)$(SBINDIR)/kea-runscript-status $(DESTDIR)/etc/apparmor.d/abstractions/kea-hook-runscript

# The man page, the docs and the examples, where the Debian package puts them.
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/kea-hook-runscript

deb: $(LIBRARY) $(SPOOL_TOOL) $(STATUS_TOOL)
	sh packaging/build-deb.sh -l $(LIBRARY) -o $(BUILD)

install-doc:
	install -d $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 man/kea-hook-runscript.7 $(DESTDIR)$(MANDIR)/man7/kea-hook-runscript.7
	install -m 0644 README.md docs/faq.md docs/migration.md $(DESTDIR)$(DOCDIR)/
	cd examples && find . -type f ! -path '*/__pycache__/*' | while read -r f; do \
	    if [ -x "$$f" ]; then m=0755; else m=0644; fi; \
	    install -D -m $$m "$$f" "$(DESTDIR)$(DOCDIR)/examples/$$f"; done

uninstall-doc:
	rm -f $(DESTDIR)$(MANDIR)/man7/kea-hook-runscript.7
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf $(BUILD)

include tests/unit/tests.mk

# `test` and `demo` first install what is missing, then run in a fresh make, whose view of Kea's
# headers (KEA_COMPAT above) is taken after the install.
test: deps
	$(MAKE) check

demo: deps
	$(MAKE) all
	$(PYTHON) demo/demo.py

deps:
	sh tools/install-deps.sh

# Ratios of DORA/s to Kea without a hook, for ISC's run_script and each of our modes, with an
# empty and a 500,000-lease database (root; several minutes).
# The floor of the benchmark: a library whose callout does nothing.
BENCH_EMPTY := $(BUILD)/bench/empty-callout.so

$(BENCH_EMPTY): bench/empty_callout.cc
	@mkdir -p $(@D)
	$(CXX) $(KEA_CXXFLAGS) $(CXXFLAGS) -shared -o $@ $< -Wl,--no-undefined $(KEA_LIBS)

bench: all $(BENCH_EMPTY)
	$(PYTHON) bench/bench.py

# Every test: static checks, the core's unit tests (plain, under ASan+UBSan, under valgrind),
# then the end-to-end lab against real kea-dhcp4/kea-dhcp6 with real clients (needs root).
# One after the other even under -j: timing-sensitive tests must not compete for the 2 cores.
check:
	@# The other releases' roots are made (first run only) while the unit tests run.
	@mkdir -p $(BUILD); for suite in $(KEA_ROOTS); do tools/kea-root build $$suite; done \
	    >$(BUILD)/kea-roots.log 2>&1 &
	$(MAKE) format-check docs-check
	$(MAKE) test-unit
	$(MAKE) test-sanitize
	$(MAKE) test-valgrind
	$(MAKE) test-tsan
	$(MAKE) test-fuzz
	$(MAKE) test-e2e
	$(MAKE) test-e2e-roots

test-e2e: $(LIBRARY) $(SPOOL_TOOL) $(STATUS_TOOL)
	RUNSCRIPT_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

# The same lab against the other Kea releases users run, each in a Debian root of its own
# (tools/kea-root: made from Debian's archive on first use, then kept): Debian 12 has Kea 2.2.0,
# 13 (trixie) 2.6.3, forky 3.0.4. The host's own release is tested by test-e2e.
HOST_SUITE := $(shell . /etc/os-release 2>/dev/null && echo $$VERSION_CODENAME)
KEA_ROOTS  ?= $(filter-out $(HOST_SUITE),bookworm trixie forky)

test-e2e-roots:
	set -e; for suite in $(KEA_ROOTS); do \
	    echo "== the e2e lab against the Kea of Debian $$suite"; \
	    tools/kea-root exec $$suite $(MAKE) BUILD=$(BUILD)/$$suite test-e2e; done

# The whole suite on a starved machine, to show that no test depends on this machine's speed:
# first with every process on one core, then with two CPU-bound processes competing throughout.
test-starved: deps
	sh tools/under-load.sh pinned $(MAKE) check
	sh tools/under-load.sh contended $(MAKE) check

$(BUILD)/vars_doc: tools/vars_doc.c $(CORE_LIB)
	$(CC) $(CORE_CFLAGS) $(CFLAGS) -Isrc $< $(CORE_LIB) -o $@

# The README's variable reference is generated from the core's tables.
docs: $(BUILD)/vars_doc
	$(PYTHON) tools/splice_docs.py README.md $(BUILD)/vars_doc

docs-check: $(BUILD)/vars_doc
	$(PYTHON) tools/splice_docs.py --check README.md $(BUILD)/vars_doc

FORMAT_FILES := $(wildcard src/core/*.[ch] src/spool/*.[ch] src/cli/*.[ch] src/kea/*.cc src/kea/*.h tests/unit/*.[ch] tests/fuzz/*.c \
                          tools/*.c)
format:
	clang-format -i $(FORMAT_FILES)

# The tree is formatted by Debian 12's clang-format 14; other releases lay some lines out
# differently, so elsewhere the check says so and passes.
CLANG_FORMAT_MAJOR := $(shell clang-format --version 2>/dev/null | sed -n 's/.*version \([0-9]*\).*/\1/p')
format-check:
	@if [ "$(CLANG_FORMAT_MAJOR)" = 14 ]; then clang-format --dry-run --Werror $(FORMAT_FILES); \
	else echo "format-check: skipped, clang-format $(CLANG_FORMAT_MAJOR) is not the 14 the tree is formatted with"; fi

# Fuzzing (clang's libFuzzer, with ASan and UBSan): the worker framing, the configuration reader
# and the spool's event records, FUZZ_SECONDS each.
FUZZ_SECONDS ?= 20
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all
$(BUILD)/fuzz/%: tests/fuzz/%.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) $< $(CORE_SRC) -pthread -o $@

test-fuzz: $(BUILD)/fuzz/fuzz_frame $(BUILD)/fuzz/fuzz_json $(BUILD)/fuzz/fuzz_event_record
	@mkdir -p $(BUILD)/fuzz/corpus-frame $(BUILD)/fuzz/corpus-json $(BUILD)/fuzz/corpus-event_record
	$(BUILD)/fuzz/fuzz_frame -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    $(BUILD)/fuzz/corpus-frame tests/fuzz/corpus/frame
	$(BUILD)/fuzz/fuzz_json -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    $(BUILD)/fuzz/corpus-json tests/fuzz/corpus/json
	$(BUILD)/fuzz/fuzz_event_record -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    $(BUILD)/fuzz/corpus-event_record tests/fuzz/corpus/event_record
