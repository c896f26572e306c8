/* cpu.c — CPU feature detection through cpuinfo: the ISA tier zsq's kernels will use. */
#include <cpuinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "zsq.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *isa = "scalar";
static char features[256] = "unknown";

static void detect(void) {
  if (!cpuinfo_initialize()) return;
  char *f = features;
  size_t left = sizeof features;
  f[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
  struct {
    const char *name;
    int has;
  } list[] = {{"sse4.1", cpuinfo_has_x86_sse4_1()},
              {"avx", cpuinfo_has_x86_avx()},
              {"avx2", cpuinfo_has_x86_avx2()},
              {"fma3", cpuinfo_has_x86_fma3()},
              {"avx512f", cpuinfo_has_x86_avx512f()},
              {"avx512bw", cpuinfo_has_x86_avx512bw()},
              {"avx512vl", cpuinfo_has_x86_avx512vl()},
              {"avx512vnni", cpuinfo_has_x86_avx512vnni()},
              {"avx512vpopcntdq", cpuinfo_has_x86_avx512vpopcntdq()}};
  if (cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3()) isa = "avx2";
  if (cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl() &&
      cpuinfo_has_x86_avx512vnni()) {
    isa = "avx512vnni";
  }
#elif defined(__aarch64__) || defined(__arm__)
  struct {
    const char *name;
    int has;
  } list[] = {{"neon", cpuinfo_has_arm_neon()}, {"dotprod", cpuinfo_has_arm_neon_dot()}};
  if (cpuinfo_has_arm_neon()) isa = "neon";
  if (cpuinfo_has_arm_neon_dot()) isa = "neon-dot";
#else
  struct {
    const char *name;
    int has;
  } list[] = {{"none", 0}};
#endif
  for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
    if (!list[i].has) continue;
    int w = snprintf(f, left, "%s%s", f == features ? "" : " ", list[i].name);
    if (w < 0 || (size_t)w >= left) break;
    f += w;
    left -= (size_t)w;
  }
}

const char *zsq_cpu_isa(void) {
  pthread_once(&once, detect);
  return isa;
}

const char *zsq_cpu_features(void) {
  pthread_once(&once, detect);
  return features;
}
