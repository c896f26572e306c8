/* error.h — status plus message carried by every internal call (zsq_err). */
#ifndef ZSQ_CORE_ERROR_H
#define ZSQ_CORE_ERROR_H

#include "zsq.h"

typedef struct zsq_err {
  zsq_status status;
  char msg[512];
} zsq_err;

void zsq_err_clear(zsq_err *e);
/* Record status and a printf-style message; returns status so callers can `return zsq_fail(...)`.
 * The first failure wins: a later call does not overwrite an earlier, more specific message. */
zsq_status zsq_fail(zsq_err *e, zsq_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ZSQ_TRY(expr)                            \
  do {                                           \
    zsq_status zsq_try_s_ = (expr);              \
    if (zsq_try_s_ != ZSQ_OK) return zsq_try_s_; \
  } while (0)

#endif
