# bucketfs - top-level Makefile (plain GNU make; see `make help`).
#
# Objects go under build/ (build-$(SANITIZE)/ for instrumented builds); the test
# binaries link every object except the one holding main().

PKGS      := fuse3 libcurl openssl pugixml lmdb
CXX       ?= g++
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
# mount(8) runs `mount -t bucketfs` through /sbin/mount.<type> whatever PREFIX is.
SBINDIR   ?= /sbin
MANDIR    ?= $(PREFIX)/share/man
DESTDIR   ?=
SANITIZE  ?=
BUILD     ?= build$(if $(SANITIZE),-$(SANITIZE))

VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  = $(shell pkg-config --libs cmocka 2>/dev/null)

override CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -O2 -g -pthread -MMD -MP \
                     -Iinclude $(PKG_CFLAGS) -DBUCKETFS_VERSION='"$(VERSION)"'
override LDFLAGS  += -pthread
# Hardening (Debian's hardening=+all, minus what a sanitizer replaces): bounds-
# checked libc calls, stack canaries, a position-independent executable, and
# the relocations made read-only after immediate binding. _FORTIFY_SOURCE is
# left out of sanitizer builds, whose interceptors replace the same calls.
override CXXFLAGS += -fstack-protector-strong -fPIE $(if $(SANITIZE),,-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)
override LDFLAGS  += -pie -Wl,-z,relro,-z,now
ifneq ($(SANITIZE),)
override CXXFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1 -DBUCKETFS_LOCK_RANKS
override LDFLAGS  += -fsanitize=$(SANITIZE)
endif

