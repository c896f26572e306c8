// bench_gemm.cc — GEMM ukernels (W8A8, W4A8; AVX-512 VNNI and AVX2) beside oneDNN's u8xs8 int8
// matmul, on the GEMM shapes of bench/shapes/*.txt, 1 thread, in one run.
//
// Our kernels see activations already as a row-major [M][K] u8 matrix and weights packed once:
// im2col / indirection for convolution is not timed here (part 2 of the kernels issue).
// oneDNN gets the same: u8 [M][K] source, s8 weights reordered once to its preferred layout,
// s32 bias, per-column output scales, u8 output.
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "gemm-shapes.h"
#include "kernels/configs/gemm-config.h"

namespace {

using zsqbench::LoadShapes;
using zsqbench::Shape;

double Ops(const Shape &s) {
  return 2.0 * double(s.m) * double(s.n) * double(s.k);
}

// CPU time of this thread: the machine is shared, and time-slicing should not count against a
// kernel (oneDNN runs in this thread too, OMP_NUM_THREADS=1).
double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::string Dims(const Shape &s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

// Operands shared by every implementation of one shape (same seed, same codes).
struct Problem {
  explicit Problem(const Shape &s) : a(s.m * s.k), w(s.n * s.k), bias(s.n), mult(s.n), offset(s.n) {
    std::mt19937 rng(42);
    for (auto &x : a) x = static_cast<uint8_t>(rng() & 0xFF);
    for (auto &x : w) x = static_cast<int8_t>(int(rng() & 0xF) - 8);  // fits 4 and 8 bits
    for (int64_t j = 0; j < s.n; j++) {
      bias[j] = int32_t(rng() % 2001) - 1000;
      mult[j] = 1e-3f;
      offset[j] = 128.5f;
    }
  }
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<float> mult, offset;
};

// GOPS of every repetition of the baselines: the vpdpbusd peak and oneDNN per shape.
std::vector<double> peak_gops;
std::map<std::string, std::vector<double>> onednn_gops;

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void SetCounters(benchmark::State &state, const Shape &s, double seconds, bool is_onednn) {
  const double gops = Ops(s) * double(state.iterations()) / seconds / 1e9;
  state.counters["GOPS"] = gops;
  if (!peak_gops.empty()) state.counters["of_peak"] = gops / Median(peak_gops);
  if (is_onednn) {
    onednn_gops[Dims(s)].push_back(gops);
  } else {
    const double base = Median(onednn_gops[Dims(s)]);
    if (base > 0.0) state.counters["vs_onednn"] = gops / base;
  }
}

// The machine's int8 peak as measured: 20 independent vpdpbusd zmm chains, no memory operands.
__attribute__((target("avx512f,avx512vnni"), noinline)) int32_t DpbusdChains(int64_t n) {
  const __m512i x = _mm512_set1_epi32(0x01020304), y = _mm512_set1_epi32(0x05060708);
  __m512i acc[20];
  for (auto &v : acc) v = _mm512_setzero_si512();
  for (int64_t i = 0; i < n; i++) {
    for (auto &v : acc) v = _mm512_dpbusd_epi32(v, x, y);
    for (auto &v : acc) __asm__ volatile("" : "+v"(v));
  }
  __m512i sum = acc[0];
  for (int j = 1; j < 20; j++) sum = _mm512_add_epi32(sum, acc[j]);
  return _mm512_reduce_add_epi32(sum);
}

void BenchPeak(benchmark::State &state) {
  const zsq_gemm_config *cfg = nullptr;
  if (zsq_gemm_config_for_isa("avx512vnni", ZSQ_GEMM_QC8W, &cfg) != ZSQ_OK) {
    state.SkipWithError("host lacks AVX-512 VNNI");
    return;
  }
  const int64_t n = 1 << 16;
  const double t0 = ThreadSeconds();
  for (auto _ : state) benchmark::DoNotOptimize(DpbusdChains(n));
  const double s = ThreadSeconds() - t0;
  const double gops = 20.0 * 64 * 2 * double(n) * double(state.iterations()) / s / 1e9;
  state.counters["GOPS"] = gops;
  peak_gops.push_back(gops);
}

// The full M x N with one ukernel: N in blocks whose packed weights stay in L2, the M tiles
// inside (one thread; this loop is what src/ops/ will parallelise).
void BenchOurs(benchmark::State &state, Shape s, const char *isa, zsq_gemm_wt wt) {
  const zsq_gemm_config *cfg = nullptr;
  if (zsq_gemm_config_for_isa(isa, wt, &cfg) != ZSQ_OK) {
    state.SkipWithError("host lacks the ISA");
    return;
  }
  Problem pr(s);
  const size_t m = s.m, n = s.n, k = s.k, nr = cfg->nr, kr = cfg->kr;
  std::vector<uint8_t> packed(zsq_gemm_packed_size(n, k, nr, kr, cfg->wbits));
  cfg->pack(n, k, nr, kr, pr.w.data(), k, packed.data());
  const size_t col_bytes = zsq_round_up(k, kr) * size_t(cfg->wbits) / 8;  // per packed column
  const size_t nc_block = std::max(nr, (size_t(256) << 10) / col_bytes / nr * nr);
  std::vector<uint8_t> c(m * n);
  auto run = [&] {
    for (size_t n0 = 0; n0 < n; n0 += nc_block) {
      const size_t nc = std::min(nc_block, n - n0);
      const zsq_gemm_requant_params p{pr.bias.data() + n0,
                                      pr.mult.data() + n0,
                                      pr.offset.data() + n0,
                                      nullptr,
                                      nullptr,
                                      0,
                                      255};
      for (size_t m0 = 0; m0 < m; m0 += cfg->mr) {
        cfg->ukernel(std::min<size_t>(cfg->mr, m - m0), nc, k, pr.a.data() + m0 * k, k,
                     packed.data() + n0 * col_bytes, c.data() + m0 * n + n0, n, &p);
      }
    }
  };
  run();
  const double t0 = ThreadSeconds();
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, s, ThreadSeconds() - t0, false);
}

void BenchOneDnn(benchmark::State &state, Shape s) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  Problem pr(s);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const dnnl::memory::desc a_md({s.m, s.k}, dt::u8, tag::ab);
  const dnnl::memory::desc w_any({s.k, s.n}, dt::s8, tag::any);
  const dnnl::memory::desc bias_md({1, s.n}, dt::s32, tag::ab);
  const dnnl::memory::desc c_md({s.m, s.n}, dt::u8, tag::ab);
  dnnl::primitive_attr attr;
  attr.set_output_scales(1 << 1, std::vector<float>(pr.mult.begin(), pr.mult.end()));
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any, bias_md, c_md), attr, eng);
  // Weights [K][N] (transposed from our [N][K]) reordered once, like our packing.
  std::vector<int8_t> wt(s.k * s.n);
  for (int64_t j = 0; j < s.n; j++)
    for (int64_t kk = 0; kk < s.k; kk++) wt[kk * s.n + j] = pr.w[j * s.k + kk];
  dnnl::memory w_user({{s.k, s.n}, dt::s8, tag::ab}, eng, wt.data());
  dnnl::memory w_mem(pd.weights_desc(), eng);
  dnnl::reorder(w_user, w_mem).execute(strm, w_user, w_mem);
  std::vector<uint8_t> c(s.m * s.n);
  dnnl::memory a_mem(a_md, eng, pr.a.data()), bias_mem(bias_md, eng, pr.bias.data()),
      c_mem(c_md, eng, c.data());
  const dnnl::matmul mm(pd);
  const std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, a_mem},
                                                      {DNNL_ARG_WEIGHTS, w_mem},
                                                      {DNNL_ARG_BIAS, bias_mem},
                                                      {DNNL_ARG_DST, c_mem}};
  mm.execute(strm, args);
  strm.wait();
  const double t0 = ThreadSeconds();
  for (auto _ : state) {
    mm.execute(strm, args);
    strm.wait();
  }
  SetCounters(state, s, ThreadSeconds() - t0, true);
}

}  // namespace

