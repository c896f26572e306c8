// bench_dwconv.cc — the depthwise operator (W8A8, ReLU6, code output: the folded fast path) per
// ISA tier beside XNNPACK's QU8 (per-tensor) and QC8 (per-channel) depthwise convolution, on the
// layers of bench/shapes/mobilenetv2-dw.txt, 1 thread, batch 1, in one run. Both sides are whole
// operators on NHWC input (padding, indirection and requantization included).
#include <benchmark/benchmark.h>
#include <xnnpack.h>

#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "kernels/configs/dwconv-config.h"
#include "ops/qdwconv.h"
}

namespace {

struct Layer {
  int64_t h, w, c, stride;
  std::string name;
};

std::vector<Layer> LoadLayers(const std::string &path) {
  std::vector<Layer> layers;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Layer l;
    if (!(ls >> l.h >> l.w >> l.c >> l.stride)) continue;
    std::getline(ls >> std::ws, l.name);
    layers.push_back(l);
  }
  return layers;
}

// CPU time of this thread: the machine is shared; time-slicing should not count against a kernel.
double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int64_t OutDim(int64_t in, int64_t s) {
  return (in - 1) / s + 1;
}  // 3x3, pad 1

// Codes and scales shared by every implementation of one layer.
struct Problem {
  explicit Problem(const Layer &l)
      : in(l.h * l.w * l.c),
        w(9 * l.c),
        bias(l.c),
        mult(l.c),
        offset(l.c),
        qmult(l.c),
        qoffset(l.c),
        scale(l.c) {
    std::mt19937 rng(42);
    for (auto &x : in) x = static_cast<uint8_t>(rng() & 0xFF);
    for (auto &x : w) x = static_cast<int8_t>(int(rng() & 0xFF) - 128);
    for (int64_t c = 0; c < l.c; c++) {
      bias[c] = int32_t(rng() % 2001) - 1000;
      scale[c] = 1e-3f;
      mult[c] = 0.02f * scale[c];
      offset[c] = 0.1f;
      qmult[c] = 255.0f / 6.0f;
      qoffset[c] = 0.5f;
    }
  }
  std::vector<uint8_t> in;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<float> mult, offset, qmult, qoffset, scale;
};

void Report(benchmark::State &state, const Layer &l) {
  const double macs = double(OutDim(l.h, l.stride) * OutDim(l.w, l.stride) * l.c * 9);
  state.counters["GMAC/s"] =
      benchmark::Counter(macs, benchmark::Counter::kIsIterationInvariantRate);
}

void Zsq(benchmark::State &state, Layer l, const char *isa) {
  const Problem pr(l);
  zsq_qconv_desc d{};
  d.cin = d.cout = d.groups = l.c;
  d.kernel[0] = d.kernel[1] = 3;
  d.stride[0] = d.stride[1] = l.stride;
  d.dilation[0] = d.dilation[1] = 1;
  for (auto &p : d.pads) p = 1;
  d.wbits = 8;
  d.weights = pr.w.data();
  d.abits = 8;
  d.in_zero_point = 3;
  d.mult = pr.mult.data();
  d.offset = pr.offset.data();
  d.act_min = 0.0f;
  d.act_max = 6.0f;
  d.out = ZSQ_QOUT_CODES;
  d.qmult = pr.qmult.data();
  d.qoffset = pr.qoffset.data();
  d.qmin = 0;
  d.qmax = 255;
  d.isa = isa;
  zsq_err err{};
  zsq_qdwconv *op = nullptr;
  if (zsq_qdwconv_create(&d, &op, &err) != ZSQ_OK) {
    state.SkipWithError(err.msg);
    return;
  }
  std::vector<uint8_t> out(OutDim(l.h, l.stride) * OutDim(l.w, l.stride) * l.c);
  std::vector<uint8_t> scratch(zsq_qdwconv_scratch_size(op, 1, l.h, l.w, 1));
  for (auto _ : state) {
    const double t0 = ThreadSeconds();
    zsq_qdwconv_run(op, 1, l.h, l.w, pr.in.data(), nullptr, out.data(), scratch.data(), nullptr,
                    &err);
    benchmark::DoNotOptimize(out.data());
    state.SetIterationTime(ThreadSeconds() - t0);
  }
  state.SetLabel(zsq_qdwconv_kernel_name(op));
  zsq_qdwconv_destroy(op);
  Report(state, l);
}

