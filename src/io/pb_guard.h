/* pb_guard.h — bounds the nesting depth of a protobuf buffer before protobuf-c (which recurses
 * once per nested message) unpacks it, so a hostile file cannot exhaust the stack. */
#ifndef ZSQ_IO_PB_GUARD_H
#define ZSQ_IO_PB_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define ZSQ_PB_MAX_DEPTH 100

/* 1 when every chain of length-delimited fields that parse as messages is at most max_depth
 * deep (or the buffer is not valid wire format at all: protobuf-c will reject it); 0 when the
 * nesting goes deeper. */
int zsq_pb_depth_ok(const uint8_t *data, size_t size, int max_depth);

#endif
