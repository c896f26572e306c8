/* file_map.h — read-only whole-file views (mmap). */
#ifndef ZSQ_IO_FILE_MAP_H
#define ZSQ_IO_FILE_MAP_H

#include <stddef.h>

#include "core/error.h"

typedef struct zsq_file_view {
  const void *data; /* never NULL: an empty file is a valid zero-length view */
  size_t size;
  int mapped; /* 0 for an empty file (nothing to unmap) */
} zsq_file_view;

/* Maps the regular file at path read-only (private). A missing file, a directory, a pipe or a
 * mapping failure is ZSQ_ERR_IO with the path in the message. */
zsq_status zsq_file_map(const char *path, zsq_file_view *v, zsq_err *err);
void zsq_file_unmap(zsq_file_view *v);

#endif
