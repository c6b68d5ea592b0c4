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
  OPT := -O1 -g -march=native -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
         -DLB_ASSERTS
else ifeq ($(MODE),valgrind)
  # valgrind 3.19 does not decode AVX-512: build for AVX2 machines
  OPT := -O1 -g -march=x86-64-v3
else
  OPT := -O0 -g -march=native -DLB_ASSERTS
endif

LIB_SRC  := $(shell find src -name '*.c' -not -path 'src/cli/*' -not -path 'src/serve/*' | sort)
# The server (src/serve) is a client of the public API, linked into the CLI, not the library.
SERVE_SRC := $(wildcard src/serve/*.c)
CLI_SRC  := $(wildcard src/cli/*.c) $(SERVE_SRC)
SERVE_OBJ := $(SERVE_SRC:%.c=$(BUILD)/obj/%.o)
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_SUPPORT := $(wildcard tests/support/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SUP_OBJ  := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# The library's version comes from the public header (one place): liblorabert.so.MAJOR.MINOR.PATCH
# with soname liblorabert.so.MAJOR.
HEADER        := include/lorabert.h
VERSION       := $(shell sed -n 's/^\#define LORABERT_VERSION "\([0-9.]*\)".*/\1/p' $(HEADER))
VERSION_MAJOR := $(shell sed -n 's/^\#define LORABERT_VERSION_MAJOR \([0-9]*\).*/\1/p' $(HEADER))
SONAME        := liblorabert.so.$(VERSION_MAJOR)
SHLIB         := liblorabert.so.$(VERSION)
ifeq ($(VERSION_MAJOR),)
  $(error cannot read LORABERT_VERSION_MAJOR from $(HEADER))
endif

# The CLI's MPI plugin (src/cli/mpi, loaded by src/cli/dist.c under mpirun): built only where Open
# MPI is installed (pkg-config ompi-c). Neither the library nor the CLI links MPI.
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)
MPI_PLUGIN := $(if $(MPI_LIBS),$(BUILD)/lorabert-mpi.so)

.PHONY: all lib tests test check clean fuzz valgrind install uninstall format compile_commands.json
all: $(BUILD)/lorabert $(MPI_PLUGIN)
lib: $(BUILD)/liblorabert.a $(BUILD)/$(SHLIB) $(BUILD)/$(SONAME) $(BUILD)/liblorabert.so
tests: $(TEST_BIN) $(BUILD)/lorabert $(MPI_PLUGIN) lib

