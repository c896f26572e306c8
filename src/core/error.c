/* error.c — zsq_err helpers and status names. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

void zsq_err_clear(zsq_err *e) {
  e->status = ZSQ_OK;
  e->msg[0] = '\0';
}

zsq_status zsq_fail(zsq_err *e, zsq_status status, const char *fmt, ...) {
  if (e == NULL || e->status != ZSQ_OK) return status;
  e->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return status;
}

const char *zsq_status_name(zsq_status s) {
  switch (s) {
    case ZSQ_OK:
      return "ok";
    case ZSQ_ERR_INVALID_ARG:
      return "invalid argument";
    case ZSQ_ERR_IO:
      return "i/o error";
    case ZSQ_ERR_FORMAT:
      return "malformed input";
    case ZSQ_ERR_UNSUPPORTED:
      return "unsupported";
    case ZSQ_ERR_NOMEM:
      return "out of memory";
    case ZSQ_ERR_INTERNAL:
      return "internal error";
  }
  return "unknown status";
}

const char *zsq_version(void) {
  return ZSQ_VERSION_STRING;
}
