/* layout.h — NCHW <-> NHWC transposes and the spatial window arithmetic of Conv and the pools. */
#ifndef ZSQ_FLOAT_LAYOUT_H
#define ZSQ_FLOAT_LAYOUT_H

#include <stdint.h>

#include "graph/graph.h"

void zsq_nchw_to_nhwc(const float *src, float *dst, int64_t n, int64_t c, int64_t hw);
void zsq_nhwc_to_nchw(const float *src, float *dst, int64_t n, int64_t c, int64_t hw);

/* Resolved geometry of a 2-D window over an input of in_h × in_w. */
typedef struct zsq_geom {
  int64_t in_h, in_w, out_h, out_w;
  int64_t kh, kw, sh, sw, dh, dw;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
} zsq_geom;

/* Applies auto_pad / pads / ceil_mode; returns 0 if the output would be empty. */
int zsq_window_resolve(const zsq_window *w, int64_t in_h, int64_t in_w, int64_t kh, int64_t kw,
                       int ceil_mode, zsq_geom *g);

#endif
