// bench_qconv.cc — the dense convolution operator (src/ops/qconv.h) on the ResNet-18 3x3 layers
// (batch 1) and the ResNet-20 teacher's convolutions (batch 16), 1 thread, beside in the same run:
// the bare GEMM ukernel on a ready im2col matrix (its lower bound; with the tier's 14x32 and, for
// cout <= 16, its 14x16 tile) and the im2col path (per 14-row panel: im2col rows, then the GEMM
// ukernel, as the operator runs without igemm). Operator modes: W8A8 folded (codes out), W8A8
// two-stage (f32 out + a u8 residual), W4A4 folded.
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
  int64_t cin, cout, hw, stride, batch;
};

// ResNet-18's 3x3 convolutions at 224x224 (bench/shapes/resnet18.txt as convolutions), then the
// ResNet-20 teacher's 3x3 convolutions on 28x28 Fashion-MNIST (bench/shapes/fmnist-resnet20.txt:
// all but the 1-channel stem, which stays on im2col).
const Layer kLayers[] = {{64, 64, 56, 1, 1},   {64, 128, 56, 2, 1},  {128, 128, 28, 1, 1},
                         {128, 256, 28, 2, 1}, {256, 256, 14, 1, 1}, {256, 512, 14, 2, 1},
                         {512, 512, 7, 1, 1},  {16, 16, 28, 1, 16},  {16, 32, 28, 2, 16},
                         {32, 32, 14, 1, 16},  {32, 64, 14, 2, 16},  {64, 64, 7, 1, 16}};

enum Mode {
  kFoldedW8,
  kTwoStageW8,
  kFoldedW4,
  kBareW8,
  kBareNarrowW8,
  kIm2colW8,
  kIm2colW4,
  kModes
};

// CPU time of this thread: time-slicing on the shared machine should not count.
double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

void BenchConv(benchmark::State &state, Layer l, const char *isa, Mode mode) {
  const int wbits = mode == kFoldedW4 || mode == kIm2colW4 ? 4 : 8, abits = wbits;
  const int64_t k = 9 * l.cin, oh = (l.hw - 1) / l.stride + 1, m = l.batch * oh * oh;
  std::mt19937 rng(42);
  std::vector<int8_t> w(size_t(l.cout * k));
  for (auto &x : w) x = int8_t(int(rng() % (1u << wbits)) - (1 << (wbits - 1)));
  std::vector<uint8_t> in(size_t(l.batch * l.hw * l.hw * l.cin)), res(size_t(m * l.cout));
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
  std::vector<uint8_t> scratch(zsq_qconv_scratch_size(op, l.batch, l.hw, l.hw, 1));
  std::vector<float> out(size_t(m * l.cout));
  // The bare ukernel: the same packed tile and epilogue on the whole im2col matrix, built once
  // outside the timing; the im2col path builds it per panel inside the timing.
  const zsq_conv_geom g{l.hw, l.hw, l.cin, oh, oh, 3, 3, l.stride, l.stride, 1, 1, 1, 1};
  std::vector<uint8_t> col(size_t(m * k));
  zsq_im2col_rows(&g, in.data(), 1, 0, size_t(m), col.data());
  const zsq_gemm_config *cfg = nullptr;
  zsq_gemm_config_for_isa(isa, wbits == 8 ? ZSQ_GEMM_QC8W : ZSQ_GEMM_QC4W, &cfg);
  if (mode == kBareNarrowW8) cfg = cfg->narrow;
  if (cfg == nullptr) {
    state.SkipWithError("no 16-column tile");
    zsq_qconv_destroy(op);
    return;
  }
  std::vector<uint8_t> packed(zsq_gemm_packed_size(l.cout, k, cfg->nr, cfg->kr, wbits));
  cfg->pack(l.cout, k, cfg->nr, cfg->kr, w.data(), k, packed.data());
  std::vector<int32_t> bias(size_t(l.cout), 0);
  const zsq_gemm_requant_params p{bias.data(), mult.data(), offset.data(), nullptr, nullptr,
                                  0,           255};
  uint8_t *out8 = reinterpret_cast<uint8_t *>(out.data());
  auto gemm = [&](int64_t i, int64_t rows, const uint8_t *a) {
    for (int64_t r = 0; r < rows; r += cfg->mr) {
      cfg->ukernel(size_t(std::min<int64_t>(cfg->mr, rows - r)), l.cout, k, a + r * k, k,
                   packed.data(), out8 + (i + r) * l.cout, l.cout, &p);
    }
  };
  auto run = [&] {
    if (mode == kBareW8 || mode == kBareNarrowW8) return gemm(0, m, col.data());
    if (mode == kIm2colW8 || mode == kIm2colW4) {
      for (int64_t i = 0; i < m; i += cfg->mr) {
        const int64_t rows = std::min<int64_t>(cfg->mr, m - i);
        zsq_im2col_rows(&g, in.data(), 1, size_t(i), size_t(rows), col.data());
        gemm(i, rows, col.data());
      }
      return;
    }
    zsq_qconv_run(op, l.batch, l.hw, l.hw, in.data(), res.data(), out.data(), scratch.data(),
                  nullptr, &err);
  };
  const double t0 = ThreadSeconds();
  for (auto _ : state) run();
  const double seconds = ThreadSeconds() - t0;
  state.counters["GOPS"] =
      2.0 * double(m * l.cout * k) * double(state.iterations()) / seconds / 1e9;
  const bool own =
      mode == kBareW8 || mode == kBareNarrowW8 || mode == kIm2colW8 || mode == kIm2colW4;
  state.SetLabel(own ? cfg->name : zsq_qconv_kernel_name(op));
  zsq_qconv_destroy(op);
}

}  // namespace

int main(int argc, char **argv) {
  const char *const names[kModes] = {
      "folded_W8A8",         "two_stage_W8A8_f32_res", "folded_W4A4",     "bare_gemm_W8A8",
      "bare_gemm_W8A8_nr16", "im2col_path_W8A8",       "im2col_path_W4A4"};
  for (const char *isa : {"avx512vnni", "avx2"}) {
    const zsq_gemm_config *cfg = nullptr;
    if (zsq_gemm_config_for_isa(isa, ZSQ_GEMM_QC8W, &cfg) != ZSQ_OK) continue;
    for (const Layer &l : kLayers) {
      const std::string shape = std::to_string(l.cin) + "x" + std::to_string(l.cout) + "@" +
                                std::to_string(l.hw) + "s" + std::to_string(l.stride) + "n" +
                                std::to_string(l.batch);
      for (Mode mode :
           {kBareW8, kBareNarrowW8, kIm2colW8, kFoldedW8, kTwoStageW8, kIm2colW4, kFoldedW4}) {
        if (mode == kBareNarrowW8 && (l.cout > 16 || cfg->narrow == nullptr)) continue;
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
