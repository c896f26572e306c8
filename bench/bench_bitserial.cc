// bench_bitserial.cc — W2A2 bit-serial GEMM beside our W8A8 ukernel, on the 3x3 conv GEMM shapes
// of ResNet-18 and the ResNet-20 teacher (bench/shapes), 1 thread, in one run.
//
// What is timed (thread CPU time), per shape, for the full M x N x K:
// - W8A8: the best W8A8 ukernel (zsq_gemm_config_best(ZSQ_GEMM_QC8W)) on a row-major u8 [M][K]
//   activation matrix: the im2col output, which the W8A8 kernels read as is (no packing of A).
// - W2A2: zsq_pack_a_bitplanes_2b of the same [M][K] u8 codes into bit planes (the best tier's
//   packer), then the best bit-serial ukernel. W2A2_kernel_only leaves the packing out.
// Weights are packed once, outside the timing, for both. Both see the same codes (a in [0, 3],
// w in [-2, 1]); GOPS count 2·M·N·K; vs_w8a8 is the ratio to the median W8A8 GOPS of the shape.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/configs/bitserial-config.h"
#include "gemm-shapes.h"
#include "kernels/configs/gemm-config.h"

namespace {

using zsqbench::LoadShapes;
using zsqbench::Shape;

std::string Dims(const Shape &s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

double ThreadSeconds() {  // the machine is shared: time-slicing should not count
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Problem {
  explicit Problem(const Shape &s) : a(s.m * s.k), w(s.n * s.k), bias(s.n), mult(s.n), offset(s.n) {
    std::mt19937 rng(42);
    for (auto &x : a) x = static_cast<uint8_t>(rng() & 3);
    for (auto &x : w) x = static_cast<int8_t>(int(rng() & 3) - 2);
    for (int64_t j = 0; j < s.n; j++) {
      bias[j] = int32_t(rng() % 201) - 100;
      mult[j] = 0.05f;
      offset[j] = 128.5f;
    }
  }
  zsq_gemm_requant_params Params(size_t n0) const {
    return {bias.data() + n0, mult.data() + n0, offset.data() + n0, nullptr, nullptr, 0, 255};
  }
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<float> mult, offset;
};

std::map<std::string, std::vector<double>> w8a8_gops;  // per shape, every repetition

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs body once untimed, then per iteration; sets GOPS (and vs_w8a8 unless this is W8A8).
void Time(benchmark::State &state, const Shape &s, bool is_w8a8,
          const std::function<void()> &body) {
  body();
  const double t0 = ThreadSeconds();
  for (auto _ : state) {
    body();
    benchmark::ClobberMemory();
  }
  const double gops =
      2.0 * double(s.m * s.n * s.k) * double(state.iterations()) / (ThreadSeconds() - t0) / 1e9;
  state.counters["GOPS"] = gops;
  if (is_w8a8) {
    w8a8_gops[Dims(s)].push_back(gops);
  } else if (!w8a8_gops[Dims(s)].empty()) {
    state.counters["vs_w8a8"] = gops / Median(w8a8_gops[Dims(s)]);
  }
}

// N in blocks whose packed weights (col_bytes per column) stay in L2, the M tiles inside.
size_t NcBlock(size_t nr, size_t col_bytes) {
  return std::max(nr, (size_t(256) << 10) / col_bytes / nr * nr);
}

void BenchW8A8(benchmark::State &state, Shape s) {
  const zsq_gemm_config *cfg = zsq_gemm_config_best(ZSQ_GEMM_QC8W);
  state.SetLabel(cfg->name);
  const Problem pr(s);
  const size_t m = s.m, n = s.n, k = s.k, nr = cfg->nr;
  std::vector<uint8_t> packed(zsq_gemm_packed_size(n, k, nr, cfg->kr, cfg->wbits));
  zsq_gemm_pack_qc8w(n, k, nr, cfg->kr, pr.w.data(), k, packed.data());
  const size_t col_bytes = zsq_round_up(k, cfg->kr), nc_block = NcBlock(nr, col_bytes);
  std::vector<uint8_t> c(m * n);
  Time(state, s, true, [&] {
    for (size_t n0 = 0; n0 < n; n0 += nc_block) {
      const size_t nc = std::min(nc_block, n - n0);
      const zsq_gemm_requant_params p = pr.Params(n0);
      for (size_t m0 = 0; m0 < m; m0 += cfg->mr) {
        cfg->ukernel(std::min<size_t>(cfg->mr, m - m0), nc, k, pr.a.data() + m0 * k, k,
                     packed.data() + n0 * col_bytes, c.data() + m0 * n + n0, n, &p);
      }
    }
  });
}

void BenchW2A2(benchmark::State &state, Shape s, bool pack_a) {
  const zsq_bitserial_config *cfg = zsq_bitserial_config_best();
  state.SetLabel(std::string(cfg->name) + (pack_a ? " + " + std::string(cfg->pack_a_name) : ""));
  const Problem pr(s);
  const size_t m = s.m, n = s.n, k = s.k, nr = cfg->nr;
  std::vector<uint8_t> packed(zsq_bitserial_packed_size(n, k, nr, cfg->kw));
  zsq_bitserial_pack_qc2w(n, k, nr, cfg->kw, pr.w.data(), k, packed.data());
  const size_t col_bytes = zsq_round_up(k, cfg->kw) / 4, nc_block = NcBlock(nr, col_bytes);
  const size_t ps = zsq_bitplanes_2b_row_bytes(k);
  std::vector<uint8_t> pa(m * ps), c(m * n);
  cfg->pack_a(m, k, pr.a.data(), k, pa.data(), ps);
  Time(state, s, false, [&] {
    if (pack_a) cfg->pack_a(m, k, pr.a.data(), k, pa.data(), ps);
    for (size_t n0 = 0; n0 < n; n0 += nc_block) {
      const size_t nc = std::min(nc_block, n - n0);
      const zsq_gemm_requant_params p = pr.Params(n0);
      for (size_t m0 = 0; m0 < m; m0 += cfg->mr) {
        cfg->ukernel(std::min<size_t>(cfg->mr, m - m0), nc, k, pa.data() + m0 * ps, ps,
                     packed.data() + n0 * col_bytes, c.data() + m0 * n + n0, n, &p);
      }
    }
  });
}

}  // namespace

int main(int argc, char **argv) {
  const char *file = getenv("ZSQ_SHAPES");  // default: ResNet-18 and the ResNet-20 teacher
  std::vector<std::string> paths = {ZSQ_SOURCE_DIR "/bench/shapes/resnet18.txt",
                                    ZSQ_SOURCE_DIR "/bench/shapes/fmnist-resnet20.txt"};
  if (file != nullptr) paths = {file};
  std::vector<Shape> shapes;
  for (const std::string &path : paths) {
    const std::vector<Shape> more = LoadShapes(path, "3x3");
    if (more.empty()) fprintf(stderr, "bench_bitserial: no 3x3 shapes in %s\n", path.c_str());
    shapes.insert(shapes.end(), more.begin(), more.end());
  }
  if (shapes.empty()) return 1;
  std::map<std::string, bool> seen;  // a GEMM shape shared by two layers runs once
  for (const Shape &s : shapes) {
    const std::string d = Dims(s);
    if (seen[d]) continue;
    seen[d] = true;
    benchmark::RegisterBenchmark(("W8A8/" + d).c_str(), BenchW8A8, s);
    benchmark::RegisterBenchmark(("W2A2/" + d).c_str(), BenchW2A2, s, true);
    benchmark::RegisterBenchmark(("W2A2_kernel_only/" + d).c_str(), BenchW2A2, s, false);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
