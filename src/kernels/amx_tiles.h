/* Private to src/kernels/gemm_*.c: the AMX tile configuration the packed-weight GEMMs share.
 *
 * Owns: the one tile layout every AMX kernel here uses (tiles 0-7, each 16 rows x 64 bytes),
 *       loaded at the start of a thread's work and released at its end.
 * Why:  the bf16 (TDPBF16PS) and int8 (TDPBSSD) kernels use the same shape: C 16x16 of 32-bit
 *       lanes, A 16 rows of 64 bytes, B 16 rows of 64 bytes (k-pairs of bf16 or k-quads of int8).
 * Guarantees: call only where lb_cpu reported AMX usable (the OS granted the tile state);
 *       every begin is followed by an end on the same thread. */
#ifndef LB_KERNELS_AMX_TILES_H
#define LB_KERNELS_AMX_TILES_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef struct lb_amx_tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} lb_amx_tile_config;

__attribute__((target("amx-tile"))) static inline void lb_amx_tiles_begin(void) {
    lb_amx_tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
}

__attribute__((target("amx-tile"))) static inline void lb_amx_tiles_end(void) { _tile_release(); }

#endif
