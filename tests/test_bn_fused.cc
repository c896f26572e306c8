// test_bn_fused.cc — the fused synthesis passes against their unfused composition: statistics
// recorded by BatchNorm's forward, an affine gradient term joined to BatchNorm's backward, and the
// batch BN losses built on both (zsq_bn_fused_term against zsq_bn_loss_batch).
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "onnx_builder.h"

extern "C" {
#include "float/chstats.h"
#include "float/grad.h"
#include "float/plan.h"
#include "graph/passes.h"
#include "io/onnx_import.h"
#include "synth/bn_fused.h"
}

using namespace zsqtest;

namespace {

constexpr int64_t kN = 3, kC = 5, kH = 9, kW = 7;  // 189 rows: a partial last 64-row block

std::vector<float> uniform(size_t n, std::mt19937 &rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto &x : v) x = u(rng);
  return v;
}

// x -> Conv 3x3 (4 -> kC) -> t -> BatchNorm (+ a fused Relu when relu) -> y, or with bn = false
// a Relu in the BatchNorm's place (an operator that cannot take the affine term).
struct Net {
  zsq_graph *g = nullptr;
  zsq_err err{};
  int t = -1;
  pthreadpool_t tp = pthreadpool_create(2);

  Net(bool bn, bool relu, std::mt19937 &rng) {
    Model m(13);
    m.input("x", {kN, 4, kH, kW}).output("y");
    m.init(tensor("w", {kC, 4, 3, 3}, uniform(kC * 4 * 9, rng)));
    m.node(Node("Conv", {"x", "w"}, {"t"}).attr_ints("pads", {1, 1, 1, 1}));
    if (bn) {
      m.init(tensor("s", {kC}, uniform(kC, rng, 0.5f, 2.0f)));
      m.init(tensor("b", {kC}, uniform(kC, rng)));
      m.init(tensor("m", {kC}, uniform(kC, rng)));
      m.init(tensor("v", {kC}, uniform(kC, rng, 0.5f, 2.0f)));
      m.node(Node("BatchNormalization", {"t", "s", "b", "m", "v"}, {relu ? "u" : "y"}));
    }
    if (relu || !bn) m.node(Node("Relu", {bn ? "u" : "t"}, {"y"}));
    const std::string bytes = m.bytes();
    zsq_err_clear(&err);
    EXPECT_EQ(zsq_onnx_import_buffer(bytes.data(), bytes.size(), &g, &err), ZSQ_OK) << err.msg;
    EXPECT_EQ(zsq_graph_fuse_activations(g, &err), ZSQ_OK) << err.msg;
    t = zsq_graph_find(g, "t");
  }
  ~Net() {
    zsq_graph_free(g);
    pthreadpool_destroy(tp);
  }
};

// Plans the net, runs it on x and returns the plan with gradients ready for a loss.
struct Planned {
  zsq_fplan *p = nullptr;
  zsq_fgrad *gr = nullptr;
  Planned(Net &net, const std::vector<float> &x, zsq_chstats *record = nullptr) {
    EXPECT_EQ(zsq_fplan_create(net.g, kN, net.tp, &p, &net.err), ZSQ_OK) << net.err.msg;
    EXPECT_EQ(zsq_fgrad_create(p, nullptr, 0, &gr, &net.err), ZSQ_OK) << net.err.msg;
    if (record != nullptr) EXPECT_EQ(zsq_fplan_record_stats(p, net.t, record), 1);
    const void *in[1] = {x.data()};
    void *out[1] = {nullptr};
    zsq_fplan_run(p, in, out);
    zsq_fgrad_zero(gr);
  }
  ~Planned() {
    zsq_fgrad_destroy(gr);
    zsq_fplan_destroy(p);
  }
  const zsq_value *value(int t) { return zsq_fplan_value(p, t); }
};

