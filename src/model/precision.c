/* How the frozen encoder linears are computed: packed weights for fp32, bf16 and int8 mode.
 *
 * Each frozen linear gets, once per model (again after a merge changes the weights, never per
 * step), a copy of its weight packed for a GEMM kernel: fp32 panels (kernels/gemm_f32, fp32 mode,
 * where the CPU has AVX-512F) or bf16 panels (kernels/gemm_bf16, bf16 mode), for the forward
 * (y = x W^T), and, for the layers a backward reaches, W packed transposed (dX = dY W).
 * Packs are made lazily by the first forward / backward that needs them, so inference never
 * pays for backward packs. Once a weight is packed, its pages in the checkpoint mapping are
 * handed back to the kernel (lb_st_release): the file stays the source of truth and is read
 * again only if the unpacked weight is needed (a merge, or packing turned off), so packing
 * costs little resident memory beyond the packs themselves.
 * int8 mode (kernels/gemm_int8) is inference only: its weights are quantized once per output
 * channel for the forward, and no transposed pack exists, so a backward (training) is refused
 * with LB_ERR_UNSUPPORTED before any work. */
#include <string.h>
#include "model/internal.h"

const char *lb_precision_name(lb_precision p) {
    return p == LB_PRECISION_BF16 ? "bf16" : p == LB_PRECISION_INT8 ? "int8" : "fp32";
}

bool lb_precision_parse(const char *name, lb_precision *p) {
    if (!name || !p) return false;
    if (strcmp(name, "fp32") == 0) {
        *p = LB_PRECISION_FP32;
        return true;
    }
    if (strcmp(name, "bf16") == 0) {
        *p = LB_PRECISION_BF16;
        return true;
    }
    if (strcmp(name, "int8") == 0) {
        *p = LB_PRECISION_INT8;
        return true;
    }
    return false;
}

lb_precision lb_model_get_precision(const lb_model *m) { return m->precision; }

void lb_precision_free_packs(lb_model *m) {
    if (!m->layers) return;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_layer_w *lw = &m->layers[l];
            lb_bf16_weight_free(lw->wb[k]);
            lb_bf16_weight_free(lw->wbt[k]);
            lb_f32_weight_free(lw->wf[k]);
            lb_f32_weight_free(lw->wft[k]);
            lb_int8_weight_free(lw->wi[k]);
            lw->wi[k] = NULL;
            lw->wb[k] = lw->wbt[k] = NULL;
            lw->wf[k] = lw->wft[k] = NULL;
        }
    m->packs_fwd = false;
    m->packs_bwd_layers = 0;
}

/* Which packs the current settings use: 0 none (OpenBLAS on the fp32 weights), 1 fp32, 2 bf16,
 * 3 int8. */
static int pack_kind(const lb_model *m) {
    if (m->precision == LB_PRECISION_INT8) return 3;
    if (m->precision == LB_PRECISION_BF16) return 2;
    return !m->no_weight_packing && lb_gemm_f32_available() ? 1 : 0;
}

/* Packs what is missing: forward packs of every layer, transposed packs of layers >= tfirst.
 * On failure the packs made so far are kept (each is complete); the caller reports the error. */
static lb_status pack_missing(lb_model *m, int tfirst, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    int kind = pack_kind(m);
    if (!kind) return LB_OK;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_layer_w *lw = &m->layers[l];
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k);
            bool made = false;
            if (!lb_lin_present(m->arch, k)) continue;
            if (lw->g_w[k]) continue; /* trained in full (modules_to_save): fp32 on its current values */
            /* W [out, in] row-major: forward packs [N = out, K = in]; transposed ones are the
             * [K = out, N = in] matrix of dX = dY W. */
            if (kind == 3) {
                if (!lw->wi[k] && (made = true) && !(lw->wi[k] = lb_int8_weight_pack(lw->w[k], out, in, err)))
                    return lb_err_prefix(err, "int8 mode: layer %d %s", l, m->arch->lin_short[k]);
            } else if (kind == 2) {
                if (!lw->wb[k] && (made = true) && !(lw->wb[k] = lb_bf16_weight_pack(lw->w[k], out, in, false, err)))
                    return lb_err_prefix(err, "bf16 mode: layer %d %s", l, m->arch->lin_short[k]);
                if (l >= tfirst && !lw->wbt[k] && (made = true) &&
                    !(lw->wbt[k] = lb_bf16_weight_pack(lw->w[k], in, out, true, err)))
                    return lb_err_prefix(err, "bf16 mode: layer %d %s (transposed)", l, m->arch->lin_short[k]);
            } else {
                if (!lw->wf[k] && (made = true) && !(lw->wf[k] = lb_f32_weight_pack(lw->w[k], out, in, false, err)))
                    return lb_err_prefix(err, "weight packing: layer %d %s", l, m->arch->lin_short[k]);
                if (l >= tfirst && !lw->wft[k] && (made = true) &&
                    !(lw->wft[k] = lb_f32_weight_pack(lw->w[k], in, out, true, err)))
                    return lb_err_prefix(err, "weight packing: layer %d %s (transposed)", l, m->arch->lin_short[k]);
            }
            if (made && m->st) lb_st_release(m->st, lw->w[k], sizeof(float) * (size_t)in * out);
        }
    return LB_OK;
}

lb_status lb_precision_prepare_forward(lb_model *m, lb_error *err) {
    if (m->packs_fwd) return LB_OK;
    lb_status st = pack_missing(m, m->cfg.n_layers, err);
    if (!st) m->packs_fwd = true;
    return st;
}

lb_status lb_precision_prepare_backward(lb_model *m, int first_layer, lb_error *err) {
    if (m->precision == LB_PRECISION_INT8)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "model: --precision int8 is for inference only (eval, predict, serve); train in fp32 or bf16");
    int L = m->cfg.n_layers;
    if (first_layer >= L - m->packs_bwd_layers) return LB_OK;
    lb_status st = pack_missing(m, first_layer, err);
    if (!st) m->packs_bwd_layers = L - first_layer;
    return st;
}

lb_status lb_model_set_precision(lb_model *m, lb_precision p, lb_error *err) {
    if (!m) return lb_err(err, LB_ERR_USAGE, "lb_model_set_precision: m is NULL");
    if (p != LB_PRECISION_FP32 && p != LB_PRECISION_BF16 && p != LB_PRECISION_INT8)
        return lb_err(err, LB_ERR_USAGE, "model: unknown precision %d", (int)p);
    if (p == m->precision) return LB_OK;
    lb_precision prev = m->precision;
    lb_precision_free_packs(m);
    m->precision = p;
    m->fwd_valid = false; /* a pending backward must see the forward's arithmetic */
    /* Pack now, so that running out of memory shows here rather than in the first forward. */
    lb_status st = lb_precision_prepare_forward(m, err);
    if (st) {
        lb_precision_free_packs(m);
        m->precision = prev;
    }
    return st;
}

void lb_model_set_weight_packing(lb_model *m, bool on) {
    if (m->no_weight_packing == !on) return;
    m->no_weight_packing = !on;
    if (m->precision == LB_PRECISION_FP32) {
        lb_precision_free_packs(m);
        m->fwd_valid = false;
    }
}
