// test_mixed_latency.cc — mixed precision under a latency budget: the quantizer with a fake layer
// timer (times proportional to weight bits must choose what the size budget does), and the
// integer runtime's own timer through the public API.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <cmath>
#include <string>
#include <vector>

extern "C" {
#include "io/onnx_import.h"
#include "quant/quant.h"
}
#include "fmnist-images.h"

namespace {

constexpr double kSecondsPerBit = 0x1p-30;  // per weight bit: powers of two keep sums exact
constexpr double kOther = 0x1p-12;          // the steps that are no Conv/Gemm
constexpr int kImages = 8;                  // calibration images: few, for speed

// A fake timer: each layer takes weights · wbits · kSecondsPerBit at the bits it has when prepared.
struct FakeTimer {
  int prepared = 0, timed = 0, instances_timed = 0;
};

zsq_status fake_prepare(void *ctx, const zsq_qresult *r, const zsq_graph *sim, void **instance,
                        zsq_err *) {
  static_cast<FakeTimer *>(ctx)->prepared++;
  auto *t = new std::vector<double>();
  for (int i = 0; i < r->n_layers; i++) {
    const double w = static_cast<double>(zsq_tensor_numel(&sim->tensors[r->layers[i].sim_weight]));
    t->push_back(w * r->layers[i].wbits * kSecondsPerBit);
  }
  *instance = t;
  return ZSQ_OK;
}

zsq_status fake_time(void *ctx, void *const *instances, int n, int n_layers, double *layer_seconds,
                     double *other_seconds, zsq_err *) {
  auto *f = static_cast<FakeTimer *>(ctx);
  f->timed++;
  f->instances_timed += n;
  for (int k = 0; k < n; k++) {
    const auto *t = static_cast<const std::vector<double> *>(instances[k]);
    for (int i = 0; i < n_layers; i++) layer_seconds[k * n_layers + i] = (*t)[i];
    other_seconds[k] = kOther;
  }
  return ZSQ_OK;
}

void fake_release(void *, void *instance) {
  delete static_cast<std::vector<double> *>(instance);
}

class LatencyBudget : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/resnet20.onnx";
    ASSERT_EQ(zsq_onnx_import_file(path.c_str(), &g_, &err_), ZSQ_OK) << err_.msg;
    calib_ = zsqtest::fmnist_images(5000, kImages, nullptr);
    sc_.wbits = sc_.abits = 4;
    sc_.first_last_8bit = 1;
    sc_.act_range = sc_.weight_range = ZSQ_RANGE_MINMAX;  // MSE searches take longer
  }
  void TearDown() override { zsq_graph_free(g_); }
  zsq_status quantize(zsq_qresult *r) {
    zsq_err_clear(&err_);
    return zsq_quantize_graph(g_, &sc_, calib_.data(), kImages, nullptr, r, &err_);
  }
  zsq_graph *g_ = nullptr;
  std::vector<float> calib_;
  zsq_qscheme sc_{};
  zsq_err err_{};
};

int64_t weights_of(const zsq_qresult &r, int i) {
  return zsq_tensor_numel(&r.sim->tensors[r.layers[i].sim_weight]);
}

TEST_F(LatencyBudget, TimesProportionalToBitsChooseWhatTheSizeBudgetDoes) {
  // The sizes of all-3-bit and all-4-bit free layers (the first and last Conv/Gemm at 8).
  std::vector<double> w;
  for (size_t i = 0; i < g_->n_nodes; i++)
    if (g_->nodes[i].op == ZSQ_OP_CONV || g_->nodes[i].op == ZSQ_OP_GEMM)
      w.push_back(static_cast<double>(zsq_tensor_numel(&g_->tensors[g_->nodes[i].inputs[1]])));
  double b3 = 0, b4 = 0;
  for (size_t i = 0; i < w.size(); i++) {
    const bool edge = i == 0 || i + 1 == w.size();
    b3 += w[i] * (edge ? 8 : 3);
    b4 += w[i] * (edge ? 8 : 4);
  }
  const double bits_budget = std::floor((b3 + b4) / 2);

  sc_.budget_bits = bits_budget;
  zsq_qresult by_size{};
  ASSERT_EQ(quantize(&by_size), ZSQ_OK) << err_.msg;
  sc_.budget_bits = 0;
  FakeTimer fake;
  sc_.timer = zsq_layer_timer{&fake, fake_prepare, fake_time, fake_release};
  sc_.budget_seconds = kOther + bits_budget * kSecondsPerBit;
  zsq_qresult by_time{};
  ASSERT_EQ(quantize(&by_time), ZSQ_OK) << err_.msg;

  EXPECT_EQ(fake.prepared, 3) << "8 bits and the two widths offered (4, 3): one graph each";
  EXPECT_EQ(fake.timed, 1) << "all timed together, their runs taking turns";
  EXPECT_EQ(fake.instances_timed, 3);
  ASSERT_EQ(by_time.n_layers, by_size.n_layers);
  int n3 = 0, n4 = 0;
  double predicted = kOther, all_8bit = kOther;
  for (int i = 0; i < by_time.n_layers; i++) {
    const zsq_qlayer &l = by_time.layers[i];
    EXPECT_EQ(l.wbits, by_size.layers[i].wbits) << l.name;
    const double w = static_cast<double>(weights_of(by_time, i));
    EXPECT_EQ(l.seconds, w * l.wbits * kSecondsPerBit) << "its time at its width: " << l.name;
    predicted += l.seconds;
    all_8bit += w * 8 * kSecondsPerBit;
    n3 += l.wbits == 3;
    n4 += l.wbits == 4;
  }
  EXPECT_EQ(by_time.layers[0].wbits, 8);
  EXPECT_EQ(by_time.layers[by_time.n_layers - 1].wbits, 8);
  EXPECT_GT(n3, 0);
  EXPECT_GT(n4, 0);
  EXPECT_EQ(by_time.predicted_s, predicted);
  EXPECT_LE(by_time.predicted_s, sc_.budget_seconds);
  EXPECT_EQ(by_time.fastest_s, kOther + b3 * kSecondsPerBit);
  EXPECT_EQ(by_time.all_8bit_s, all_8bit);
  EXPECT_EQ(by_time.other_s, kOther);
  EXPECT_EQ(by_size.predicted_s, 0.0) << "a size budget measures no time";

  // Just below the fastest choice: refused, in milliseconds.
  sc_.budget_seconds = kOther + (b3 - 1) * kSecondsPerBit;
  zsq_qresult_free(&by_time);
  zsq_qresult_free(&by_size);
  zsq_qresult r{};
  EXPECT_EQ(quantize(&r), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(err_.msg).find("below the fastest choice"), std::string::npos) << err_.msg;
  EXPECT_NE(std::string(err_.msg).find(" ms per image"), std::string::npos) << err_.msg;
}