$(BUILD)/lorabert-mpi.so: src/cli/mpi/mpi_collective.c src/cli/dist.h $(HEADER)
	@mkdir -p $(dir $@)
	$(CC) -shared $(CPPFLAGS_ALL) $(MPI_CFLAGS) $(CFLAGS_ALL) $(OPT) $(CFLAGS) -o $@ $< $(MPI_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(OPT) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/liblorabert.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The shared library exports exactly the functions the header declares: a version script
# generated from its prototypes hides everything else (see tools/header_symbols.sh).
$(BUILD)/lorabert.map: $(HEADER) tools/header_symbols.sh
	@mkdir -p $(dir $@)
	CC="$(CC)" tools/header_symbols.sh --map $(HEADER) >$@.tmp && mv $@.tmp $@

$(BUILD)/$(SHLIB): $(LIB_OBJ) $(BUILD)/lorabert.map
	$(CC) -shared $(OPT) $(CFLAGS_ALL) -Wl,-soname,$(SONAME) -Wl,--version-script=$(BUILD)/lorabert.map \
	    -Wl,-z,defs -o $@ $(LIB_OBJ) $(LDLIBS_ALL) $(LDFLAGS)

$(BUILD)/$(SONAME): $(BUILD)/$(SHLIB)
	ln -sf $(SHLIB) $@

$(BUILD)/liblorabert.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(BUILD)/lorabert: $(CLI_OBJ) $(BUILD)/liblorabert.a
	$(CC) $(OPT) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/liblorabert.a $(MHD_LIBS) $(LDLIBS_ALL) $(LDFLAGS)

# src/serve compiles against libmicrohttpd's headers (pkg-config).
$(SERVE_OBJ): CFLAGS_ALL += $(MHD_CFLAGS)

# Unit tests of the server's pure parts link its objects (and libmicrohttpd for server.o's sake).
$(BUILD)/tests/test_serve_%: $(BUILD)/obj/tests/unit/test_serve_%.o $(SUP_OBJ) $(SERVE_OBJ) $(BUILD)/liblorabert.a
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(CFLAGS_ALL) -o $@ $< $(SUP_OBJ) $(SERVE_OBJ) $(BUILD)/liblorabert.a -lcriterion $(MHD_LIBS) $(LDLIBS_ALL) $(LDFLAGS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SUP_OBJ) $(BUILD)/liblorabert.a
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(CFLAGS_ALL) -o $@ $< $(SUP_OBJ) $(BUILD)/liblorabert.a -lcriterion $(LDLIBS_ALL) $(LDFLAGS)

# make install PREFIX=/usr/local DESTDIR=: the shared library (+ soname and link-time symlinks),
# the static archive, the header, lorabert.pc and the CLI; make uninstall removes exactly those.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALLED  := $(LIBDIR)/$(SHLIB) $(LIBDIR)/$(SONAME) $(LIBDIR)/liblorabert.so $(LIBDIR)/liblorabert.a \
              $(INCLUDEDIR)/lorabert.h $(PKGCONFIGDIR)/lorabert.pc $(BINDIR)/lorabert \
              $(if $(MPI_PLUGIN),$(LIBDIR)/lorabert/lorabert-mpi.so)

# lorabert.pc, written at install time for this PREFIX. Libs.private: what a static link
# (pkg-config --static) needs, the same list the CLI links with.
PC_LINES := 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' 'Name: lorabert' \
  'Description: Fine-tune and run BERT-family text classifiers with LoRA (transformers + PEFT parity)' \
  'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -llorabert' \
  'Libs.private: $(strip $(LDLIBS_ALL))'

install: lib $(BUILD)/lorabert $(MPI_PLUGIN)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/$(SHLIB) $(DESTDIR)$(LIBDIR)/$(SHLIB)
	ln -sfn $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/liblorabert.so
	install -m 644 $(BUILD)/liblorabert.a $(DESTDIR)$(LIBDIR)/liblorabert.a
	install -m 644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/lorabert.h
	printf '%s\n' $(PC_LINES) >$(DESTDIR)$(PKGCONFIGDIR)/lorabert.pc && chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/lorabert.pc
	install -m 755 $(BUILD)/lorabert $(DESTDIR)$(BINDIR)/lorabert
	$(if $(MPI_PLUGIN),install -d $(DESTDIR)$(LIBDIR)/lorabert && install -m 755 $(MPI_PLUGIN) $(DESTDIR)$(LIBDIR)/lorabert/lorabert-mpi.so)

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

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

# clang-format over our C sources (.clang-format at the root; the generated Unicode table is left
# as its generator writes it).
FORMAT_SRC = $(shell find src include tests/unit tests/support bench fuzz examples -name '*.[ch]' \
                     -not -name unicode_compat_table.h 2>/dev/null | sort)
format:
	clang-format -i $(FORMAT_SRC)

# For clangd / clang-tidy: every C file of the library, the CLI and the tests with this MODE's flags.
compile_commands.json:
	@{ printf '['; sep=''; for f in $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(TEST_SUPPORT); do \
	    printf '%s\n  {"directory": "%s", "file": "%s", "command": "%s %s %s %s -c %s"}' "$$sep" "$(CURDIR)" "$$f" \
	      "$(CC)" "$(CPPFLAGS_ALL)" "$(CFLAGS_ALL)" "$(OPT)" "$$f"; sep=','; done; printf '\n]\n'; } > $@
	@echo "compile_commands.json: $$(grep -c '"file"' $@) files"

clean:
	rm -rf build fuzz/build

-include $(shell find build -name '*.d' 2>/dev/null)