SRCS      := $(sort $(wildcard src/*/*.cpp))
# The in-memory and fault-injecting object stores serve the tests only: they
# go into a test-only archive, never into the bucketfs binary.
TESTING_SRCS := src/store/memory_object_store.cpp src/store/faulty_object_store.cpp
TESTING_OBJS := $(TESTING_SRCS:%.cpp=$(BUILD)/%.o)
OBJS      := $(filter-out $(TESTING_OBJS),$(SRCS:%.cpp=$(BUILD)/%.o))
MAIN_OBJ  := $(BUILD)/src/cli/main.o
LIB_OBJS  := $(filter-out $(MAIN_OBJ),$(OBJS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.cpp))
UNIT_BINS := $(UNIT_SRCS:%.cpp=$(BUILD)/%)
IT_SRCS   := $(sort $(wildcard tests/integration/*_it.cpp))
IT_BINS   := $(IT_SRCS:%.cpp=$(BUILD)/%)
TOOL_SRCS := $(sort $(wildcard tests/tools/*.cpp))
MICRO_SRCS := $(sort $(wildcard bench/micro/*.cpp))
MICRO_BINS := $(MICRO_SRCS:%.cpp=$(BUILD)/%)
TOOL_BINS := $(TOOL_SRCS:%.cpp=$(BUILD)/%)
TEST_SUPPORT_SRCS := $(sort $(wildcard tests/lib/*.cpp))
TEST_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:%.cpp=$(BUILD)/%.o)
DEPS      := $(OBJS:.o=.d) $(TESTING_OBJS:.o=.d) $(UNIT_BINS:=.d) $(IT_BINS:=.d) $(TOOL_BINS:=.d) $(MICRO_BINS:=.d) $(TEST_SUPPORT_OBJS:.o=.d)

.PHONY: all deps check check-asan check-tsan unit integration test tests-build demo bench bench-crc soak format format-check clean help install uninstall
.DEFAULT_GOAL := all

all: $(BUILD)/bucketfs ## build the bucketfs binary (SANITIZE=address|undefined|thread for instrumented)
	@ln -sf $(BUILD)/bucketfs bucketfs

$(BUILD)/bucketfs: $(OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

# The eight-lane MD5 is AVX2 code; md5_lanes.cpp calls it only on a CPU that
# has AVX2, and the file has nothing else that another object could share.
# Other architectures build it empty.
ifneq ($(filter x86_64-%,$(shell $(CXX) -dumpmachine)),)
$(BUILD)/src/util/md5_x8.o: override CXXFLAGS += -mavx2
endif

# Tests link an archive of every object but main's, so each pulls in only what
# it uses, and before it the test-only archive (the memory and faulty stores).
$(BUILD)/libbucketfs.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libbucketfs-testing.a: $(TESTING_OBJS)
	@rm -f $@
	ar rcs $@ $^

TEST_ARCHIVES := $(BUILD)/libbucketfs-testing.a $(BUILD)/libbucketfs.a

$(BUILD)/tests/%: tests/%.cpp $(TEST_ARCHIVES) $(TEST_SUPPORT_OBJS)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -Itests -o $@ $< $(TEST_SUPPORT_OBJS) $(TEST_ARCHIVES) $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/bench/micro/%: bench/micro/%.cpp $(BUILD)/libbucketfs.a
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -o $@ $< $(BUILD)/libbucketfs.a $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/tests/lib/%.o: tests/lib/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -Itests -c -o $@ $<

deps: ## install the Debian packages and the npm test server (idempotent)
	@scripts/deps.sh

tests-build: $(UNIT_BINS) $(IT_BINS) $(TOOL_BINS) $(MICRO_BINS) $(BUILD)/bucketfs

check: $(UNIT_BINS) ## build and run the unit tests (cmocka)
	@tests/run-unit.sh $(UNIT_BINS)

integration: $(IT_BINS) $(TOOL_BINS) all ## run the integration tests against Ceph RGW and s3rver
	@BUILD=$(BUILD) tests/run-integration.sh

test: ## install what is needed, build, run every test
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all tests-build
	@tests/run-all.sh $(BUILD)

demo: ## install, build, start a local S3 server with a bucket and try bucketfs on it
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

bench: ## install s3fs/rclone/gnuplot, build, run the side-by-side benchmark (BENCH_QUICK=1: short)
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bench/run.sh

bench-crc: $(BUILD)/bench/micro/crc_bench ## checksum throughput: CRC-32C, CRC-64 (ECMA, NVME) and MD5, in GB/s
	@$(BUILD)/bench/micro/crc_bench

soak: all tests-build ## the crash proofs at scale: 500+500 kill trials (rgw, s3rver; TRIALS, SEED), 22,000 power-loss states (CRASH_STATES, CRASH_SEED), 300 through the binary (POWER_LOSS_STATES)
	@rc=0; for srv in rgw s3rver; do \
	  BUCKETFS_BIN=$(abspath $(BUILD))/bucketfs TRIALS=$${TRIALS:-500} SERVER=$$srv tests/crash/campaign.sh || rc=1; \
	done; \
	CRASH_STATES=$${CRASH_STATES:-22000} tests/crash/run.sh $(BUILD) || rc=1; \
	IT_ONLY='^power_loss_sample\.sh$$' POWER_LOSS_STATES=$${POWER_LOSS_STATES:-300} BUILD=$(BUILD) tests/run-integration.sh || rc=1; \
	exit $$rc

# The sanitizer passes build into build-<sanitizer>/ and run the unit tests
# plus a short integration subset (a mount that reads, writes and resumes).
ASAN_IT := ^(store_it|mount_read\.sh|write_basic\.sh|ship_status\.sh)
check-asan: ## unit tests and an integration subset under AddressSanitizer (as CI runs them)
	@$(MAKE) --no-print-directory SANITIZE=address all tests-build
	@tests/run-unit.sh $(UNIT_SRCS:%.cpp=build-address/%)
	@BUILD=build-address IT_ONLY='$(ASAN_IT)' tests/run-integration.sh

check-tsan: ## unit tests under ThreadSanitizer
	@$(MAKE) --no-print-directory SANITIZE=thread tests-build
	@tests/run-unit.sh $(UNIT_SRCS:%.cpp=build-thread/%)

format: ## reformat the tree with clang-format
	@clang-format -i $(SRCS) $(wildcard src/*/*.hpp include/bucketfs/*/*.hpp tests/*/*.cpp tests/*/*.hpp bench/*/*.cpp)

format-check: ## fail if any file is not clang-formatted
	@clang-format --dry-run -Werror $(SRCS) $(wildcard src/*/*.hpp include/bucketfs/*/*.hpp tests/*/*.cpp tests/*/*.hpp bench/*/*.cpp)

# The helper learns where bucketfs lives (BINDIR, without DESTDIR: the path at run time).
install: $(BUILD)/bucketfs ## install bucketfs, /sbin/mount.bucketfs and the man page (PREFIX, DESTDIR, BINDIR, SBINDIR, MANDIR)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BUILD)/bucketfs $(DESTDIR)$(BINDIR)/bucketfs
	sed 's|@BINDIR@|$(BINDIR)|g' scripts/mount.bucketfs >$(BUILD)/mount.bucketfs
	install -m 0755 $(BUILD)/mount.bucketfs $(DESTDIR)$(SBINDIR)/mount.bucketfs
	install -m 0644 man/bucketfs.1 $(DESTDIR)$(MANDIR)/man1/bucketfs.1

uninstall: ## remove exactly what install put there (same PREFIX, DESTDIR, BINDIR, SBINDIR, MANDIR)
	rm -f $(DESTDIR)$(BINDIR)/bucketfs $(DESTDIR)$(SBINDIR)/mount.bucketfs $(DESTDIR)$(MANDIR)/man1/bucketfs.1

clean: ## remove build outputs
	rm -rf build build-* bucketfs

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

# The power-loss crash-state harness (tests/crash/, issue 11): an LD_PRELOAD
# recorder (C), a library of crash models and checks, and its programs
# (crash_check: in-process states; crash_states: states for the real-binary
# sample; test_crash_states: cmocka tests that build crash states directly).
CRASH_MAINS    := crash_check crash_states test_crash_states
CRASH_LIB_SRCS := $(filter-out $(CRASH_MAINS:%=tests/crash/%.cpp),$(sort $(wildcard tests/crash/*.cpp)))
CRASH_LIB_OBJS := $(CRASH_LIB_SRCS:%.cpp=$(BUILD)/%.o)
CRASH_BINS     := $(CRASH_MAINS:%=$(BUILD)/tests/crash/%)
CRASH_SHIM     := $(BUILD)/tests/crash/trace_shim.so
DEPS           += $(CRASH_LIB_OBJS:.o=.d) $(CRASH_BINS:=.d)

$(CRASH_BINS): $(BUILD)/tests/crash/%: tests/crash/%.cpp $(CRASH_LIB_OBJS) $(TEST_ARCHIVES)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -o $@ $< $(CRASH_LIB_OBJS) $(TEST_ARCHIVES) $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

$(CRASH_SHIM): $(sort $(wildcard tests/crash/trace_shim*.c tests/crash/trace_shim.h))
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -o $@ $(filter %.c,$^) -ldl -pthread

tests-build: $(CRASH_BINS) $(CRASH_SHIM)

-include $(DEPS)
