/* memplan.c — greedy offset assignment for buffers with known lifetimes. */
#include "runtime/memplan.h"

#include <stdlib.h>

static size_t align64(size_t x) {
  return (x + 63) & ~(size_t)63;
}

typedef struct sized {
  size_t bytes;
  int index;
} sized;

static int by_size_desc(const void *a, const void *b) {
  const size_t x = ((const sized *)a)->bytes, y = ((const sized *)b)->bytes;
  return (x < y) - (x > y);
}

size_t zsq_memplan(zsq_buf_life *b, int n) {
  sized *order = malloc(((size_t)n + 1) * sizeof(sized));
  int *placed = malloc(((size_t)n + 1) * sizeof(int));
  if (order == NULL || placed == NULL) {
    free(order);
    free(placed);
    return (size_t)-1;
  }
  for (int i = 0; i < n; i++) order[i] = (sized){b[i].bytes, i};
  qsort(order, (size_t)n, sizeof(sized), by_size_desc);
  size_t total = 0;
  int n_placed = 0;
  for (int k = 0; k < n; k++) {
    zsq_buf_life *x = &b[order[k].index];
    const size_t need = align64(x->bytes);
    /* Lowest offset that overlaps no live placed buffer: try 0 and the end of each one. */
    size_t best = (size_t)-1;
    for (int c = -1; c < n_placed; c++) {
      const size_t at = c < 0 ? 0 : align64(b[placed[c]].offset + b[placed[c]].bytes);
      int ok = at < best;
      for (int j = 0; ok && j < n_placed; j++) {
        const zsq_buf_life *y = &b[placed[j]];
        const int live = x->first <= y->last && y->first <= x->last;
        ok = !live || at + need <= y->offset || y->offset + align64(y->bytes) <= at;
      }
      if (ok) best = at;
    }
    x->offset = best;
    if (best + need > total) total = best + need;
    placed[n_placed++] = order[k].index;
  }
  free(order);
  free(placed);
  return total;
}
