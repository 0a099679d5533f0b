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

.PHONY: all test check bench bench-bin demo clean setup wasm wasm-test
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

# the native side of the WebAssembly tests (tests/wasm/test_wasm.mjs)
$(OUT)/tests/wasm/native_step: tests/wasm/native_step.c $(OUT)/libmx.a
	@mkdir -p $(@D)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(OUT)/libmx.a $(LDFLAGS_ALL) $(LIBS)

$(OUT)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

-include $(ENGINE_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# ---- the engine in WebAssembly (docs/web.md): `make wasm` -> build/wasm/ ----
# Debian's emscripten. jansson is compiled from Debian's source package
# (wasm/jansson.sh fetches it into build/). Of src/data and src/io only what
# needs no libpng, libjpeg or zlib: image and IDX files, digits.png, the named
# datasets and report.html stay out. src/explain is in: the backprop page
# calls mx_explain.
EMCC ?= emcc
export NODE_PATH ?= /usr/share/nodejs
WASM := build/wasm
WASM_OBJ := build/wasm-obj
JANSSON := build/wasm-deps/jansson
WASM_SRC := $(sort $(wildcard src/core/*.c src/kernels/*.c src/graph/*.c src/layers/*.c src/train/*.c \
              $(filter-out src/io/report.c,$(wildcard src/io/*.c)) src/data/dataset.c src/data/augment.c \
              src/explain/*.c wasm/*.c))
JANSSON_OBJ := dump error hashtable hashtable_seed load memory pack_unpack strbuffer strconv utf value version
# -msimd128: simd.h's vectors become wasm SIMD128 (MX_VL 4)
WASM_CFLAGS := $(CSTD) $(WARN) $(FP) -O3 -msimd128 -DNDEBUG -Iinclude -Isrc -I$(JANSSON)/src
WASM_LDFLAGS := -O3 -msimd128 -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createMlexpModule \
  -sENVIRONMENT=web,worker -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2GB \
  -sEXPORTED_FUNCTIONS=_malloc,_free -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8
# Two builds of the same sources: mlexp.js runs on one thread in any page;
# mlexp-threads.js runs the engine's thread pool on Web Workers and needs a
# cross-origin isolated page (engine.js picks). Its workers start with the
# module: a worker started later would wait for the busy calling thread.
WASM_POOL := -sPTHREAD_POOL_SIZE='Math.min(navigator.hardwareConcurrency||1,8)'

wasm: $(WASM)/mlexp.js $(WASM)/mlexp-threads.js

# fetched once (rm -rf build/wasm-deps to fetch again); objects wait for it
# but are not remade for it: their .d files name the headers they read
$(JANSSON)/src/jansson_private_config.h:
	$(Q)./wasm/jansson.sh $(JANSSON)

# wasm_build OBJDIR, NAME, CFLAGS, LDFLAGS: objects in $(WASM_OBJ)/OBJDIR, $(WASM)/NAME.js
define wasm_build
$(WASM_OBJ)/$(1)/jansson/%.o: | $(JANSSON)/src/jansson_private_config.h
	@mkdir -p $$(@D)
	@echo "  EMCC jansson/$$*.c ($(1))"
	$(Q)$(EMCC) -std=c99 -O3 -msimd128 $(3) -DHAVE_CONFIG_H -I$(JANSSON)/src -w -c -o $$@ $(JANSSON)/src/$$*.c

$(WASM_OBJ)/$(1)/%.o: %.c | $(JANSSON)/src/jansson_private_config.h
	@mkdir -p $$(@D)
	@echo "  EMCC $$< ($(1))"
	$(Q)$(EMCC) $(WASM_CFLAGS) $(3) -MMD -MP -c -o $$@ $$<

$(WASM)/$(2).js: $(WASM_SRC:%.c=$(WASM_OBJ)/$(1)/%.o) $(JANSSON_OBJ:%=$(WASM_OBJ)/$(1)/jansson/%.o) Makefile
	@mkdir -p $$(@D)
	@echo "  EMLD $$@"
	$(Q)$(EMCC) $(WASM_LDFLAGS) $(4) -o $$@ $$(filter %.o,$$^)

-include $(WASM_SRC:%.c=$(WASM_OBJ)/$(1)/%.d)
endef
$(eval $(call wasm_build,single,mlexp,-DMX_NO_THREADS,))
$(eval $(call wasm_build,threads,mlexp-threads,-pthread,-pthread -Wno-pthreads-mem-growth $(WASM_POOL)))

# the module against the native engine, in node (scripts/test.sh runs it too)
wasm-test: wasm $(OUT)/mlexp $(OUT)/tests/wasm/native_step
	node tests/wasm/test_wasm.mjs $(OUT)

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
