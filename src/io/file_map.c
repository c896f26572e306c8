/* file_map.c — read-only whole-file views (mmap). */
#include "io/file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char empty_file[1];

static void view_empty(zsq_file_view *v) {
  v->data = empty_file;
  v->size = 0;
  v->mapped = 0;
}

zsq_status zsq_file_map(const char *path, zsq_file_view *v, zsq_err *err) {
  view_empty(v);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return zsq_fail(err, ZSQ_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  zsq_status s = ZSQ_OK;
  if (fstat(fd, &st) != 0) {
    s = zsq_fail(err, ZSQ_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
  } else if (S_ISDIR(st.st_mode)) {
    s = zsq_fail(err, ZSQ_ERR_IO, "'%s' is a directory, not a file", path);
  } else if (!S_ISREG(st.st_mode)) {
    s = zsq_fail(err, ZSQ_ERR_IO, "'%s' is not a regular file (pipes and devices are not read)",
                 path);
  } else if (st.st_size > 0) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      s = zsq_fail(err, ZSQ_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
    } else {
      v->data = p;
      v->size = (size_t)st.st_size;
      v->mapped = 1;
    }
  }
  close(fd);
  return s;
}

void zsq_file_unmap(zsq_file_view *v) {
  if (v->mapped) munmap((void *)v->data, v->size);
  view_empty(v);
}
