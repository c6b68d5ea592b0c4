# Compiler and linker flags shared by the main, bench/ and fuzz/ Makefiles (one place to change
# a library or a warning). ROOT is the repository root as seen from the including Makefile.
ROOT      ?= .
BLAS_DIR  := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC  := /usr/include/x86_64-linux-gnu/openblas-openmp
WARN      := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wcast-qual -Wno-unused-parameter
CPPFLAGS_ALL := -I$(ROOT)/include -I$(ROOT)/src -I$(BLAS_INC) -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64
CFLAGS_ALL   := -std=c11 $(WARN) -fopenmp -pthread -fPIC
LDLIBS_ALL   := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lutf8proc -lcjson -lcurl -lcrypto \
                -lzstd -lsnappy -llz4 -lz -lm -fopenmp -pthread
