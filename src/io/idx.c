/* idx.c — MNIST-style IDX image/label files (gzip or raw, read with zlib) as a zsq_dataset. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "zsq.h"

struct zsq_dataset {
  uint8_t *images;
  int *labels;
  size_t count;
  int c, h, w;
  zsq_err err;
};

zsq_status zsq_dataset_create(zsq_dataset **out) {
  if (out == NULL) return ZSQ_ERR_INVALID_ARG;
  *out = calloc(1, sizeof(zsq_dataset));
  return *out ? ZSQ_OK : ZSQ_ERR_NOMEM;
}

void zsq_dataset_destroy(zsq_dataset *d) {
  if (d == NULL) return;
  free(d->images);
  free(d->labels);
  free(d);
}

const char *zsq_dataset_last_error(const zsq_dataset *d) {
  return d ? d->err.msg : "no dataset";
}

/* Reads a whole (possibly gzip'd) file; gzread passes raw files through. */
static zsq_status read_all(const char *path, uint8_t **data, size_t *size, zsq_err *err) {
  gzFile f = gzopen(path, "rb");
  if (f == NULL) return zsq_fail(err, ZSQ_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) {
      gzclose(f);
      return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    if (n == cap) {
      if (cap > ((size_t)1 << 32)) {
        free(buf);
        gzclose(f);
        return zsq_fail(err, ZSQ_ERR_FORMAT, "'%s' is larger than any IDX dataset zsq reads", path);
      }
      cap *= 2;
      uint8_t *nb = realloc(buf, cap);
      if (nb == NULL) free(buf);
      buf = nb;
      continue;
    }
    int got = gzread(f, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
    if (got < 0) {
      int zerr;
      const char *msg = gzerror(f, &zerr);
      zsq_status st = zsq_fail(err, ZSQ_ERR_FORMAT, "'%s' is corrupt: %s", path, msg);
      free(buf);
      gzclose(f);
      return st;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  gzclose(f);
  *data = buf;
  *size = n;
  return ZSQ_OK;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

zsq_status zsq_dataset_load_idx(zsq_dataset *d, const char *dir, zsq_split split) {
  if (d == NULL || dir == NULL) return ZSQ_ERR_INVALID_ARG;
  zsq_err_clear(&d->err);
  const char *prefix = split == ZSQ_SPLIT_TRAIN ? "train" : "t10k";
  char ipath[4096], lpath[4096];
  snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
  snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
  uint8_t *img = NULL, *lab = NULL;
  size_t isz = 0, lsz = 0;
  zsq_status st = read_all(ipath, &img, &isz, &d->err);
  if (st == ZSQ_OK) st = read_all(lpath, &lab, &lsz, &d->err);
  if (st != ZSQ_OK) {
    free(img);
    free(lab);
    return st;
  }
  if (isz < 16 || be32(img) != 0x00000803) {
    st = zsq_fail(&d->err, ZSQ_ERR_FORMAT, "'%s' is not an IDX image file (bad magic or too short)",
                  ipath);
  } else if (lsz < 8 || be32(lab) != 0x00000801) {
    st = zsq_fail(&d->err, ZSQ_ERR_FORMAT, "'%s' is not an IDX label file (bad magic or too short)",
                  lpath);
  }
  uint32_t n = 0, h = 0, w = 0;
  if (st == ZSQ_OK) {
    n = be32(img + 4);
    h = be32(img + 8);
    w = be32(img + 12);
    if (be32(lab + 4) != n) {
      st = zsq_fail(&d->err, ZSQ_ERR_FORMAT, "'%s' has %u images but '%s' has %u labels", ipath, n,
                    lpath, be32(lab + 4));
    } else if (h == 0 || w == 0 || h > 4096 || w > 4096 || (uint64_t)n * h * w != isz - 16) {
      st = zsq_fail(&d->err, ZSQ_ERR_FORMAT,
                    "'%s' declares %u images of %ux%u but holds %zu bytes of pixels", ipath, n, h,
                    w, isz - 16);
    } else if ((uint64_t)n != lsz - 8) {
      st = zsq_fail(&d->err, ZSQ_ERR_FORMAT, "'%s' declares %u labels but holds %zu", lpath, n,
                    lsz - 8);
    }
  }
  int *labels = NULL;
  if (st == ZSQ_OK) {
    labels = malloc((n ? n : 1) * sizeof(int));
    if (labels == NULL) st = zsq_fail(&d->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  if (st != ZSQ_OK) {
    free(img);
    free(lab);
    return st;
  }
  for (uint32_t i = 0; i < n; i++) labels[i] = lab[8 + i];
  free(lab);
  memmove(img, img + 16, isz - 16);
  free(d->images);
  free(d->labels);
  d->images = img;
  d->labels = labels;
  d->count = n;
  d->c = 1;
  d->h = (int)h;
  d->w = (int)w;
  return ZSQ_OK;
}

size_t zsq_dataset_count(const zsq_dataset *d) {
  return d ? d->count : 0;
}

void zsq_dataset_geometry(const zsq_dataset *d, int *c, int *h, int *w) {
  *c = d->c;
  *h = d->h;
  *w = d->w;
}

const uint8_t *zsq_dataset_image(const zsq_dataset *d, size_t i) {
  if (d == NULL || i >= d->count) return NULL;
  return d->images + i * (size_t)(d->c * d->h * d->w);
}

int zsq_dataset_label(const zsq_dataset *d, size_t i) {
  if (d == NULL || i >= d->count) return -1;
  return d->labels[i];
}
