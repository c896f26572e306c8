// test_quant.cc — the quantization simulation: FakeQuant's arithmetic and straight-through
// gradient, grid choices, and the whole pipeline on the ResNet-20 teacher with real calibration
// images (W8A8 must keep the float accuracy; the per-layer report must be complete).
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "onnx_builder.h"
#include "zsq.h"

extern "C" {
#include "float/grad.h"
#include "float/plan.h"
#include "io/onnx_import.h"
#include "quant/quant.h"
#include "quant/ranges.h"
}

using namespace zsqtest;

namespace {

// A graph holding one FakeQuant node (FakeQuant is zsq's own op, so it is added by hand).
struct FqGraph {
  zsq_graph *g = nullptr;
  zsq_err err{};
  FqGraph(float scale, float zp, float qmax, int64_t n) {
    Model m(13);
    m.input("x", {n}).output("y");
    m.node(Node("Identity", {"x"}, {"y"}));
    std::string b = m.bytes();
    EXPECT_EQ(zsq_onnx_import_buffer(b.data(), b.size(), &g, &err), ZSQ_OK);
    zsq_node *nd = &g->nodes[0];
    nd->op = ZSQ_OP_FAKEQUANT;
    nd->a.fq.scale = scale;
    nd->a.fq.inv_scale = 1.0f / scale;
    nd->a.fq.zero_point = zp;
    nd->a.fq.qmin = 0.0f;
    nd->a.fq.qmax = qmax;
  }
  ~FqGraph() { zsq_graph_free(g); }
};

TEST(FakeQuant, RoundsHalfUpClampsAndPassesGradientInsideTheRange) {
  const float s = 0.5f, zp = 3.0f, qmax = 15.0f;
  const std::vector<float> x = {-10.0f, -1.5f, -1.26f, -1.24f, 0.0f,  0.24f,
                                0.26f,  1.0f,  5.9f,   6.1f,   100.0f};
  FqGraph f(s, zp, qmax, static_cast<int64_t>(x.size()));
  zsq_fplan *p = nullptr;
  ASSERT_EQ(zsq_fplan_create(f.g, 1, nullptr, &p, &f.err), ZSQ_OK) << f.err.msg;
  zsq_fgrad *gr = nullptr;
  ASSERT_EQ(zsq_fgrad_create(p, nullptr, 0, &gr, &f.err), ZSQ_OK);
  std::vector<float> y(x.size());
  const void *in[1] = {x.data()};
  void *out[1] = {y.data()};
  zsq_fplan_run(p, in, out);
  zsq_fgrad_zero(gr);
  for (size_t i = 0; i < x.size(); i++) zsq_fgrad_of(gr, f.g->outputs[0])[i] = 1.0f;
  zsq_fgrad_backward(gr);
  const float *g = zsq_fgrad_of(gr, f.g->inputs[0]);
  for (size_t i = 0; i < x.size(); i++) {
    const double q = std::min<double>(qmax, std::max<double>(0.0, std::floor(x[i] / s + zp + 0.5)));
    EXPECT_FLOAT_EQ(y[i], static_cast<float>((q - zp) * s)) << x[i];
    const double t = x[i] / s + zp;
    EXPECT_EQ(g[i], (t >= -0.5 && t < qmax + 0.5) ? 1.0f : 0.0f) << x[i];
  }
  zsq_fgrad_destroy(gr);
  zsq_fplan_destroy(p);
}

TEST(QuantRanges, MseWeightScaleNeverLosesToMinMax) {
  std::mt19937 rng(3);
  std::student_t_distribution<float> heavy(3.0f);
  for (int bits : {2, 3, 4, 8}) {
    std::vector<float> w(300);
    for (auto &v : w) v = heavy(rng);
    auto err = [&](float s) {
      const float qmax = static_cast<float>((1 << (bits - 1)) - 1), qmin = -qmax - 1;
      double e = 0;
      for (float v : w) {
        const float q = std::min(qmax, std::max(qmin, std::round(v / s)));
        e += (v - q * s) * (v - q * s);
      }
      return e;
    };
    const float smm = zsq_weight_scale(w.data(), 300, bits, ZSQ_RANGE_MINMAX);
    const float smse = zsq_weight_scale(w.data(), 300, bits, ZSQ_RANGE_MSE);
    EXPECT_LE(err(smse), err(smm)) << bits << " bits";
    if (bits <= 4) EXPECT_LT(smse, smm) << "heavy tails should be clipped at " << bits << " bits";
  }
}

TEST(QuantRanges, ActivationGridContainsZeroExactly) {
  zsq_hist h;
  zsq_hist_init(&h, -0.7, 3.1);
  std::vector<float> x = {-0.7f, 0.0f, 0.5f, 3.1f, 1.0f};
  zsq_hist_add(&h, x.data(), x.size());
  for (zsq_range_method m : {ZSQ_RANGE_MINMAX, ZSQ_RANGE_PERCENTILE, ZSQ_RANGE_MSE}) {
    float s, zp;
    zsq_act_grid(&h, -0.7, 3.1, 4, m, 99.0f, &s, &zp);
    EXPECT_GT(s, 0.0f);
    EXPECT_EQ(zp, std::round(zp));
    EXPECT_GE(zp, 0.0f);
    EXPECT_LE(zp, 15.0f);
  }
}

std::vector<float> fmnist_images(int64_t first, int64_t n, std::vector<int> *labels) {
  zsq_dataset *d;
  zsq_dataset_create(&d);
  EXPECT_EQ(zsq_dataset_load_idx(d, "/usr/share/datasets/fashion-mnist", ZSQ_SPLIT_TEST), ZSQ_OK);
  std::vector<float> x(static_cast<size_t>(n * 784));
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *px = zsq_dataset_image(d, static_cast<size_t>(first + i));
    for (int k = 0; k < 784; k++)
      x[static_cast<size_t>(i * 784 + k)] = (px[k] / 255.0f - 0.2860f) / 0.3530f;
    if (labels) labels->push_back(zsq_dataset_label(d, static_cast<size_t>(first + i)));
  }
  zsq_dataset_destroy(d);
  return x;
}

