/* Precision of the frozen encoder linears: the fp32 parity path or the bf16 speed mode.
 *
 * bf16 mode keeps, per frozen linear, a copy of its weight rounded to bf16 and packed for
 * kernels/gemm_bf16 (forward: y = x W^T), plus, once a backward needs it, W packed transposed
 * (dX = dY W). Packing happens once per model (and again after a merge changes the weights),
 * never per step. Only the layers a backward reaches get transposed packs. */
#include <string.h>
#include "model/internal.h"

const char *lb_precision_name(lb_precision p) { return p == LB_PRECISION_BF16 ? "bf16" : "fp32"; }

bool lb_precision_parse(const char *name, lb_precision *p) {
    if (!name) return false;
    if (strcmp(name, "fp32") == 0) { *p = LB_PRECISION_FP32; return true; }
    if (strcmp(name, "bf16") == 0) { *p = LB_PRECISION_BF16; return true; }
    return false;
}

lb_precision lb_model_get_precision(const lb_model *m) { return m->precision; }

void lb_precision_free_packs(lb_model *m) {
    if (!m->layers) return;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_bf16_weight_free(m->layers[l].wb[k]);
            lb_bf16_weight_free(m->layers[l].wbt[k]);
            lb_f32_weight_free(m->layers[l].wf[k]);
            m->layers[l].wb[k] = m->layers[l].wbt[k] = NULL;
            m->layers[l].wf[k] = NULL;
        }
}

/* Packs what is missing: forward packs of every layer, transposed packs of layers >= tfirst
 * (tfirst = n_layers: none). On failure the model keeps what it had before the call. */
static lb_status pack_missing(lb_model *m, int tfirst, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_layer_w *lw = &m->layers[l];
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k);
            if (!lw->wb[k] && !(lw->wb[k] = lb_bf16_weight_pack(lw->w[k], out, in, false, err)))
                return lb_err_prefix(err, "bf16 mode: layer %d %s", l, m->arch->lin_short[k]);
            /* W [out, in] row-major is the [K = out, N = in] matrix of dX = dY W. */
            if (l >= tfirst && !lw->wbt[k] && !(lw->wbt[k] = lb_bf16_weight_pack(lw->w[k], in, out, true, err)))
                return lb_err_prefix(err, "bf16 mode: layer %d %s (transposed)", l, m->arch->lin_short[k]);
        }
    return LB_OK;
}

lb_status lb_model_set_precision(lb_model *m, lb_precision p, lb_error *err) {
    if (p != LB_PRECISION_FP32 && p != LB_PRECISION_BF16)
        return lb_err(err, LB_ERR_USAGE, "model: unknown precision %d", (int)p);
    if (p == m->precision) return LB_OK;
    if (p == LB_PRECISION_FP32) {
        lb_precision_free_packs(m);
    } else {
        lb_precision_free_packs(m);   /* fp32 inference packs are not used in bf16 mode */
        lb_status st = pack_missing(m, m->cfg.n_layers, err);
        if (st) {
            if (m->precision == LB_PRECISION_FP32) lb_precision_free_packs(m);
            return st;
        }
    }
    m->precision = p;
    m->fwd_valid = false;   /* a pending backward must see the forward's arithmetic */
    return LB_OK;
}

lb_status lb_precision_repack(lb_model *m, lb_error *err) {
    return m->precision == LB_PRECISION_BF16 ? pack_missing(m, m->cfg.n_layers, err) : LB_OK;
}

lb_status lb_precision_prepare_backward(lb_model *m, int first_layer, lb_error *err) {
    if (m->precision != LB_PRECISION_BF16) return LB_OK;
    return pack_missing(m, first_layer, err);
}

lb_status lb_model_prepack_inference(lb_model *m, lb_error *err) {
    if (m->precision != LB_PRECISION_FP32 || !lb_gemm_f32_available()) return LB_OK;
    const lb_model_config *c = &m->cfg;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_layer_w *lw = &m->layers[l];
            if (lw->wf[k]) continue;
            if (!(lw->wf[k] = lb_f32_weight_pack(lw->w[k], lb_lin_out(c, k), lb_lin_in(c, k), err))) {
                lb_precision_free_packs(m);
                return lb_err_prefix(err, "inference packing: layer %d %s", l, m->arch->lin_short[k]);
            }
        }
    return LB_OK;
}