int main(int argc, char **argv) {
  // oneDNN runs on libgomp, which reads OMP_NUM_THREADS when it loads: re-exec with 1 thread.
  if (getenv("OMP_NUM_THREADS") == nullptr || strcmp(getenv("OMP_NUM_THREADS"), "1") != 0) {
    setenv("OMP_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
    perror("bench_gemm: re-exec with OMP_NUM_THREADS=1");
    return 1;
  }
  const char *file = getenv("ZSQ_SHAPES");  // default: ResNet-18
  const std::string path = file ? file : ZSQ_SOURCE_DIR "/bench/shapes/resnet18.txt";
  const std::vector<Shape> shapes = LoadShapes(path);
  if (shapes.empty()) {
    fprintf(stderr, "bench_gemm: no shapes in %s\n", path.c_str());
    return 1;
  }
  benchmark::RegisterBenchmark("Peak_vpdpbusd_zmm", BenchPeak);
  for (const Shape &s : shapes) {
    const std::string d = Dims(s);
    benchmark::RegisterBenchmark(("oneDNN_u8s8/" + d).c_str(), BenchOneDnn, s);
    benchmark::RegisterBenchmark(("W8A8_avx512vnni/" + d).c_str(), BenchOurs, s, "avx512vnni",
                                 ZSQ_GEMM_QC8W);
    benchmark::RegisterBenchmark(("W4A8_avx512vnni/" + d).c_str(), BenchOurs, s, "avx512vnni",
                                 ZSQ_GEMM_QC4W);
    benchmark::RegisterBenchmark(("W8A8_avx2/" + d).c_str(), BenchOurs, s, "avx2", ZSQ_GEMM_QC8W);
    benchmark::RegisterBenchmark(("W4A8_avx2/" + d).c_str(), BenchOurs, s, "avx2", ZSQ_GEMM_QC4W);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
