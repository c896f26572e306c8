/* calib_file.h — the .zsd calibration-set file: versioned header, labels, float images, checksum
 * (layout in docs/file-format.md). */
#ifndef ZSQ_IO_CALIB_FILE_H
#define ZSQ_IO_CALIB_FILE_H

#include <stdint.h>

#include "core/error.h"

typedef struct zsq_calib_data {
  int64_t count;
  int c, h, w;
  char method[32];
  uint64_t seed;
  int *labels;
  float *images; /* count × c × h × w, NCHW */
} zsq_calib_data;

zsq_status zsq_calib_write(const char *path, const zsq_calib_data *d, zsq_err *err);
/* Allocates d->labels and d->images (free them with zsq_calib_data_free). */
zsq_status zsq_calib_read(const char *path, zsq_calib_data *d, zsq_err *err);
void zsq_calib_data_free(zsq_calib_data *d);

#endif
