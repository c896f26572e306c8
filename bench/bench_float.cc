// bench_float.cc — float-inference throughput of the Fashion-MNIST teachers (models/*.onnx).
//
// For each model × batch {1, 64} × threads {1, 2}: one session (BatchNorm folded, activations
// fused) is created outside the timed loop and fed real normalised Fashion-MNIST test images;
// each iteration is one zsq_session_run. Reported: items_per_second (images/s, wall clock) and
// GFLOPS (2 · MACs/image · images/s, MACs summed over zsq_model_layer). See BENCHMARKS.md.
//
//   build/bench/bench_float            # default: 5 repetitions of >= 0.5 s, aggregates only
//   build/bench/bench_float --benchmark_filter=resnet20/batch:1/
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "zsq.h"

namespace {

const char kDataDir[] = "/usr/share/datasets/fashion-mnist";
const char *const kModels[] = {"resnet20", "mobilenetv2"};

// A loaded teacher (or why it could not be loaded), shared by all its benchmarks.
struct Teacher {
  zsq_model *model = nullptr;
  float mean = 0.0f, std = 1.0f;
  int64_t macs = 0;       // per image
  int64_t image_len = 0;  // C*H*W floats per image
  std::string error;      // non-empty: skip with this message
  ~Teacher() { zsq_model_destroy(model); }
};

// The Fashion-MNIST test split, loaded once.
const zsq_dataset *test_set(std::string *error) {
  static zsq_dataset *d = nullptr;
  static std::string load_error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    if (zsq_dataset_create(&d) != ZSQ_OK) {
      load_error = "zsq_dataset_create failed";
    } else if (zsq_dataset_load_idx(d, kDataDir, ZSQ_SPLIT_TEST) != ZSQ_OK) {
      load_error = std::string("cannot load Fashion-MNIST from ") + kDataDir + ": " +
                   zsq_dataset_last_error(d);
    }
    if (!load_error.empty()) {
      zsq_dataset_destroy(d);
      d = nullptr;
    } else {
      std::atexit([] { zsq_dataset_destroy(d); });
    }
  }
  *error = load_error;
  return d;
}

const Teacher &teacher(const std::string &name) {
  static std::map<std::string, std::unique_ptr<Teacher>> cache;
  std::unique_ptr<Teacher> &slot = cache[name];
  if (slot) return *slot;
  slot.reset(new Teacher);
  Teacher &t = *slot;
  const std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/" + name + ".onnx";
  if (zsq_model_create(&t.model) != ZSQ_OK) {
    t.error = "zsq_model_create failed";
    return t;
  }
  if (zsq_model_load_onnx(t.model, path.c_str()) != ZSQ_OK) {
    t.error = "cannot load " + path + " (" + zsq_model_last_error(t.model) +
              "); train it with tools/train_teacher.py --arch " + name;
    return t;
  }
  const char *ms = zsq_model_metadata(t.model, "zsq.input_mean");
  const char *ss = zsq_model_metadata(t.model, "zsq.input_std");
  if (ms == nullptr || ss == nullptr) {
    t.error = path + " lacks zsq.input_mean / zsq.input_std metadata";
    return t;
  }
  t.mean = std::strtof(ms, nullptr);
  t.std = std::strtof(ss, nullptr);
  int64_t dims[4];
  if (zsq_model_input_shape(t.model, dims) != ZSQ_OK) {
    t.error = std::string("zsq_model_input_shape: ") + zsq_model_last_error(t.model);
    return t;
  }
  t.image_len = dims[1] * dims[2] * dims[3];
  for (size_t i = 0; i < zsq_model_layer_count(t.model); i++) {
    zsq_layer_info li;
    if (zsq_model_layer(t.model, i, &li) == ZSQ_OK) t.macs += li.macs;
  }
  return t;
}

// One session per (model, batch, threads), created before the timed loop.
void BM_Float(benchmark::State &state, const std::string &name) {
  const int64_t batch = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const Teacher &t = teacher(name);
  if (!t.error.empty()) {
    state.SkipWithError(t.error.c_str());
    return;
  }
  std::string error;
  const zsq_dataset *d = test_set(&error);
  if (d == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  int c, h, w;
  zsq_dataset_geometry(d, &c, &h, &w);
  if (static_cast<int64_t>(c) * h * w != t.image_len ||
      zsq_dataset_count(d) < static_cast<size_t>(batch)) {
    state.SkipWithError("the dataset does not match the model input");
    return;
  }
  std::vector<float> x(static_cast<size_t>(batch * t.image_len));
  std::vector<float> y(static_cast<size_t>(batch * zsq_model_output_size(t.model)));
  for (int64_t i = 0; i < batch; i++) {
    const uint8_t *px = zsq_dataset_image(d, static_cast<size_t>(i));
    for (int64_t k = 0; k < t.image_len; k++)
      x[i * t.image_len + k] = (px[k] / 255.0f - t.mean) / t.std;
  }

  zsq_session_options opt = {batch, nullptr, threads, 1, 0, nullptr};
  zsq_session *s = nullptr;
  if (zsq_session_create(t.model, &opt, &s) != ZSQ_OK) {
    state.SkipWithError(
        (std::string("zsq_session_create: ") + zsq_model_last_error(t.model)).c_str());
    return;
  }
  if (zsq_session_run(s, x.data(), y.data()) != ZSQ_OK) {  // warm-up, and a status check
    state.SkipWithError((std::string("zsq_session_run: ") + zsq_session_last_error(s)).c_str());
    zsq_session_destroy(s);
    return;
  }
  for (auto _ : state) {
    zsq_session_run(s, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  zsq_session_destroy(s);

  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * static_cast<double>(t.macs * batch),
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MMAC/img"] = static_cast<double>(t.macs) * 1e-6;
}

// Missing model or data: one row that says why, instead of a row per repetition.
void BM_Skipped(benchmark::State &state, const std::string &why) {
  state.SkipWithError(why.c_str());
}

}  // namespace

int main(int argc, char **argv) {
  // Defaults that the command line may override (Google Benchmark keeps the last value of a
  // flag): 5 repetitions of >= 0.5 s each, only mean/median/stddev/cv printed.
  std::vector<char *> args(argv, argv + argc);
  char min_time[] = "--benchmark_min_time=0.5", reps[] = "--benchmark_repetitions=5",
       aggr[] = "--benchmark_report_aggregates_only=true";
  args.insert(args.begin() + 1, {min_time, reps, aggr});
  int n_args = static_cast<int>(args.size());
  benchmark::Initialize(&n_args, args.data());
  if (benchmark::ReportUnrecognizedArguments(n_args, args.data())) return 1;

  std::string data_error;
  test_set(&data_error);
  for (const char *name : kModels) {
    const std::string bench = std::string("BM_Float/") + name;
    const std::string &why = data_error.empty() ? teacher(name).error : data_error;
    if (!why.empty()) {
      benchmark::RegisterBenchmark(bench.c_str(), BM_Skipped, why)->Repetitions(1);
      continue;
    }
    // Wall-clock time for every case (the threaded ones need it; the 1-thread ones use it too
    // so that all rows compare with tools/bench_torch.py, which times wall clock).
    benchmark::RegisterBenchmark(bench.c_str(), BM_Float, std::string(name))
        ->ArgNames({"batch", "threads"})
        ->ArgsProduct({{1, 64}, {1, 2}})
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  benchmark::AddCustomContext("zsq_version", zsq_version());
  benchmark::AddCustomContext("zsq_cpu_isa", zsq_cpu_isa());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