// The gradient of x after an output gradient r (unless empty) and the term a + b·t on t: fused
// (zsq_fgrad_add_affine) or by hand before backward (the unfused composition).
std::vector<float> grad_x(Net &net, const std::vector<float> &x, const std::vector<float> &r,
                          const std::vector<float> &ab, bool fused, std::vector<float> *gt) {
  Planned run(net, x);
  const zsq_value *y = run.value(net.g->outputs[0]), *tv = run.value(net.t);
  if (!r.empty()) zsq_layout_add_logical(y, zsq_fgrad_of(run.gr, net.g->outputs[0]), r.data());
  if (fused) {
    EXPECT_EQ(zsq_fgrad_add_affine(run.gr, net.t, ab.data(), ab.data() + kC, &net.err), ZSQ_OK);
  } else {
    float *g = zsq_fgrad_of(run.gr, net.t);
    const float *tx = static_cast<const float *>(tv->data);
    for (size_t i = 0; i < tv->numel; i++) g[i] += ab[i % kC] + ab[kC + i % kC] * tx[i];
  }
  zsq_fgrad_backward(run.gr);
  gt->assign(zsq_fgrad_of(run.gr, net.t), zsq_fgrad_of(run.gr, net.t) + tv->numel);
  const zsq_value *xv = run.value(net.g->inputs[0]);
  std::vector<float> gx(xv->numel);
  zsq_layout_to_logical(xv, zsq_fgrad_of(run.gr, net.g->inputs[0]), gx.data());
  return gx;
}

TEST(FusedBn, ForwardRecordsTheStatisticsOfItsInput) {
  std::mt19937 rng(1);
  Net net(true, true, rng);
  const std::vector<float> x = uniform(kN * 4 * kH * kW, rng);
  zsq_chstats rec{}, ref{};
  ASSERT_TRUE(zsq_chstats_init(&rec, kN * kH * kW, kC));
  ASSERT_TRUE(zsq_chstats_init(&ref, kN * kH * kW, kC));
  Planned fused(net, x, &rec), plain(net, x);
  const zsq_value *t = fused.value(net.t);
  zsq_chstats_compute(&ref, static_cast<const float *>(t->data), nullptr);
  const size_t n = static_cast<size_t>(ref.blocks * kC) * sizeof(float);
  EXPECT_EQ(std::memcmp(rec.sum, ref.sum, n), 0);
  EXPECT_EQ(std::memcmp(rec.m2, ref.m2, n), 0);
  const zsq_value *y1 = fused.value(net.g->outputs[0]), *y2 = plain.value(net.g->outputs[0]);
  EXPECT_EQ(std::memcmp(y1->data, y2->data, y1->numel * sizeof(float)), 0);
  // and the statistics are the mean and std of t, computed here in double
  double mean[kC], sd[kC];
  zsq_chstats_result(&rec, mean, sd);
  const float *tx = static_cast<const float *>(t->data);
  for (int64_t c = 0; c < kC; c++) {
    double s = 0, s2 = 0;
    for (int64_t r = 0; r < rec.rows; r++) s += tx[r * kC + c];
    for (int64_t r = 0; r < rec.rows; r++) s2 += std::pow(tx[r * kC + c] - s / rec.rows, 2);
    EXPECT_NEAR(mean[c], s / rec.rows, 1e-6);
    EXPECT_NEAR(sd[c], std::sqrt(s2 / rec.rows), 1e-6);
  }
  zsq_chstats_free(&rec);
  zsq_chstats_free(&ref);
}

// BatchNorm with and without a clamp fuses the term; Relu (no fusion) gets a pass of its own; an
// absent output gradient leaves the term to reach x alone. All equal the composition bit for bit.
TEST(FusedBn, AffineGradientEqualsTheUnfusedComposition) {
  std::mt19937 rng(2);
  const std::vector<float> ab = uniform(2 * kC, rng);
  for (int variant = 0; variant < 4; variant++) {
    Net net(variant != 2, variant == 1, rng);
    const std::vector<float> x = uniform(kN * 4 * kH * kW, rng);
    std::vector<float> r = variant == 3 ? std::vector<float>() : uniform(kN * kC * kH * kW, rng);
    std::vector<float> gt1, gt2;
    const std::vector<float> g1 = grad_x(net, x, r, ab, true, &gt1);
    const std::vector<float> g2 = grad_x(net, x, r, ab, false, &gt2);
    ASSERT_EQ(g1.size(), g2.size());
    EXPECT_EQ(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(float)), 0) << variant;
    EXPECT_EQ(std::memcmp(gt1.data(), gt2.data(), gt1.size() * sizeof(float)), 0) << variant;
    double mag = 0;
    for (float v : g1) mag += std::fabs(v);
    EXPECT_GT(mag, 1e-3) << variant;
  }
}

