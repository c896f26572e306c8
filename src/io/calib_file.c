/* calib_file.c — writing and strictly validating .zsd calibration sets. */
#include "io/calib_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file_map.h"

#define ZSD_MAGIC "ZSQCALIB"
#define ZSD_VERSION 1u
#define ZSD_HEADER 64u

static uint64_t fnv1a(const uint8_t *p, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static void put32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v) {
  memcpy(p, &v, 8);
}
static uint32_t get32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static uint64_t get64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Header (64 bytes, little-endian): magic[8], version u32, header size u32, count u64, c, h, w
 * u32, reserved u32, seed u64, method char[16]. Then labels int32[count], images f32[count·c·h·w],
 * then the FNV-1a 64 checksum of everything before it. */
zsq_status zsq_calib_write(const char *path, const zsq_calib_data *d, zsq_err *err) {
  uint8_t hdr[ZSD_HEADER] = {0};
  memcpy(hdr, ZSD_MAGIC, 8);
  put32(hdr + 8, ZSD_VERSION);
  put32(hdr + 12, ZSD_HEADER);
  put64(hdr + 16, (uint64_t)d->count);
  put32(hdr + 24, (uint32_t)d->c);
  put32(hdr + 28, (uint32_t)d->h);
  put32(hdr + 32, (uint32_t)d->w);
  put64(hdr + 40, d->seed);
  const size_t mlen = strlen(d->method); /* at most 15 bytes, NUL-padded (the header is zeroed) */
  memcpy(hdr + 48, d->method, mlen < 15 ? mlen : 15);
  FILE *f = fopen(path, "wb");
  if (f == NULL) return zsq_fail(err, ZSQ_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  const size_t nimg = (size_t)d->count * (size_t)(d->c * d->h * d->w);
  int32_t *lab = malloc((size_t)d->count * sizeof(int32_t));
  if (lab == NULL) {
    fclose(f);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  for (int64_t i = 0; i < d->count; i++) lab[i] = d->labels[i];
  uint64_t h = 0xcbf29ce484222325ULL;
  h = fnv1a(hdr, sizeof hdr, h);
  h = fnv1a((const uint8_t *)lab, (size_t)d->count * 4, h);
  h = fnv1a((const uint8_t *)d->images, nimg * 4, h);
  uint8_t tail[8];
  put64(tail, h);
  int ok = fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr &&
           fwrite(lab, 4, (size_t)d->count, f) == (size_t)d->count &&
           fwrite(d->images, 4, nimg, f) == nimg && fwrite(tail, 1, 8, f) == 8;
  free(lab);
  ok &= fclose(f) == 0;
  return ok ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_IO, "short write on '%s'", path);
}

zsq_status zsq_calib_read(const char *path, zsq_calib_data *d, zsq_err *err) {
  memset(d, 0, sizeof *d);
  zsq_file_view view;
  ZSQ_TRY(zsq_file_map(path, &view, err));
  const uint8_t *p = view.data;
  const size_t size = view.size;
  zsq_status st = ZSQ_OK;
  if (size < ZSD_HEADER + 8 || memcmp(p, ZSD_MAGIC, 8) != 0) {
    st = zsq_fail(err, ZSQ_ERR_FORMAT, "'%s' is not a zsq calibration file (.zsd)", path);
    goto out;
  }
  if (get32(p + 8) != ZSD_VERSION || get32(p + 12) != ZSD_HEADER) {
    st = zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "'%s' has .zsd version %u; this zsq reads version %u",
                  path, get32(p + 8), ZSD_VERSION);
    goto out;
  }
  const uint64_t count = get64(p + 16);
  const uint32_t c = get32(p + 24), h = get32(p + 28), w = get32(p + 32);
  if (count == 0 || count > (1u << 24) || c == 0 || c > 64 || h == 0 || h > 4096 || w == 0 ||
      w > 4096) {
    st = zsq_fail(err, ZSQ_ERR_FORMAT, "'%s' declares an impossible set (%llu images of %ux%ux%u)",
                  path, (unsigned long long)count, c, h, w);
    goto out;
  }
  const uint64_t nimg = count * c * h * w, want = ZSD_HEADER + count * 4 + nimg * 4 + 8;
  if ((uint64_t)size != want) {
    st = zsq_fail(err, ZSQ_ERR_FORMAT,
                  "'%s' is %zu bytes but its header implies %llu (truncated or corrupted)", path,
                  size, (unsigned long long)want);
    goto out;
  }
  if (fnv1a(p, size - 8, 0xcbf29ce484222325ULL) != get64(p + size - 8)) {
    st = zsq_fail(err, ZSQ_ERR_FORMAT, "'%s' fails its checksum (corrupted)", path);
    goto out;
  }
  d->count = (int64_t)count;
  d->c = (int)c;
  d->h = (int)h;
  d->w = (int)w;
  d->seed = get64(p + 40);
  memcpy(d->method, p + 48, 15);
  d->method[15] = '\0';
  d->labels = malloc(count * sizeof(int));
  d->images = malloc(nimg * sizeof(float));
  if (!d->labels || !d->images) {
    zsq_calib_data_free(d);
    st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (uint64_t i = 0; i < count; i++) d->labels[i] = (int)(int32_t)get32(p + ZSD_HEADER + 4 * i);
  memcpy(d->images, p + ZSD_HEADER + 4 * count, nimg * 4);
out:
  zsq_file_unmap(&view);
  return st;
}

void zsq_calib_data_free(zsq_calib_data *d) {
  free(d->labels);
  free(d->images);
  d->labels = NULL;
  d->images = NULL;
}