int64_t correct(zsq_model *m, const std::vector<float> &x, const std::vector<int> &labels) {
  const int64_t n = static_cast<int64_t>(labels.size());
  zsq_session_options o = {n, nullptr, 2, 1};
  zsq_session *s = nullptr;
  EXPECT_EQ(zsq_session_create(m, &o, &s), ZSQ_OK) << zsq_model_last_error(m);
  std::vector<float> y(static_cast<size_t>(n * 10));
  zsq_session_run(s, x.data(), y.data());
  zsq_session_destroy(s);
  int64_t c = 0;
  for (int64_t i = 0; i < n; i++) {
    int best = 0;
    for (int k = 1; k < 10; k++)
      best = y[static_cast<size_t>(i * 10 + k)] > y[static_cast<size_t>(i * 10 + best)] ? k : best;
    c += best == labels[static_cast<size_t>(i)];
  }
  return c;
}

struct Quantized {
  zsq_model *m = nullptr, *q = nullptr;
  zsq_calib *c = nullptr;
  zsq_status st;
  Quantized(int wbits, int abits, int bias_correction = 0, int adaround_iters = 0) {
    zsq_model_create(&m);
    zsq_model_create(&q);
    zsq_calib_create(&c);
    EXPECT_EQ(
        zsq_model_load_onnx(m, (std::string(ZSQ_SOURCE_DIR) + "/models/resnet20.onnx").c_str()),
        ZSQ_OK);
    std::vector<int> lab;
    std::vector<float> calib =
        fmnist_images(5000, 128, &lab);  // calibration: a slice not evaluated below
    EXPECT_EQ(zsq_calib_set(c, 128, 1, 28, 28, calib.data(), lab.data(), "fmnist", 0), ZSQ_OK);
    zsq_quant_options o{};
    o.wbits = wbits;
    o.abits = abits;
    o.threads = 2;
    o.bias_correction = bias_correction;
    o.adaround_iters = adaround_iters;
    st = zsq_quantize(m, &o, c, q);
  }
  ~Quantized() {
    zsq_calib_destroy(c);
    zsq_model_destroy(q);
    zsq_model_destroy(m);
  }
};

