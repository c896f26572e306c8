/* im2col.c — NHWC im2col rows (see im2col.h): per kernel row one memcpy of the in-bounds taps
 * (contiguous when dilation is 1) between memsets of za for the padding. */
#include "ops/im2col.h"

#include <string.h>

/* The taps kx of one kernel row whose input column ix0 + kx·dw lies in [0, w): [*lo, *hi). */
static void inside_taps(const zsq_conv_geom *g, int64_t ix0, int64_t *lo, int64_t *hi) {
  *lo = ix0 >= 0 ? 0 : (-ix0 + g->dw - 1) / g->dw;
  *hi = ix0 >= g->w ? 0 : (g->w - 1 - ix0) / g->dw + 1;
  if (*hi > g->kw) *hi = g->kw;
  if (*lo > *hi) *lo = *hi;
}

void zsq_im2col_rows(const zsq_conv_geom *g, const uint8_t *in, uint8_t za, size_t m0, size_t mc,
                     uint8_t *col) {
  const size_t cin = (size_t)g->cin, pixels = (size_t)(g->oh * g->ow);
  for (size_t m = m0; m < m0 + mc; m++) {
    const int64_t img = (int64_t)(m / pixels), rem = (int64_t)(m % pixels);
    const int64_t oy = rem / g->ow, ox = rem % g->ow, ix0 = ox * g->sw - g->pl;
    const uint8_t *image = in + (size_t)(img * g->h * g->w) * cin;
    int64_t lo, hi;
    inside_taps(g, ix0, &lo, &hi);
    for (int64_t ky = 0; ky < g->kh; ky++, col += (size_t)g->kw * cin) {
      const int64_t iy = oy * g->sh - g->pt + ky * g->dh;
      if (iy < 0 || iy >= g->h) {
        memset(col, za, (size_t)g->kw * cin);
        continue;
      }
      const uint8_t *row = image + (size_t)(iy * g->w) * cin;
      memset(col, za, (size_t)lo * cin);
      if (g->dw == 1) {
        memcpy(col + (size_t)lo * cin, row + (size_t)(ix0 + lo) * cin, (size_t)(hi - lo) * cin);
      } else {
        for (int64_t kx = lo; kx < hi; kx++) {
          memcpy(col + (size_t)kx * cin, row + (size_t)(ix0 + kx * g->dw) * cin, cin);
        }
      }
      memset(col + (size_t)hi * cin, za, (size_t)(g->kw - hi) * cin);
    }
  }
}
