// bench_qconv.cc — the dense convolution operator (src/ops/qconv.h) on the ResNet-18 3x3 layers,
// batch 1, 1 thread, beside the bare GEMM ukernel on a ready im2col matrix (its lower bound) in
// the same run: W8A8 folded (codes out), W8A8 two-stage (f32 out + a u8 residual), W4A4 folded.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "kernels/configs/gemm-config.h"
#include "ops/qconv.h"
extern "C" {
#include "ops/im2col.h"
}

namespace {

struct Layer {
  int64_t cin, cout, hw, stride;
};

// ResNet-18's 3x3 convolutions at 224x224 (bench/shapes/resnet18.txt as convolutions).
const Layer kLayers[] = {{64, 64, 56, 1},   {64, 128, 56, 2},  {128, 128, 28, 1}, {128, 256, 28, 2},
                         {256, 256, 14, 1}, {256, 512, 14, 2}, {512, 512, 7, 1}};

enum Mode { kFoldedW8, kTwoStageW8, kFoldedW4, kBareW8 };

// CPU time of this thread: time-slicing on the shared machine should not count.
double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

void BenchConv(benchmark::State &state, Layer l, const char *isa, Mode mode) {
  const int wbits = mode == kFoldedW4 ? 4 : 8, abits = wbits;
  const int64_t k = 9 * l.cin, oh = (l.hw - 1) / l.stride + 1, m = oh * oh;
  std::mt19937 rng(42);
  std::vector<int8_t> w(size_t(l.cout * k));
  for (auto &x : w) x = int8_t(int(rng() % (1u << wbits)) - (1 << (wbits - 1)));
  std::vector<uint8_t> in(size_t(l.hw * l.hw * l.cin)), res(size_t(m * l.cout));
  for (auto &x : in) x = uint8_t(rng() % (1u << abits));
  for (auto &x : res) x = uint8_t(rng());
  std::vector<float> mult(size_t(l.cout), 1e-4f), offset(size_t(l.cout), 0.1f);
  std::vector<float> qmult(size_t(l.cout), 10.0f), qoffset(size_t(l.cout), 0.5f);
  zsq_qconv_desc d{};
  d.cin = l.cin, d.cout = l.cout, d.groups = 1;
  d.kernel[0] = d.kernel[1] = 3, d.stride[0] = d.stride[1] = l.stride;
  d.dilation[0] = d.dilation[1] = 1;
  d.pads[0] = d.pads[1] = d.pads[2] = d.pads[3] = 1;
  d.wbits = wbits, d.weights = w.data(), d.abits = abits, d.in_zero_point = 1;
  d.mult = mult.data(), d.offset = offset.data();
  d.act_min = 0.0f, d.act_max = 1e30f;
  d.residual = mode == kTwoStageW8 ? ZSQ_QRES_CODES : ZSQ_QRES_NONE;
  d.res_scale = 0.05f, d.res_zero_point = 128;
  d.out = mode == kTwoStageW8 ? ZSQ_QOUT_F32 : ZSQ_QOUT_CODES;
  d.qmult = qmult.data(), d.qoffset = qoffset.data(), d.qmin = 0, d.qmax = (1 << abits) - 1;
  d.isa = isa;
  zsq_err err{};
  zsq_qconv *op = nullptr;
  if (zsq_qconv_create(&d, &op, &err) != ZSQ_OK) {
    state.SkipWithError(err.msg);
    return;
  }
  std::vector<uint8_t> scratch(zsq_qconv_scratch_size(op, 1, l.hw, l.hw, 1));
  std::vector<float> out(size_t(m * l.cout));
  // The bare ukernel: the same packed tile and epilogue on the whole im2col matrix, built once
  // outside the timing.
  const zsq_conv_geom g{l.hw, l.hw, l.cin, oh, oh, 3, 3, l.stride, l.stride, 1, 1, 1, 1};
  std::vector<uint8_t> col(size_t(m * k));
  zsq_im2col_rows(&g, in.data(), 1, 0, size_t(m), col.data());
  const zsq_gemm_config *cfg = nullptr;
  zsq_gemm_config_for_isa(isa, ZSQ_GEMM_QC8W, &cfg);
  std::vector<uint8_t> packed(zsq_gemm_packed_size(l.cout, k, cfg->nr, cfg->kr, 8));
  zsq_gemm_pack_qc8w(l.cout, k, cfg->nr, cfg->kr, w.data(), k, packed.data());
  std::vector<int32_t> bias(size_t(l.cout), 0);
  const zsq_gemm_requant_params p{bias.data(), mult.data(), offset.data(), nullptr, nullptr,
                                  0,           255};
  auto run_op = [&] {
    zsq_qconv_run(op, 1, l.hw, l.hw, in.data(), res.data(), out.data(), scratch.data(), nullptr,
                  &err);
  };
  auto run = [&] {
    if (mode != kBareW8) return run_op();
    for (int64_t i = 0; i < m; i += cfg->mr) {
      cfg->ukernel(size_t(std::min<int64_t>(cfg->mr, m - i)), l.cout, k, col.data() + i * k, k,
                   packed.data(), reinterpret_cast<uint8_t *>(out.data()) + i * l.cout, l.cout, &p);
    }
  };
  const double t0 = ThreadSeconds();
  for (auto _ : state) run();
  const double seconds = ThreadSeconds() - t0;
  state.counters["GOPS"] =
      2.0 * double(m * l.cout * k) * double(state.iterations()) / seconds / 1e9;
  state.SetLabel(mode == kBareW8 ? cfg->name : zsq_qconv_kernel_name(op));
  zsq_qconv_destroy(op);
}

}  // namespace

int main(int argc, char **argv) {
  const char *const names[] = {"folded_W8A8", "two_stage_W8A8_f32_res", "folded_W4A4",
                               "bare_gemm_W8A8"};
  for (const char *isa : {"avx512vnni", "avx2"}) {
    const zsq_gemm_config *cfg = nullptr;
    if (zsq_gemm_config_for_isa(isa, ZSQ_GEMM_QC8W, &cfg) != ZSQ_OK) continue;
    for (const Layer &l : kLayers) {
      const std::string shape = std::to_string(l.cin) + "x" + std::to_string(l.cout) + "@" +
                                std::to_string(l.hw) + "s" + std::to_string(l.stride);
      for (Mode mode : {kBareW8, kFoldedW8, kTwoStageW8, kFoldedW4}) {
        benchmark::RegisterBenchmark((std::string(names[mode]) + "_" + isa + "/" + shape).c_str(),
                                     BenchConv, l, isa, mode);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
