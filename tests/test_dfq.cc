// test_dfq.cc — DFQ's data-free tools: the clipped-normal mean against a numerical integral,
// cross-layer equalisation (the float function kept, the ranges equalised) on both teachers, and
// analytic bias correction on a model whose BN statistics are exact.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gaussian.h"
#include "fmnist-images.h"
#include "onnx_builder.h"

extern "C" {
#include "float/plan.h"
#include "graph/passes.h"
#include "io/onnx_import.h"
#include "quant/dfq.h"
#include "quant/quant.h"
}

using namespace zsqtest;

namespace {

// ∫ clamp(z, lo, hi) N(z; m, s²) dz by Simpson's rule over m ± 12 s.
double clamped_mean_integral(double m, double s, double lo, double hi) {
  const int n = 200000;
  const double a = m - 12 * s, h = 24 * s / n;
  double sum = 0;
  for (int i = 0; i <= n; i++) {
    const double z = a + i * h, w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
    const double pdf = std::exp(-0.5 * (z - m) * (z - m) / (s * s)) / (s * std::sqrt(2 * M_PI));
    sum += w * std::min(hi, std::max(lo, z)) * pdf;
  }
  return sum * h / 3;
}

TEST(Dfq, ClampedNormalMeanMatchesANumericalIntegral) {
  const double clamps[3][2] = {{-INFINITY, INFINITY}, {0, INFINITY}, {0, 6}};
  for (const auto &c : clamps) {
    for (double m : {-3.0, -0.5, 0.0, 0.7, 2.5, 5.5, 9.0}) {
      for (double s : {0.05, 0.5, 1.0, 3.0}) {
        EXPECT_NEAR(zsq_clamped_normal_mean(m, s, c[0], c[1]),
                    clamped_mean_integral(m, s, c[0], c[1]), 1e-7)
            << "N(" << m << ", " << s << "²) clamped to [" << c[0] << ", " << c[1] << "]";
      }
    }
  }
  // The ReLU case of ptq.md §8.2: σφ(−μ/σ) + μ(1 − Φ(−μ/σ)).
  EXPECT_NEAR(zsq_clamped_normal_mean(0.0, 1.0, 0, INFINITY), 1 / std::sqrt(2 * M_PI), 1e-12);
  EXPECT_EQ(zsq_clamped_normal_mean(7.0, 0.0, 0, 6), 6.0);  // no spread: the clamped mean
}

// A teacher with BN folded and activations fused, as the quantizer sees it.
zsq_graph *folded_teacher(const char *name, zsq_graph **orig = nullptr) {
  zsq_err err{};
  zsq_graph *g = nullptr;
  const std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/" + name + ".onnx";
  EXPECT_EQ(zsq_onnx_import_file(path.c_str(), &g, &err), ZSQ_OK) << err.msg;
  zsq_graph *f = zsq_graph_clone(g);
  EXPECT_EQ(zsq_graph_fold_batchnorm(f, &err), ZSQ_OK) << err.msg;
  EXPECT_EQ(zsq_graph_fuse_activations(f, &err), ZSQ_OK) << err.msg;
  if (orig)
    *orig = g;
  else
    zsq_graph_free(g);
  return f;
}

// The logits of n 28×28 images (n a multiple of 50), in batches of 50.
std::vector<float> logits(const zsq_graph *g, const std::vector<float> &x, int64_t n) {
  zsq_err err{};
  zsq_fplan *p = nullptr;
  EXPECT_EQ(zsq_fplan_create(g, 50, nullptr, &p, &err), ZSQ_OK) << err.msg;
  std::vector<float> y(static_cast<size_t>(n * 10));
  for (int64_t i = 0; p && i < n; i += 50) {
    const void *in[1] = {&x[static_cast<size_t>(i * 784)]};
    void *out[1] = {&y[static_cast<size_t>(i * 10)]};
    zsq_fplan_run(p, in, out);
  }
  zsq_fplan_destroy(p);
  return y;
}

std::vector<zsq_cle_pair> pairs_of(const zsq_graph *g) {
  zsq_err err{};
  zsq_cle_pair *p = nullptr;
  int n = 0;
  EXPECT_EQ(zsq_cle_pairs(g, &p, &n, &err), ZSQ_OK);
  std::vector<zsq_cle_pair> v(p, p + n);
  free(p);
  return v;
}

// max over the pairs and channels of |r1_i / r2_i − 1|.
double range_mismatch(const zsq_graph *g, const std::vector<zsq_cle_pair> &pairs) {
  double worst = 0;
  for (const auto &p : pairs) {
    const int64_t c = g->tensors[g->nodes[p.first].inputs[1]].dims[0];
    std::vector<float> r1(static_cast<size_t>(c)), r2(static_cast<size_t>(c));
    zsq_cle_ranges(g, &p, r1.data(), r2.data());
    for (int64_t i = 0; i < c; i++) worst = std::max(worst, std::fabs(r1[i] / r2[i] - 1.0));
  }
  return worst;
}

double max_abs_diff(const std::vector<float> &a, const std::vector<float> &b, double *scale) {
  double d = 0;
  *scale = 0;
  for (size_t i = 0; i < a.size(); i++) {
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
    *scale = std::max(*scale, static_cast<double>(std::fabs(a[i])));
  }
  return d;
}

// ResNet-20: the pairs are each block's conv1 → ReLU → conv2 (conv2 feeds the Add); equalising
// them leaves the logits as they were and makes every pair's two ranges equal.
TEST(Dfq, CleKeepsResNet20AndEqualisesEveryPair) {
  zsq_graph *ref = folded_teacher("resnet20"), *g = zsq_graph_clone(ref);
  const std::vector<zsq_cle_pair> pairs = pairs_of(g);
  ASSERT_EQ(pairs.size(), 9u);
  EXPECT_GT(range_mismatch(g, pairs), 0.5);  // far from equal before
  zsq_err err{};
  int sweeps = 0;
  ASSERT_EQ(zsq_cle(g, nullptr, 100, &sweeps, &err), ZSQ_OK) << err.msg;
  EXPECT_LE(sweeps, 2);  // disjoint pairs: one sweep equalises, the second finds nothing to do
  EXPECT_LT(range_mismatch(g, pairs), 1e-5);
  std::vector<float> x = fmnist_images(0, 100, nullptr);
  double scale;
  const double d = max_abs_diff(logits(ref, x, 100), logits(g, x, 100), &scale);
  EXPECT_LT(d, 1e-5 * scale) << "max |Δlogit| " << d << " of " << scale;
  zsq_graph_free(ref);
  zsq_graph_free(g);
}

int64_t correct(const std::vector<float> &y, const std::vector<int> &lab) {
  int64_t c = 0;
  for (size_t i = 0; i < lab.size(); i++) {
    const float *r = &y[i * 10];
    c += std::max_element(r, r + 10) - r == lab[i];
  }
  return c;
}

// MobileNetV2: expand → ReLU6 → depthwise → ReLU6 → project chains. Equalisation turns those
// ReLU6 into ReLU and is otherwise exact (against the same graph with only the ReLU6 replaced);
// the chains converge to equal ranges. The cost of dropping ReLU6 is measured and bounded.
TEST(Dfq, CleOnMobileNetV2IsExactUpToTheReluSixAndConverges) {
  zsq_graph *folded = folded_teacher("mobilenetv2"), *relu = zsq_graph_clone(folded),
            *g = zsq_graph_clone(folded);
  const std::vector<zsq_cle_pair> pairs = pairs_of(g);
  ASSERT_EQ(pairs.size(), 13u);  // block 1: dw → project; blocks 2-7: expand → dw → project
  int depthwise = 0;
  for (const auto &p : pairs) {
    depthwise += g->nodes[p.second].a.conv.group > 1;
    relu->nodes[p.first].act_max = INFINITY;
  }
  EXPECT_EQ(depthwise, 6);
  zsq_err err{};
  int sweeps = 0;
  ASSERT_EQ(zsq_cle(g, nullptr, 100, &sweeps, &err), ZSQ_OK) << err.msg;
  EXPECT_GT(sweeps, 2);
  EXPECT_LT(sweeps, 100);
  EXPECT_LT(range_mismatch(g, pairs), 1e-3);
  std::vector<int> lab;
  std::vector<float> x = fmnist_images(0, 1000, &lab);
  const std::vector<float> y_relu = logits(relu, x, 1000), y_cle = logits(g, x, 1000);
  double scale;
  const double d = max_abs_diff(y_relu, y_cle, &scale);
  EXPECT_LT(d, 1e-4 * scale) << "max |Δlogit| " << d << " of " << scale;
  const int64_t a = correct(logits(folded, x, 1000), lab), b = correct(y_cle, lab);
  std::printf("mobilenetv2 float top-1 on 1000 test images: ReLU6 %lld, after CLE (ReLU) %lld\n",
              static_cast<long long>(a), static_cast<long long>(b));
  EXPECT_GE(b, a - 10);
  zsq_graph_free(folded);
  zsq_graph_free(relu);
  zsq_graph_free(g);
}

// Per layer of the teacher: 1 when analytic bias correction takes E[x] from BN statistics.
std::vector<int> input_means_from_bn(const char *name) {
  zsq_graph *orig = nullptr;
  zsq_graph_free(folded_teacher(name, &orig));
  zsq_qscheme sc{};
  sc.wbits = sc.abits = 8;
  sc.act_range = sc.weight_range = ZSQ_RANGE_MINMAX;
  std::vector<float> x = fmnist_images(100, 8, nullptr);
  zsq_qresult r{};
  zsq_err err{};
  std::vector<int> from_bn;
  EXPECT_EQ(zsq_quantize_graph(orig, &sc, x.data(), 8, nullptr, &r, &err), ZSQ_OK) << err.msg;
  zsq_bn_stats *st = nullptr;
  EXPECT_EQ(zsq_bn_stats_collect(orig, r.folded, &st, &err), ZSQ_OK);
  from_bn.resize(static_cast<size_t>(r.n_layers));
  EXPECT_EQ(zsq_bias_correct_analytic(&r, st, x.data(), 8, nullptr, from_bn.data(), &err), ZSQ_OK);
  zsq_bn_stats_free(st, r.folded->n_tensors);
  zsq_qresult_free(&r);
  zsq_graph_free(orig);
  return from_bn;
}

// ResNet-20: block 1's first conv (after the stem) and every block's second conv; the others
// read an Add's output or the image. MobileNetV2: all but the stem and the four layers after an
// Add; the classifier's input is GAP(ReLU6(BN(conv))).
TEST(Dfq, InputMeansComeFromBnStatisticsAfterEveryFoldedConv) {
  const std::vector<int> r = input_means_from_bn("resnet20"),
                         m = input_means_from_bn("mobilenetv2");
  ASSERT_EQ(r.size(), 22u);
  EXPECT_EQ(std::count(r.begin(), r.end(), 1), 10);
  EXPECT_EQ(r[0], 0);  // the stem reads the image
  EXPECT_EQ(r[1], 1);  // block 1 conv1 reads the stem's BN + ReLU
  ASSERT_EQ(m.size(), 23u);
  EXPECT_EQ(std::count(m.begin(), m.end(), 1), 18);
  EXPECT_EQ(m[22], 1);
}

// x (4×8×8, N(0,1) pixels) → conv1 → BN1 → ReLU → conv2 → BN2 → y, no padding. BN1's mean and
// variance are those conv1's output really has on such images (each output is a Gaussian with
// variance Σw²), so after folding conv1's output is exactly N(β, γ²) per channel.
std::string exact_bn_model() {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  std::uniform_real_distribution<float> ud(0.5f, 1.5f), bd(-1.0f, 1.0f);
  std::vector<float> w1(8 * 4 * 9), w2(8 * 8 * 9), var1(8, 0.0f);
  for (auto &v : w1) v = nd(rng);
  for (auto &v : w2) v = nd(rng);
  for (size_t o = 0; o < 8; o++)
    for (size_t k = 0; k < 36; k++) var1[o] += w1[o * 36 + k] * w1[o * 36 + k];
  std::vector<float> gamma(8), beta(8), zeros(8, 0.0f), ones(8, 1.0f);
  for (auto &v : gamma) v = ud(rng);
  for (auto &v : beta) v = bd(rng);
  Model m(13);
  m.input("x", {-1, 4, 8, 8}).output("y");
  m.init(tensor("w1", {8, 4, 3, 3}, w1)).init(tensor("w2", {8, 8, 3, 3}, w2));
  m.init(tensor("g1", {8}, gamma)).init(tensor("b1", {8}, beta)).init(tensor("m1", {8}, zeros));
  m.init(tensor("v1", {8}, var1)).init(tensor("one", {8}, ones)).init(tensor("zero", {8}, zeros));
  m.node(Node("Conv", {"x", "w1"}, {"c1"}, "conv1"));
  m.node(Node("BatchNormalization", {"c1", "g1", "b1", "m1", "v1"}, {"n1"}, "bn1")
             .attr_f("epsilon", 0.0f));
  m.node(Node("Relu", {"n1"}, {"r1"}, "relu1"));
  m.node(Node("Conv", {"r1", "w2"}, {"c2"}, "conv2"));
  m.node(Node("BatchNormalization", {"c2", "one", "zero", "zero", "one"}, {"y"}, "bn2")
             .attr_f("epsilon", 0.0f));
  return m.bytes();
}

std::vector<float> gaussian_images(int64_t n, unsigned seed) {
  return gaussian_vector(static_cast<size_t>(n * 256), seed);
}

// RMS over channels of the per-channel mean of (float − quantized) conv2 output on images x.
double mean_shift(const zsq_qresult &r, const std::vector<float> &x, int64_t n) {
  zsq_err err{};
  zsq_fplan *pf = nullptr, *ps = nullptr;
  EXPECT_EQ(zsq_fplan_create(r.folded, n, nullptr, &pf, &err), ZSQ_OK) << err.msg;
  EXPECT_EQ(zsq_fplan_create(r.sim, n, nullptr, &ps, &err), ZSQ_OK) << err.msg;
  if (!pf || !ps) return NAN;
  zsq_value_from_logical(zsq_fplan_value(pf, r.folded->inputs[0]), x.data());
  zsq_value_from_logical(zsq_fplan_value(ps, r.sim->inputs[0]), x.data());
  zsq_fplan_forward(pf);
  zsq_fplan_forward(ps);
  const int t = r.folded->nodes[r.layers[1].node].outputs[0];
  const zsq_value *a = zsq_fplan_value(pf, t), *b = zsq_fplan_value(ps, t);
  const float *u = static_cast<const float *>(a->data), *v = static_cast<const float *>(b->data);
  std::vector<double> m(8, 0.0);
  for (size_t i = 0; i < a->numel; i++) m[i % 8] += static_cast<double>(u[i]) - v[i];  // NHWC
  double s = 0;
  for (double c : m) s += (c / (a->numel / 8)) * (c / (a->numel / 8));
  zsq_fplan_destroy(pf);
  zsq_fplan_destroy(ps);
  return std::sqrt(s / 8);
}

TEST(Dfq, AnalyticBiasCorrectionRemovesTheMeanOutputShift) {
  const std::string b = exact_bn_model();
  zsq_err err{};
  zsq_graph *g = nullptr;
  ASSERT_EQ(zsq_onnx_import_buffer(b.data(), b.size(), &g, &err), ZSQ_OK) << err.msg;
  const std::vector<float> calib = gaussian_images(16, 1), test = gaussian_images(512, 2);
  double shift[2];
  for (int bc = 0; bc < 2; bc++) {
    zsq_qscheme sc{};
    sc.wbits = 3;
    sc.abits = 8;
    sc.act_range = sc.weight_range = ZSQ_RANGE_MSE;
    sc.bias_correction = bc ? ZSQ_BIAS_CORRECTION_ANALYTIC : ZSQ_BIAS_CORRECTION_NONE;
    zsq_qresult r{};
    ASSERT_EQ(zsq_quantize_graph(g, &sc, calib.data(), 16, nullptr, &r, &err), ZSQ_OK) << err.msg;
    ASSERT_EQ(r.n_layers, 2);
    shift[bc] = mean_shift(r, test, 512);
    zsq_qresult_free(&r);
  }
  EXPECT_LT(shift[1], 0.3 * shift[0]) << "mean output shift " << shift[0] << " → " << shift[1];
  zsq_graph_free(g);
}

}  // namespace
