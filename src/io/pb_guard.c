/* pb_guard.c — a wire-format walk that measures message nesting without any schema. */
#include "io/pb_guard.h"

enum { SCAN_INVALID = 0, SCAN_OK = 1, SCAN_TOO_DEEP = 2 };

static int read_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*i >= n) return 0;
    uint8_t b = p[(*i)++];
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 1;
    }
  }
  return 0;
}

/* Parses [p, p+n) as fields; every length-delimited payload is tried as a nested message. */
static int scan(const uint8_t *p, size_t n, int level, int max_depth) {
  if (level > max_depth) return SCAN_TOO_DEEP;
  size_t i = 0;
  while (i < n) {
    uint64_t key, v;
    if (!read_varint(p, n, &i, &key) || (key >> 3) == 0) return SCAN_INVALID;
    switch (key & 7) {
      case 0:
        if (!read_varint(p, n, &i, &v)) return SCAN_INVALID;
        break;
      case 1:
        if (n - i < 8) return SCAN_INVALID;
        i += 8;
        break;
      case 5:
        if (n - i < 4) return SCAN_INVALID;
        i += 4;
        break;
      case 2:
        if (!read_varint(p, n, &i, &v) || v > n - i) return SCAN_INVALID;
        if (v > 0 && scan(p + i, (size_t)v, level + 1, max_depth) == SCAN_TOO_DEEP)
          return SCAN_TOO_DEEP;
        i += (size_t)v;
        break;
      default:
        return SCAN_INVALID; /* groups (3, 4) are not used by ONNX; 6, 7 do not exist */
    }
  }
  return SCAN_OK;
}

int zsq_pb_depth_ok(const uint8_t *data, size_t size, int max_depth) {
  return scan(data, size, 0, max_depth) != SCAN_TOO_DEEP;
}