TEST(QuantPipeline, W8A8KeepsTheFloatAccuracyAndReportsEveryLayer) {
  Quantized r(8, 8);
  ASSERT_EQ(r.st, ZSQ_OK) << zsq_model_last_error(r.m);
  std::vector<int> lab;
  std::vector<float> x = fmnist_images(0, 1000, &lab);
  const int64_t f = correct(r.m, x, lab), q = correct(r.q, x, lab);
  EXPECT_GT(f, 880);
  EXPECT_LE(std::llabs(f - q), 3) << "float " << f << " vs W8A8 " << q;
  ASSERT_EQ(zsq_model_quant_layer_count(r.q), 22u);  // 21 convs + fc
  for (size_t i = 0; i < 22; i++) {
    zsq_quant_layer l;
    ASSERT_EQ(zsq_model_quant_layer(r.q, i, &l), ZSQ_OK);
    EXPECT_EQ(l.wbits, 8);
    EXPECT_GT(l.weight_sqnr_db, 35.0) << l.name;
    EXPECT_GT(l.accumulated_sqnr_db, 25.0) << l.name;
    EXPECT_GT(l.in_scale, 0.0f) << l.name;
  }
}

TEST(QuantPipeline, LowBitsCostAccuracyAndFirstLastStayAt8) {
  Quantized r(2, 4);
  ASSERT_EQ(r.st, ZSQ_OK) << zsq_model_last_error(r.m);
  zsq_quant_layer first, mid, last;
  zsq_model_quant_layer(r.q, 0, &first);
  zsq_model_quant_layer(r.q, 5, &mid);
  zsq_model_quant_layer(r.q, 21, &last);
  EXPECT_EQ(first.wbits, 8);
  EXPECT_EQ(last.abits, 8);
  EXPECT_EQ(mid.wbits, 2);
  EXPECT_EQ(mid.abits, 4);
  EXPECT_LT(mid.weight_sqnr_db, 15.0);
  std::vector<int> lab;
  std::vector<float> x = fmnist_images(0, 500, &lab);
  EXPECT_LT(correct(r.q, x, lab), correct(r.m, x, lab));
}

// Learned rounding rescues 2-bit weights, where rounding to nearest collapses the model.
TEST(QuantPipeline, AdaRoundRescuesTwoBitWeights) {
  Quantized nearest(2, 4), learned(2, 4, 0, 80);
  ASSERT_EQ(learned.st, ZSQ_OK) << zsq_model_last_error(learned.m);
  std::vector<int> lab;
  std::vector<float> x = fmnist_images(0, 500, &lab);
  const int64_t a = correct(nearest.q, x, lab), b = correct(learned.q, x, lab);
  EXPECT_GT(b, a + 150) << "nearest " << a << " vs AdaRound " << b << " of 500";
  EXPECT_GT(b, 400);
}

// Empirical bias correction removes the mean output shift that 3-bit rounding leaves behind.
TEST(QuantPipeline, BiasCorrectionHelpsAtThreeBits) {
  Quantized plain(3, 3), corrected(3, 3, 1);
  ASSERT_EQ(plain.st, ZSQ_OK) << zsq_model_last_error(plain.m);
  ASSERT_EQ(corrected.st, ZSQ_OK) << zsq_model_last_error(corrected.m);
  zsq_quant_layer a, b;
  zsq_model_quant_layer(plain.q, 21, &a);
  zsq_model_quant_layer(corrected.q, 21, &b);
  EXPECT_GT(b.accumulated_sqnr_db, a.accumulated_sqnr_db + 1.0);
  std::vector<int> lab;
  std::vector<float> x = fmnist_images(0, 1000, &lab);
  EXPECT_GT(correct(corrected.q, x, lab), correct(plain.q, x, lab));
}

