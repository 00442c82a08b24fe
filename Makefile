# sigmaproxy: one non-recursive Makefile (STYLE.md §12).
#   make            build build/release/sigmaproxy (and ./sigmaproxy, a link to it)
#   make run        install missing packages, build, run on the defaults
#   make test       install missing packages, build, run unit + integration tests (prove)
#   make asan       the same tests under AddressSanitizer + UBSan (build/address-undefined/)
#   make bench      side-by-side benchmark against nginx (tests/bench/bench.sh)
#   make format / format-check / lint / clean
SAN ?=
comma := ,
FLAVOUR := $(if $(SAN),$(subst $(comma),-,$(SAN)),release)
BUILD := build/$(FLAVOUR)
PKGS := libmicrohttpd libcurl jansson hiredis zlib libbrotlidec libpcre2-8

# Evaluated once, on first use (after `deps` has installed what pkg-config needs).
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)

CC ?= cc
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wundef
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all)
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SANFLAGS) -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS = $(PKG_LIBS) -lpthread -lm

LIB_SRCS := $(wildcard core/*.c config/*.c scorers/*.c triage/*.c) \
            $(filter-out proxy/main.c,$(wildcard proxy/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
MOCK := $(BUILD)/mock_upstream
BIN := $(BUILD)/sigmaproxy
INTEGRATION := $(sort $(wildcard tests/integration/*.t))
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')

.SECONDARY:
.PHONY: all deps run test unit integration asan tsan bench format format-check lint clean deploy-check
all: $(BIN) $(if $(SAN),,sigmaproxy)

deps:
	@tests/deps.sh build

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libsigmaproxy.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/proxy/main.o $(BUILD)/libsigmaproxy.a
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

sigmaproxy: $(BIN)
	ln -sf $(BIN) $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/obj/tests/tap.o $(BUILD)/libsigmaproxy.a
	@mkdir -p $(@D)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(MOCK): $(BUILD)/obj/tests/mock/mock_upstream.o $(BUILD)/libsigmaproxy.a
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

# The SSE client of the benchmark; tests/bench/bench.sh runs `make build/release/sse_bench`.
$(BUILD)/sse_bench: tests/bench/sse_bench.c | deps
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

# Labelled-set quality of every scorer (tests/fixtures/labelled/<scorer>.jsonl); the bench runner
# runs `make build/release/quality && build/release/quality` (non-zero on a MISS; -v lists cases).
$(BUILD)/scorer_cost: $(BUILD)/obj/tests/bench/scorer_cost.o $(BUILD)/libsigmaproxy.a
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/quality: $(BUILD)/obj/tests/bench/quality.o $(BUILD)/libsigmaproxy.a
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

run: $(BIN)
	@tests/deps.sh run
	$(BIN) $(ARGS)

# prove's summary is the last thing printed: CI counts the tests from it.
export ASAN_OPTIONS := abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS := suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
test: $(BIN) $(MOCK) $(UNIT_BINS)
	@tests/deps.sh test
	SIGMAPROXY_BIN=$(CURDIR)/$(BIN) MOCK_BIN=$(CURDIR)/$(MOCK) SAN="$(SAN)" \
	    prove --exec '' $(UNIT_BINS) $(INTEGRATION)

unit: $(UNIT_BINS)
	prove --exec '' $(UNIT_BINS)

integration: $(BIN) $(MOCK)
	@tests/deps.sh test
	SIGMAPROXY_BIN=$(CURDIR)/$(BIN) MOCK_BIN=$(CURDIR)/$(MOCK) SAN="$(SAN)" prove --exec '' $(INTEGRATION)

asan:
	$(MAKE) test SAN=address,undefined

bench: $(BIN) $(MOCK)
	@tests/deps.sh bench
	SIGMAPROXY_BIN=$(CURDIR)/$(BIN) MOCK_BIN=$(CURDIR)/$(MOCK) tests/bench/bench.sh

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

lint:
	-cppcheck --quiet --enable=warning,performance -I. $(LIB_SRCS) proxy/main.c

clean:
	rm -rf build sigmaproxy

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Dockerfile, compose, Kubernetes and systemd files, validated without a Docker engine.
deploy-check: $(BIN)
	SIGMAPROXY_BIN=$(CURDIR)/$(BIN) tests/deploy_check.sh
