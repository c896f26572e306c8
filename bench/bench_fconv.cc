// bench_fconv.cc — the dense f32 convolution (src/float/sconv.h, this host's best kernel) beside
// XNNPACK's xnn_create_convolution2d_nhwc_f32 on the geometries of bench/shapes/resnet-convs.txt:
// the ResNet-20 teacher at batch 256 (the synthesis batch) and 1, the ResNet-18 3x3 layers at
// batch 1. One thread (no pool), weights packed outside the timing, time = this thread's CPU time.
// Counters: GFLOPS = 2·M·N·K / s and pct_peak = GFLOPS / 170 (the FP32 FMA peak of one core here,
// BENCHMARKS.md; Peak_fma_zmm measures it in the same run).
//
//   build/bench/bench_fconv --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <xnnpack.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <cmath>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "float/sconv.h"
}

namespace {

constexpr double kPeakGflops = 170.0;

struct Conv {
  std::string model, layer;
  int64_t h, w, cin, cout, k, stride, pad;
};

std::vector<Conv> LoadConvs(const std::string &path) {
  std::vector<Conv> v;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Conv c;
    if (!(ls >> c.model >> c.h >> c.w >> c.cin >> c.cout >> c.k >> c.stride >> c.pad)) continue;
    std::getline(ls >> std::ws, c.layer);
    v.push_back(c);
  }
  return v;
}

double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

void Report(benchmark::State &state, double flops_per_iter, double seconds) {
  const double gflops = flops_per_iter * double(state.iterations()) / seconds / 1e9;
  state.counters["GFLOPS"] = gflops;
  state.counters["pct_peak"] = 100.0 * gflops / kPeakGflops;
}

void BenchConv(benchmark::State &state, Conv c, int64_t batch, bool xnnpack) {
  zsq_geom g{};
  g.in_h = c.h, g.in_w = c.w, g.kh = g.kw = c.k, g.sh = g.sw = c.stride, g.dh = g.dw = 1;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = c.pad;
  g.out_h = (c.h + 2 * c.pad - c.k) / c.stride + 1;
  g.out_w = (c.w + 2 * c.pad - c.k) / c.stride + 1;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(size_t(batch * c.h * c.w * c.cin)), w(size_t(c.cout * c.k * c.k * c.cin));
  std::vector<float> bias(size_t(c.cout)), y(size_t(batch * g.out_h * g.out_w * c.cout));
  for (auto &v : x) v = u(rng);
  for (auto &v : w) v = u(rng);
  for (auto &v : bias) v = u(rng);
  const double flops =
      2.0 * double(batch * g.out_h * g.out_w) * double(c.cout) * double(c.k * c.k * c.cin);
  const float lo = 0.0f, hi = INFINITY;  // a fused ReLU, as in the teachers
  if (xnnpack) {
    xnn_operator_t op = nullptr;
    if (xnn_initialize(nullptr) != xnn_status_success ||
        xnn_create_convolution2d_nhwc_f32(
            uint32_t(c.pad), uint32_t(c.pad), uint32_t(c.pad), uint32_t(c.pad), uint32_t(c.k),
            uint32_t(c.k), uint32_t(c.stride), uint32_t(c.stride), 1, 1, 1, size_t(c.cin),
            size_t(c.cout), size_t(c.cin), size_t(c.cout), w.data(), bias.data(), lo, hi, 0,
            &op) != xnn_status_success ||
        xnn_setup_convolution2d_nhwc_f32(op, size_t(batch), size_t(c.h), size_t(c.w), x.data(),
                                         y.data(), nullptr) != xnn_status_success) {
      state.SkipWithError("XNNPACK refused the convolution");
      xnn_delete_operator(op);
      return;
    }
    const double t0 = ThreadSeconds();
    for (auto _ : state) xnn_run_operator(op, nullptr);
    Report(state, flops, ThreadSeconds() - t0);
    xnn_delete_operator(op);
    return;
  }
  zsq_sconv *op = nullptr;
  zsq_err err{};
  if (zsq_sconv_create(&g, size_t(c.cin), size_t(c.cout), w.data(), bias.data(), lo, hi, nullptr,
                       &op, &err) != ZSQ_OK) {
    state.SkipWithError(err.msg);
    return;
  }
  const double t0 = ThreadSeconds();
  for (auto _ : state) zsq_sconv_run(op, size_t(batch), x.data(), y.data(), nullptr);
  Report(state, flops, ThreadSeconds() - t0);
  state.SetLabel(zsq_sconv_name(op));
  zsq_sconv_destroy(op);
}

#if defined(__x86_64__)
// 24 independent register-only FMA chains: the FP32 peak of this core.
__attribute__((target("avx512f"))) void PeakFmaZmm(benchmark::State &state) {
  const int64_t iters = 1 << 20;
  const double t0 = ThreadSeconds();
  for (auto _ : state) {
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(float(i));
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (int64_t it = 0; it < iters; it++) {
      for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    for (int i = 1; i < 24; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    benchmark::DoNotOptimize(acc[0]);
  }
  Report(state, 2.0 * 16 * 24 * double(iters), ThreadSeconds() - t0);
}
#endif

}  // namespace

int main(int argc, char **argv) {
#if defined(__x86_64__)
  if (zsq_sconv_config_best() != nullptr) benchmark::RegisterBenchmark("Peak_fma_zmm", PeakFmaZmm);
#endif
  for (const Conv &c : LoadConvs(std::string(ZSQ_SOURCE_DIR) + "/bench/shapes/resnet-convs.txt")) {
    const std::vector<int64_t> batches =
        c.model == "resnet20" ? std::vector<int64_t>{256, 1} : std::vector<int64_t>{1};
    for (int64_t batch : batches) {
      const std::string shape = c.model + "/" + std::to_string(c.cin) + "x" +
                                std::to_string(c.cout) + "@" + std::to_string(c.h) + "k" +
                                std::to_string(c.k) + "s" + std::to_string(c.stride) +
                                "/batch:" + std::to_string(batch);
      for (bool xnn : {false, true}) {
        benchmark::RegisterBenchmark(((xnn ? "xnnpack/" : "zsq/") + shape).c_str(), BenchConv, c,
                                     batch, xnn);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
