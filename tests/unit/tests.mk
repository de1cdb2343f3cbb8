# Unit tests of the core (src/core) and of the operator tools' parts that need no socket
# (src/cli), with cmocka. Included by the top-level Makefile.
#
#   make test-unit       build and run every test
#   make test-sanitize   the same tests, core included, under ASan + UBSan (separate build dir)
#   make test-valgrind   the test-unit binaries under valgrind's memcheck
#   make test-tsan       the threaded tests (queue, supervisor, worker, engine) under TSan
#
# Each variant compiles the core sources itself, so that the sanitizers instrument them and
# valgrind sees -O1 code with debug info, rather than linking the -O2 objects of the library.
# The helper that the tests run as their "script" is built once, without sanitizers: it stands
# for an arbitrary program, and what it reports must not depend on the test's variant.

UNIT_NAMES  := strvec pool textfmt json config event spawn job supervisor engine frame queue worker replay \
               spool event_record script_trust status_lines arrivals
UNIT_DIR    := $(BUILD)/unit
SAN_DIR     := $(BUILD)/unit-sanitize
TSAN_DIR    := $(BUILD)/unit-tsan
TSAN_NAMES  := queue supervisor worker engine spool
UNIT_HELPER := $(UNIT_DIR)/inherit_report

UNIT_CFLAGS      := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -pthread
UNIT_TEST_CFLAGS := $(UNIT_CFLAGS) -iquote src/core -iquote src -iquote tests/unit \
                    -DINHERIT_REPORT_PATH='"$(abspath $(UNIT_HELPER))"'
UNIT_CORE_CFLAGS := $(CORE_CFLAGS) -g -O1 -pthread
SANITIZE_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer \
                    -fno-sanitize-recover=all
TSAN_FLAGS       := -fsanitize=thread -fno-omit-frame-pointer

VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=1 --trace-children=no

UNIT_BINS := $(UNIT_NAMES:%=$(UNIT_DIR)/test_%)
SAN_BINS  := $(UNIT_NAMES:%=$(SAN_DIR)/test_%)
TSAN_BINS := $(TSAN_NAMES:%=$(TSAN_DIR)/test_%)

# $(1): build directory of the variant; $(2): extra compile and link flags.
define RS_UNIT_VARIANT
$(1)/lib/%.o: src/%.c $(CORE_HDR) tests/unit/tests.mk
	@mkdir -p $$(@D)
	$$(CC) $$(UNIT_CORE_CFLAGS) $(2) -c $$< -o $$@

$(1)/tests/%.o: tests/unit/%.c $(CORE_HDR) $(wildcard tests/unit/*.h) tests/unit/tests.mk
	@mkdir -p $$(@D)
	$$(CC) $$(UNIT_TEST_CFLAGS) $(2) -c $$< -o $$@

$(1)/test_%: $(1)/tests/test_%.o $(1)/tests/testutil.o $(CORE_SRC:src/%.c=$(1)/lib/%.o)
	$$(CC) $(2) -pthread -o $$@ $$^ -lcmocka -lm

# kea-runscript-status's reading of Kea's answers (src/cli), apart from its socket.
$(1)/test_status_lines: $(1)/lib/cli/status_lines.o
$(1)/lib/cli/status_lines.o $(1)/tests/test_status_lines.o: src/cli/status_lines.h

.SECONDARY: $(UNIT_NAMES:%=$(1)/tests/test_%.o) $(1)/tests/testutil.o \
            $(CORE_SRC:src/%.c=$(1)/lib/%.o) $(1)/lib/cli/status_lines.o
endef

$(eval $(call RS_UNIT_VARIANT,$(UNIT_DIR),))
$(eval $(call RS_UNIT_VARIANT,$(SAN_DIR),$(SANITIZE_FLAGS)))
$(eval $(call RS_UNIT_VARIANT,$(TSAN_DIR),$(TSAN_FLAGS)))

$(UNIT_HELPER): tests/unit/inherit_report.c tests/unit/tests.mk
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) $< -o $@

# Every binary runs even after one fails, so a single run shows every failure.
RUN_EACH = rc=0; for t in $(1); do echo "== $$t"; $(2) $$t || rc=1; done; exit $$rc

test-unit: $(UNIT_BINS) $(UNIT_HELPER)
	@$(call RUN_EACH,$(UNIT_BINS),)

test-sanitize: $(SAN_BINS) $(UNIT_HELPER)
	@$(call RUN_EACH,$(SAN_BINS),ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1)

# A data race, or a lock-order inversion, fails the binary (exit code 66) at its first report.
.PHONY: test-tsan
test-tsan: $(TSAN_BINS) $(UNIT_HELPER)
	@$(call RUN_EACH,$(TSAN_BINS),TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1")

# Valgrind's report goes to a file, shown without its "--pid--" notes: valgrind 3.19 (Debian 12)
# does not know pidfd_open() and says so in five lines at every spawn (the library then polls, as
# on kernels before 5.3). Its errors, the "==pid==" lines, are all shown. Valgrind also turns
# posix_spawn()'s vfork into a fork, after which an exec failure cannot reach the parent: the
# tests of exec failures skip themselves there (tests/unit/testutil.h).
test-valgrind: $(UNIT_BINS) $(UNIT_HELPER)
	@rc=0; for t in $(UNIT_BINS); do echo "== $$t (valgrind)"; \
	    $(VALGRIND) --log-file=$$t.valgrind $$t || rc=1; \
	    grep -v '^--[0-9]*--' $$t.valgrind || true; \
	done; exit $$rc