TEST_F(LatencyBudget, IsRefusedWithoutATimerOrBesideASizeBudget) {
  zsq_qresult r{};
  sc_.budget_seconds = 1.0;
  EXPECT_EQ(quantize(&r), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(err_.msg).find("a way to time"), std::string::npos) << err_.msg;
  FakeTimer fake;
  sc_.timer = zsq_layer_timer{&fake, fake_prepare, fake_time, fake_release};
  sc_.budget_bits = 1e6;
  EXPECT_EQ(quantize(&r), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(err_.msg).find("not both"), std::string::npos) << err_.msg;
  EXPECT_EQ(fake.prepared, 0);
}

TEST(LatencyBudgetRuntime, MeasuresEveryLayerOnTheIntegerRuntimeAndReportsIt) {
  zsq_model *m, *q;
  zsq_model_create(&m);
  zsq_model_create(&q);
  const std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/resnet20.onnx";
  ASSERT_EQ(zsq_model_load_onnx(m, path.c_str()), ZSQ_OK);
  std::vector<int> lab;
  std::vector<float> x = zsqtest::fmnist_images(5000, kImages, &lab);
  zsq_calib *c;
  zsq_calib_create(&c);
  ASSERT_EQ(zsq_calib_set(c, kImages, 1, 28, 28, x.data(), lab.data(), "fmnist", 0), ZSQ_OK);
  zsq_quant_options o{};
  o.wbits = o.abits = 4;
  o.threads = 1;
  o.act_range = o.weight_range = "minmax";
  o.budget_seconds = 10.0;  // every choice fits: the least sensitive one
  ASSERT_EQ(zsq_quantize(m, &o, c, q), ZSQ_OK) << zsq_model_last_error(m);
  zsq_latency_summary s;
  ASSERT_EQ(zsq_model_latency_summary(q, &s), ZSQ_OK);
  EXPECT_EQ(s.budget, 10.0);
  EXPECT_EQ(s.threads, 1);
  EXPECT_GT(s.other, 0.0);
  EXPECT_LE(s.predicted, s.budget);
  EXPECT_LE(s.fastest, s.predicted * (1 + 1e-12)) << "the least time among the choices";
  EXPECT_GT(s.all_8bit, s.other);
  double sum = s.other;
  for (size_t i = 0; i < zsq_model_quant_layer_count(q); i++) {
    zsq_quant_layer l;
    zsq_model_quant_layer(q, i, &l);
    EXPECT_GT(l.seconds, 0.0) << "every layer owns a timed runtime step: " << l.name;
    sum += l.seconds;
  }
  EXPECT_NEAR(sum, s.predicted, 1e-12);
  // Far below anything the runtime can do: refused, naming the fastest choice it measured.
  o.budget_seconds = 1e-9;
  EXPECT_EQ(zsq_quantize(m, &o, c, q), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(zsq_model_last_error(m)).find("below the fastest choice"),
            std::string::npos)
      << zsq_model_last_error(m);
  // A latency budget and a size budget at once are refused.
  o.budget_fraction = 0.5;
  EXPECT_EQ(zsq_quantize(m, &o, c, q), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(zsq_model_last_error(m)).find("give one budget"), std::string::npos);
  zsq_calib_destroy(c);
  zsq_model_destroy(q);
  zsq_model_destroy(m);
}

}  // namespace
