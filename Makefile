# mlexp build. `make` builds build/release/; `make BUILD=asan` the sanitizer
# build; `make CC=clang` works too. Sources are found by folder:
#   src/<part>/*.c -> libmx.a (the engine), src/cli/*.c and src/serve/*.c -> mlexp,
#   tests/*.c -> mx_tests

BUILD ?= release
CC ?= cc
# builds by another compiler get their own folder: build/release-clang
CCNAME := $(notdir $(firstword $(CC)))
OUT := build/$(BUILD)$(if $(filter cc gcc,$(CCNAME)),,-$(CCNAME))

CSTD := -std=c11 -D_DEFAULT_SOURCE
WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
# vector kernels rely on fused multiply-add contraction (-std=c11 turns it off by
# default); nothing reads errno after maths, and without it sqrtf cannot vectorise
FP := -ffp-contract=fast -fno-math-errno
ARCH ?= -march=native

ifeq ($(BUILD),release)
  OPT := -O3 $(ARCH) -DNDEBUG
else ifeq ($(BUILD),asan)
  OPT := -O1 -g $(ARCH) -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN := -fsanitize=address,undefined
else ifeq ($(BUILD),debug)
  OPT := -O0 -g $(ARCH)
else
  $(error unknown BUILD=$(BUILD): use release, asan or debug)
endif

CFLAGS_ALL := $(CSTD) $(WARN) $(FP) $(OPT) -Iinclude -Isrc -pthread $(CFLAGS)
LIBS := -ljansson -lpng -ljpeg -lz -lm -pthread
# mlexp serve's HTTP server
CLI_LIBS := -lmicrohttpd
LDFLAGS_ALL := $(LDSAN) $(LDFLAGS)

ENGINE_SRC := $(sort $(wildcard src/core/*.c src/kernels/*.c src/graph/*.c src/layers/*.c \
                 src/train/*.c src/io/*.c src/data/*.c src/explain/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c src/serve/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(OUT)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(OUT)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(OUT)/%.o)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(OUT)/bench/%)

# quiet unless V=1
Q := $(if $(V),,@)

.PHONY: all test check bench bench-bin demo clean setup
all: $(OUT)/mlexp $(OUT)/mx_tests

$(OUT)/libmx.a: $(ENGINE_OBJ)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/mlexp: $(CLI_OBJ) $(OUT)/libmx.a
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(OUT)/libmx.a $(LDFLAGS_ALL) $(CLI_LIBS) $(LIBS)

$(OUT)/mx_tests: $(TEST_OBJ) $(OUT)/libmx.a
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $(TEST_OBJ) $(OUT)/libmx.a $(LDFLAGS_ALL) $(LIBS)

$(OUT)/bench/%: bench/%.c $(OUT)/libmx.a
	@mkdir -p $(@D)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(OUT)/libmx.a $(LDFLAGS_ALL) $(LIBS)

bench-bin: $(BENCH_BIN)

$(OUT)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

-include $(ENGINE_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# The README's two commands, also as make targets.
demo:
	./scripts/demo.sh

test:
	./scripts/test.sh

bench:
	./scripts/setup.sh --test
	$(MAKE) BUILD=release all bench-bin
	./bench/run.sh
	./bench/mobilenet.sh

clean:
	rm -rf build
