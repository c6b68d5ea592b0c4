# lorabert build.  `make` builds build/release/lorabert; `make test` builds and runs every test
# in release and ASan+UBSan modes; MODE=asan|debug|release selects one build.
# Sources are found by wildcard: adding a module never requires editing this file.
MODE    ?= release
BUILD   := build/$(MODE)
CC      ?= cc

ROOT    := .
include mk/flags.mk
ifeq ($(MODE),release)
  OPT := -O3 -march=native -g
else ifeq ($(MODE),asan)
  OPT := -O1 -g -march=native -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(MODE),valgrind)
  # valgrind 3.19 does not decode AVX-512: build for AVX2 machines
  OPT := -O1 -g -march=x86-64-v3
else
  OPT := -O0 -g -march=native
endif

LIB_SRC  := $(shell find src -name '*.c' -not -path 'src/cli/*' | sort)
CLI_SRC  := $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_SUPPORT := $(wildcard tests/support/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SUP_OBJ  := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all lib tests test check clean fuzz valgrind
all: $(BUILD)/lorabert
lib: $(BUILD)/liblorabert.a
tests: $(TEST_BIN) $(BUILD)/lorabert

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(OPT) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/liblorabert.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lorabert: $(CLI_OBJ) $(BUILD)/liblorabert.a
	$(CC) $(OPT) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/liblorabert.a $(LDLIBS_ALL) $(LDFLAGS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SUP_OBJ) $(BUILD)/liblorabert.a
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(CFLAGS_ALL) -o $@ $< $(SUP_OBJ) $(BUILD)/liblorabert.a -lcriterion $(LDLIBS_ALL) $(LDFLAGS)

# The CLI under valgrind (memcheck) on small real inputs; see tests/valgrind.sh.
valgrind:
	$(MAKE) MODE=valgrind all
	tests/valgrind.sh build/valgrind/lorabert

# The README's test command: release + sanitizer builds, every unit/parity/CLI test.
test:
	$(MAKE) MODE=release tests
	$(MAKE) MODE=asan tests
	tests/run

# libFuzzer harnesses (clang): each runs FUZZ_SECONDS on its seed corpus; see fuzz/Makefile.
FUZZ_SECONDS ?= 30
fuzz:
	$(MAKE) -C fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

clean:
	rm -rf build fuzz/build

-include $(shell find build -name '*.d' 2>/dev/null)
