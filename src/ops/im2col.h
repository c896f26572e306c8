/* im2col.h — NHWC im2col rows for dense convolution, K in (ky, kx, c) order, padding reads za. */
#ifndef ZSQ_OPS_IM2COL_H
#define ZSQ_OPS_IM2COL_H

#include <stddef.h>
#include <stdint.h>

/* One convolution's geometry for an n x h x w x cin input and its oh x ow output
 * (zsq_conv_geom_init in qconv-check.h). */
typedef struct zsq_conv_geom {
  int64_t h, w, cin, oh, ow;
  int64_t kh, kw, sh, sw, dh, dw, pt, pl;
} zsq_conv_geom;

/* Rows [m0, m0 + mc) of the im2col matrix into col (row stride kh·kw·cin bytes): row m is output
 * pixel (img, oy, ox) = (m / (oh·ow), ...) and byte (ky·kw + kx)·cin + c holds input code
 * in[img][oy·sh − pt + ky·dh][ox·sw − pl + kx·dw][c], or za where that lies in the padding. */
void zsq_im2col_rows(const zsq_conv_geom *g, const uint8_t *in, uint8_t za, size_t m0, size_t mc,
                     uint8_t *col);

#endif
