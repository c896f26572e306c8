/* unroll.h — ZSQ_UNROLL: fully unrolled tile-row loops keep accumulators in registers. */
#ifndef ZSQ_KERNELS_UNROLL_H
#define ZSQ_KERNELS_UNROLL_H

#if defined(__clang__)
#define ZSQ_UNROLL _Pragma("clang loop unroll(full)")
#else
#define ZSQ_UNROLL _Pragma("GCC unroll 16")
#endif

#endif