std::vector<float> logits(zsq_model *m, const std::vector<float> &x, int64_t n) {
  zsq_session_options o = {n, nullptr, 1, 1};
  zsq_session *s = nullptr;
  EXPECT_EQ(zsq_session_create(m, &o, &s), ZSQ_OK) << zsq_model_last_error(m);
  std::vector<float> y(static_cast<size_t>(n * 10));
  if (s) zsq_session_run(s, x.data(), y.data());
  zsq_session_destroy(s);
  return y;
}

std::string slurp(const std::string &p) {
  FILE *f = std::fopen(p.c_str(), "rb");
  std::string b;
  if (f == nullptr) return b;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b.append(buf, n);
  std::fclose(f);
  return b;
}

void spit(const std::string &p, const std::string &b) {
  FILE *f = std::fopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}

// Save, load: the same logits bit for bit, the same report; broken files are refused cleanly.
TEST(ZsqFile, RoundTripIsExactAndDamageIsRefused) {
  Quantized r(4, 4);
  ASSERT_EQ(r.st, ZSQ_OK) << zsq_model_last_error(r.m);
  const std::string path = "/tmp/zsq-test-" + std::to_string(getpid()) + ".zsq";
  ASSERT_EQ(zsq_model_save(r.q, path.c_str()), ZSQ_OK) << zsq_model_last_error(r.q);
  EXPECT_NE(zsq_model_save(r.m, path.c_str() + 0), ZSQ_OK) << "a float model is not a .zsq";
  zsq_model *l;
  zsq_model_create(&l);
  ASSERT_EQ(zsq_model_load(l, path.c_str()), ZSQ_OK) << zsq_model_last_error(l);
  EXPECT_TRUE(zsq_model_is_quantized(l));
  EXPECT_STREQ(zsq_model_metadata(l, "zsq.input_std"), "0.3530");
  std::vector<float> x = fmnist_images(0, 16, nullptr);
  const std::vector<float> a = logits(r.q, x, 16), b = logits(l, x, 16);
  for (size_t i = 0; i < a.size(); i++) ASSERT_EQ(a[i], b[i]) << i;
  ASSERT_EQ(zsq_model_quant_layer_count(l), zsq_model_quant_layer_count(r.q));
  zsq_quant_layer la, lb;
  zsq_model_quant_layer(r.q, 3, &la);
  zsq_model_quant_layer(l, 3, &lb);
  EXPECT_STREQ(la.name, lb.name);
  EXPECT_EQ(la.wbits, lb.wbits);
  EXPECT_EQ(la.in_scale, lb.in_scale);
  const std::string good = slurp(path), bad = path + ".bad";
  ASSERT_GT(good.size(), 10000u);
  for (size_t cut :
       {good.size() - 1, good.size() / 2, static_cast<size_t>(70), static_cast<size_t>(9)}) {
    spit(bad, good.substr(0, cut));
    EXPECT_NE(zsq_model_load(l, bad.c_str()), ZSQ_OK) << "truncated at " << cut;
    EXPECT_NE(std::string(zsq_model_last_error(l)), "");
  }
  std::mt19937 rng(9);
  for (int i = 0; i < 200; i++) {
    std::string c = good;
    c[64 + rng() % (c.size() - 64)] ^= static_cast<char>(1 + rng() % 255);
    spit(bad, c);
    EXPECT_EQ(zsq_model_load(l, bad.c_str()), ZSQ_ERR_FORMAT);
  }
  // a header that lies about its counts, with a matching checksum, must still be refused
  std::string lie = good;
  lie[32] = static_cast<char>(0x7f);  // n_tensors
  spit(bad, lie);
  EXPECT_EQ(zsq_model_load(l, bad.c_str()), ZSQ_ERR_FORMAT);
  zsq_model_destroy(l);
  std::remove(path.c_str());
  std::remove(bad.c_str());
}

TEST(QuantPipeline, ImpossibleRequestsAreRefused) {
  Quantized r(5, 8);
  EXPECT_EQ(r.st, ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(zsq_model_last_error(r.m)).find("8, 4, 3 or 2"), std::string::npos);
}

}  // namespace