void Xnnpack(benchmark::State &state, Layer l, bool per_channel) {
  const Problem pr(l);
  xnn_operator_t op = nullptr;
  const size_t c = static_cast<size_t>(l.c);
  const uint32_t s = static_cast<uint32_t>(l.stride);
  xnn_status st;
  if (per_channel) {
    st = xnn_create_convolution2d_nhwc_qc8(1, 1, 1, 1, 3, 3, s, s, 1, 1, c, 1, 1, c, c, 3, 0.02f,
                                           pr.scale.data(), pr.w.data(), pr.bias.data(), 0,
                                           6.0f / 255.0f, -128, 127, 0, &op);
  } else {
    std::vector<uint8_t> wu(pr.w.size());
    for (size_t i = 0; i < wu.size(); i++) wu[i] = static_cast<uint8_t>(pr.w[i] + 128);
    st = xnn_create_convolution2d_nhwc_qu8(1, 1, 1, 1, 3, 3, s, s, 1, 1, c, 1, 1, c, c, 3, 0.02f,
                                           128, 1e-3f, wu.data(), pr.bias.data(), 0, 6.0f / 255.0f,
                                           0, 255, 0, &op);
  }
  if (st != xnn_status_success) {
    state.SkipWithError("xnn_create_convolution2d failed");
    return;
  }
  std::vector<uint8_t> out(OutDim(l.h, l.stride) * OutDim(l.w, l.stride) * l.c);
  st = per_channel
           ? xnn_setup_convolution2d_nhwc_qc8(op, 1, l.h, l.w,
                                              reinterpret_cast<const int8_t *>(pr.in.data()),
                                              reinterpret_cast<int8_t *>(out.data()), nullptr)
           : xnn_setup_convolution2d_nhwc_qu8(op, 1, l.h, l.w, pr.in.data(), out.data(), nullptr);
  if (st != xnn_status_success) {
    state.SkipWithError("xnn_setup_convolution2d failed");
    return;
  }
  for (auto _ : state) {
    const double t0 = ThreadSeconds();
    xnn_run_operator(op, nullptr);
    benchmark::DoNotOptimize(out.data());
    state.SetIterationTime(ThreadSeconds() - t0);
  }
  xnn_delete_operator(op);
  Report(state, l);
}

}  // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (xnn_initialize(nullptr) != xnn_status_success) return 1;
  const std::vector<Layer> layers = LoadLayers(ZSQ_SOURCE_DIR "/bench/shapes/mobilenetv2-dw.txt");
  for (const Layer &l : layers) {
    const std::string tag = std::to_string(l.h) + "x" + std::to_string(l.w) + "x" +
                            std::to_string(l.c) + "/s" + std::to_string(l.stride);
    for (const char *isa : {"avx512vnni", "avx2", "scalar"}) {
      const zsq_dwconv_config *cfg = nullptr;
      if (zsq_dwconv_config_for_isa(isa, ZSQ_DWCONV_3X3_REQUANT, &cfg) != ZSQ_OK) continue;
      benchmark::RegisterBenchmark(("zsq_" + std::string(isa) + "/" + tag).c_str(), Zsq, l, isa)
          ->UseManualTime();
    }
    benchmark::RegisterBenchmark(("xnnpack_qu8/" + tag).c_str(), Xnnpack, l, false)
        ->UseManualTime();
    benchmark::RegisterBenchmark(("xnnpack_qc8/" + tag).c_str(), Xnnpack, l, true)->UseManualTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