// The fused gradient is the derivative of Σ y·r + Σ a_c t + b_c t²/2 (central differences in x).
TEST(FusedBn, AffineGradientMatchesFiniteDifferences) {
  std::mt19937 rng(3);
  Net net(true, false, rng);
  const std::vector<float> ab = uniform(2 * kC, rng), r = uniform(kN * kC * kH * kW, rng);
  std::vector<float> x = uniform(kN * 4 * kH * kW, rng), gt;
  const std::vector<float> g = grad_x(net, x, r, ab, true, &gt);
  auto loss = [&] {
    Planned run(net, x);
    std::vector<float> y(run.value(net.g->outputs[0])->numel);
    zsq_value_to_logical(run.value(net.g->outputs[0]), y.data());
    const zsq_value *tv = run.value(net.t);
    const float *tx = static_cast<const float *>(tv->data);
    double l = 0;
    for (size_t i = 0; i < y.size(); i++) l += static_cast<double>(y[i]) * r[i];
    for (size_t i = 0; i < tv->numel; i++)
      l += ab[i % kC] * tx[i] + 0.5 * ab[kC + i % kC] * tx[i] * tx[i];
    return l;
  };
  const float eps = 1e-2f;
  for (size_t e = 0; e < x.size(); e += 37) {
    const float keep = x[e];
    x[e] = keep + eps;
    const double lp = loss();
    x[e] = keep - eps;
    const double lm = loss();
    x[e] = keep;
    EXPECT_NEAR((lp - lm) / (2 * eps), g[e], 2e-3 + 2e-3 * std::fabs(g[e])) << e;
  }
}

// zsq_bn_fused_term (recorded statistics, deferred gradient) against zsq_bn_loss_batch on t.
TEST(FusedBn, BatchTermEqualsTheUnfusedLoss) {
  std::mt19937 rng(4);
  Net net(true, true, rng);
  const std::vector<float> x = uniform(kN * 4 * kH * kW, rng);
  zsq_bn_hook h{};
  std::vector<float> mean = uniform(kC, rng), var = uniform(kC, rng, 0.5f, 2.0f);
  ASSERT_TRUE(zsq_bn_hook_set(&h, net.t, kC, mean.data(), var.data(), "t"));
  for (int on_std = 0; on_std < 2; on_std++) {
    Planned run(net, x);
    zsq_bn_fused f;
    ASSERT_TRUE(zsq_bn_fused_init(&f, run.p, &h, 1));
    EXPECT_EQ(f.recorded[0], 1);
    zsq_fplan_forward(run.p);  // records the statistics
    const double l1 = zsq_bn_fused_term(&f, run.p, run.gr, &h, 0, on_std, 0.5f);
    const float *g1 = zsq_fgrad_of(run.gr, net.t);
    const zsq_value *tv = run.value(net.t);
    std::vector<float> g2(tv->numel, 0.0f);
    const float *tx = static_cast<const float *>(tv->data);
    const double l2 = on_std ? zsq_bn_loss_batch_std(&h, tx, kN, kH * kW, 0.5f, net.tp, g2.data())
                             : zsq_bn_loss_batch(&h, tx, kN, kH * kW, 0.5f, net.tp, g2.data());
    EXPECT_EQ(l1, l2);
    EXPECT_EQ(std::memcmp(g1, g2.data(), g2.size() * sizeof(float)), 0) << on_std;
    zsq_bn_fused_free(&f);
  }
  free(h.mean);
  free(h.std);
  free(h.var);
}

}  // namespace
