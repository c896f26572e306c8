/* im2col.c — NHWC im2col rows (see im2col.h): per kernel row one copy of the in-bounds taps
 * (contiguous when dilation is 1) between fills of za for the padding. */
#include "ops/im2col.h"

#include <string.h>

/* Runs of a few channels (a 1- or 3-channel stem: 3 to 9 bytes per kernel row) are moved with
 * constant-size copies the compiler inlines: a libc call per run costs more than the run. */
#define SHORT_RUN 32

static void copy_run(uint8_t *dst, const uint8_t *src, size_t n) {
  if (n > SHORT_RUN) {
    memcpy(dst, src, n);
    return;
  }
  size_t i = 0;
  for (; i + 8 <= n; i += 8) memcpy(dst + i, src + i, 8);
  if (n & 4) {
    memcpy(dst + i, src + i, 4);
    i += 4;
  }
  if (n & 2) {
    memcpy(dst + i, src + i, 2);
    i += 2;
  }
  if (n & 1) dst[i] = src[i];
}

static void fill_run(uint8_t *dst, uint8_t za, size_t n) {
  if (n > SHORT_RUN) {
    memset(dst, za, n);
    return;
  }
  const uint64_t v = za * 0x0101010101010101ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) memcpy(dst + i, &v, 8);
  if (n & 4) {
    memcpy(dst + i, &v, 4);
    i += 4;
  }
  if (n & 2) {
    memcpy(dst + i, &v, 2);
    i += 2;
  }
  if (n & 1) dst[i] = za;
}

/* The taps kx of one kernel row whose input column ix0 + kx·dw lies in [0, w): [*lo, *hi). */
static void inside_taps(const zsq_conv_geom *g, int64_t ix0, int64_t *lo, int64_t *hi) {
  if (g->dw == 1) {
    *lo = ix0 >= 0 ? 0 : -ix0;
    *hi = g->w - ix0;
  } else {
    *lo = ix0 >= 0 ? 0 : (-ix0 + g->dw - 1) / g->dw;
    *hi = ix0 >= g->w ? 0 : (g->w - 1 - ix0) / g->dw + 1;
  }
  if (*hi > g->kw) *hi = g->kw;
  if (*hi < 0) *hi = 0;
  if (*lo > *hi) *lo = *hi;
}

void zsq_im2col_rows(const zsq_conv_geom *g, const uint8_t *in, uint8_t za, size_t m0, size_t mc,
                     uint8_t *col) {
  const size_t cin = (size_t)g->cin, pixels = (size_t)(g->oh * g->ow),
               row_bytes = (size_t)g->kw * cin;
  /* Output pixel (img, oy, ox) of row m0, then stepped per row (no division per pixel). */
  int64_t img = (int64_t)(m0 / pixels), oy = (int64_t)(m0 % pixels) / g->ow;
  int64_t ox = (int64_t)(m0 % pixels) % g->ow;
  for (size_t m = 0; m < mc; m++) {
    const int64_t ix0 = ox * g->sw - g->pl;
    const uint8_t *image = in + (size_t)(img * g->h * g->w) * cin;
    int64_t lo, hi;
    inside_taps(g, ix0, &lo, &hi);
    for (int64_t ky = 0; ky < g->kh; ky++, col += row_bytes) {
      const int64_t iy = oy * g->sh - g->pt + ky * g->dh;
      if (iy < 0 || iy >= g->h) {
        fill_run(col, za, row_bytes);
        continue;
      }
      const uint8_t *row = image + (size_t)(iy * g->w) * cin;
      fill_run(col, za, (size_t)lo * cin);
      if (g->dw == 1) {
        copy_run(col + (size_t)lo * cin, row + (size_t)(ix0 + lo) * cin, (size_t)(hi - lo) * cin);
      } else {
        for (int64_t kx = lo; kx < hi; kx++) {
          copy_run(col + (size_t)kx * cin, row + (size_t)(ix0 + kx * g->dw) * cin, cin);
        }
      }
      fill_run(col + (size_t)hi * cin, za, (size_t)(g->kw - hi) * cin);
    }
    if (++ox == g->ow) {
      ox = 0;
      if (++oy == g->oh) {
        oy = 0;
        img++;
      }
    }
  }
}
