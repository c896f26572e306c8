// test_recon_dc.cc — PD-Quant's distribution correction (quant/recon_dc.h) on a tiny residual
// model with BatchNorm: the loss on the folded graph against PD-Quant's on the BN inputs of the
// unfolded one, its gradient against finite differences, and what the correction does.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gaussian.h"
#include "onnx_builder.h"

extern "C" {
#include "float/plan.h"
#include "io/onnx_import.h"
#include "quant/blocks.h"
#include "quant/dfq.h"
#include "quant/quant.h"
#include "quant/recon_dc.h"
}

using namespace zsqtest;

namespace {

// Stem conv → BN → Relu, a residual block (conv → BN → Relu → conv → BN, Add, Relu), global pool
// and a classifier; 3×8×8 inputs; BN statistics that noise images do not have (γ of both signs).
std::string bn_resnet() {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.3f, 2.0f), bd(-1.0f, 1.0f);
  auto rnd = [&](const std::string &name, const std::vector<int64_t> &dims, float sd) {
    int64_t n = 1;
    for (auto d : dims) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto &x : v) x = sd * nd(rng);
    return tensor(name, dims, v);
  };
  auto vec = [&](const std::string &name, std::uniform_real_distribution<float> &d, bool sign) {
    std::vector<float> v(8);
    for (size_t i = 0; i < 8; i++) v[i] = d(rng) * (sign && i % 3 == 1 ? -1.0f : 1.0f);
    return tensor(name, {8}, v);
  };
  Model m(13);
  m.input("x", {-1, 3, 8, 8}).output("y");
  m.init(rnd("w0", {8, 3, 3, 3}, 0.4f)).init(rnd("w1", {8, 8, 3, 3}, 0.2f));
  m.init(rnd("w2", {8, 8, 3, 3}, 0.2f)).init(rnd("fc", {10, 8}, 0.5f));
  m.init(tensor("fcb", {10}, std::vector<float>(10, 0.0f)));
  for (int k = 0; k < 3; k++) {
    const std::string s = std::to_string(k);
    m.init(vec("g" + s, ud, true)).init(vec("b" + s, bd, false)).init(vec("m" + s, bd, false));
    m.init(vec("v" + s, ud, false));
  }
  auto conv_bn = [&](const std::string &in, int k) {
    const std::string s = std::to_string(k);
    m.node(Node("Conv", {in, "w" + s}, {"c" + s}, "conv" + s).attr_ints("pads", {1, 1, 1, 1}));
    m.node(Node("BatchNormalization", {"c" + s, "g" + s, "b" + s, "m" + s, "v" + s}, {"n" + s},
                "bn" + s));
  };
  conv_bn("x", 0);
  m.node(Node("Relu", {"n0"}, {"r0"}, "relu0"));
  conv_bn("r0", 1);
  m.node(Node("Relu", {"n1"}, {"r1"}, "relu1"));
  conv_bn("r1", 2);
  m.node(Node("Add", {"n2", "r0"}, {"s"}, "add")).node(Node("Relu", {"s"}, {"r2"}, "relu2"));
  m.node(Node("GlobalAveragePool", {"r2"}, {"p"})).node(Node("Flatten", {"p"}, {"f"}));
  m.node(Node("Gemm", {"f", "fc", "fcb"}, {"y"}, "gemm").attr_i("transB", 1));
  return m.bytes();
}

std::vector<float> noise(int64_t n, unsigned seed) {
  return gaussian_vector(static_cast<size_t>(n * 192), seed);
}

// The model, its folding (through the quantizer, no reconstruction), BN statistics and units.
struct Fixture {
  zsq_graph *g = nullptr;
  zsq_qresult r{};
  zsq_err err{};
  zsq_bn_stats *stats = nullptr;
  zsq_block *b = nullptr;
  int nb = 0;
  explicit Fixture(const std::vector<float> &calib) {
    const std::string m = bn_resnet();
    EXPECT_EQ(zsq_onnx_import_buffer(m.data(), m.size(), &g, &err), ZSQ_OK) << err.msg;
    zsq_qscheme sc{};
    sc.wbits = sc.abits = 8;
    EXPECT_EQ(zsq_quantize_graph(g, &sc, calib.data(), static_cast<int64_t>(calib.size() / 192),
                                 nullptr, &r, &err),
              ZSQ_OK)
        << err.msg;
    EXPECT_EQ(zsq_bn_stats_collect(g, r.folded, &stats, &err), ZSQ_OK) << err.msg;
    EXPECT_EQ(zsq_blocks(&r, 0, &b, &nb, &err), ZSQ_OK) << err.msg;
  }
  ~Fixture() {
    free(b);
    zsq_bn_stats_free(stats, r.folded ? r.folded->n_tensors : 0);
    zsq_qresult_free(&r);
    zsq_graph_free(g);
  }
  // Tensor t of graph h (logical) on images x.
  std::vector<float> value(const zsq_graph *h, int t, const std::vector<float> &x) {
    zsq_fplan *p = nullptr;
    EXPECT_EQ(zsq_fplan_create(h, static_cast<int64_t>(x.size() / 192), nullptr, &p, &err), ZSQ_OK);
    if (p == nullptr) return {};
    zsq_value_from_logical(zsq_fplan_value(p, h->inputs[0]), x.data());
    zsq_fplan_forward(p);
    std::vector<float> v(zsq_fplan_value(p, t)->numel);
    zsq_value_to_logical(zsq_fplan_value(p, t), v.data());
    zsq_fplan_destroy(p);
    return v;
  }
  // The DC of unit u for mb images shaped like its input.
  zsq_status dc_init(zsq_dc *dc, int u, int64_t mb, float lamb_c) {
    zsq_fplan *p = nullptr;
    EXPECT_EQ(zsq_fplan_create(r.folded, mb, nullptr, &p, &err), ZSQ_OK) << err.msg;
    const zsq_status st = zsq_dc_init(dc, r.folded, stats, &b[u], zsq_fplan_value(p, b[u].entry),
                                      mb, lamb_c, nullptr, &err);
    zsq_fplan_destroy(p);
    return st;
  }
};

// PD-Quant's statistics term computed directly on BN inputs (logical NCHW, n images): per image
// and channel (μ − mean_HW)² + (sqrt(var + 1e-6) − sqrt(unbiased var_HW + 1e-6))², over n.
double bn_input_term(const std::vector<float> &x, int64_t n, const float *mu, const float *var) {
  const int64_t c = 8, hw = static_cast<int64_t>(x.size()) / (n * c);
  double loss = 0;
  for (int64_t i = 0; i < n * c; i++) {
    double m = 0, v = 0;
    for (int64_t p = 0; p < hw; p++) m += x[i * hw + p];
    m /= hw;
    for (int64_t p = 0; p < hw; p++) v += (x[i * hw + p] - m) * (x[i * hw + p] - m);
    const double sd = std::sqrt(v / (hw - 1) + 1e-6), want = std::sqrt(var[i % c] + 1e-6);
    loss += (mu[i % c] - m) * (mu[i % c] - m) + (want - sd) * (want - sd);
  }
  return loss / n;
}

const float *constant(const zsq_graph *g, const char *name) {
  return static_cast<const float *>(g->tensors[zsq_graph_find(g, name)].data);
}

// The loss on the folded pre-activations equals PD-Quant's on the BN inputs of the unfolded
// model (the mapping x − μ = ±(σ/|γ|)·(y − β), with σ = sqrt(var + ε) and ε = 1e-5 against
// PD-Quant's 1e-6 inside the target std), for the stem (BN 0) and the residual block (BNs 1, 2);
// the head has no BN; after cross-layer equalisation too.
TEST(QuantReconDc, LossEqualsPdQuantsOnTheUnfoldedBnInputs) {
  const std::vector<float> x = noise(4, 1);
  Fixture f(x);
  ASSERT_EQ(f.nb, 3);
  double bn = 0;
  zsq_dc dc{};
  ASSERT_EQ(f.dc_init(&dc, 0, 4, 0.02f), ZSQ_OK) << f.err.msg;
  EXPECT_EQ(dc.n_bn, 1);
  const double stem = zsq_dc_loss(&dc, x.data(), x.data(), &bn);
  EXPECT_EQ(stem, bn);  // x = x0: no distance term
  const auto term = [&](int k) {
    const std::string s = std::to_string(k);
    const zsq_graph *g = f.g;
    return bn_input_term(f.value(g, zsq_graph_find(g, ("c" + s).c_str()), x), 4,
                         constant(g, ("m" + s).c_str()), constant(g, ("v" + s).c_str()));
  };
  EXPECT_NEAR(stem, term(0), 1e-4 * stem);
  zsq_dc_free(&dc);
  ASSERT_EQ(f.dc_init(&dc, 1, 4, 0.02f), ZSQ_OK) << f.err.msg;
  EXPECT_EQ(dc.n_bn, 2);
  const std::vector<float> r0 = f.value(f.r.folded, f.b[1].entry, x);
  const double block = zsq_dc_loss(&dc, r0.data(), r0.data(), nullptr);
  EXPECT_NEAR(block, term(1) + term(2), 1e-4 * block);
  zsq_dc_free(&dc);
  ASSERT_EQ(f.dc_init(&dc, 2, 4, 0.02f), ZSQ_OK) << f.err.msg;
  EXPECT_EQ(dc.n_bn, 0);
  zsq_dc_free(&dc);
  // cross-layer equalisation rescales the block's conv1 → conv2 pair and the statistics with it:
  // the loss (on BN inputs that do not change) stays the same
  int sweeps = 0;
  ASSERT_EQ(zsq_cle(f.r.folded, f.stats, 100, &sweeps, &f.err), ZSQ_OK) << f.err.msg;
  ASSERT_GE(sweeps, 1);
  ASSERT_EQ(f.dc_init(&dc, 1, 4, 0.02f), ZSQ_OK) << f.err.msg;
  EXPECT_NEAR(zsq_dc_loss(&dc, r0.data(), r0.data(), nullptr), block, 1e-4 * block);
  zsq_dc_free(&dc);
}

// dLoss/dx of the residual block's DC loss (both BN terms and the distance to x0) against
// central differences along random directions and on single elements; a difference across the
// kink of the Relu between the two convs (a sign change of the first BN's pre-activation) is
// not smooth and is skipped.
TEST(QuantReconDc, GradientMatchesFiniteDifferences) {
  const std::vector<float> x0 = noise(2, 2);
  Fixture f(x0);
  ASSERT_EQ(f.nb, 3);
  zsq_dc dc{};
  ASSERT_EQ(f.dc_init(&dc, 1, 2, 0.05f), ZSQ_OK) << f.err.msg;
  ASSERT_EQ(dc.n_bn, 2);
  std::vector<float> r0 = f.value(f.r.folded, f.b[1].entry, x0), x = r0;
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (auto &v : x) v += 0.3f * d(rng);
  zsq_dc_loss(&dc, x.data(), r0.data(), nullptr);
  const std::vector<float> g(dc.gx, dc.gx + x.size());
  const zsq_value *pre = zsq_fplan_value(dc.p, dc.bn[0].t);  // before the Relu
  const auto fd = [&](const std::vector<float> &dir, float eps) {
    std::vector<float> xp = x, xm = x;
    for (size_t i = 0; i < x.size(); i++) xp[i] += eps * dir[i], xm[i] -= eps * dir[i];
    const double up = zsq_dc_loss(&dc, xp.data(), r0.data(), nullptr);
    const std::vector<float> side(static_cast<const float *>(pre->data),
                                  static_cast<const float *>(pre->data) + pre->numel);
    const double down = zsq_dc_loss(&dc, xm.data(), r0.data(), nullptr);
    for (size_t i = 0; i < side.size(); i++) {
      if ((side[i] > 0) != (static_cast<const float *>(pre->data)[i] > 0)) return double(NAN);
    }
    return (up - down) / (2.0 * eps);
  };
  int checked = 0;
  for (int k = 0; k < 40 && checked < 4; k++) {
    std::vector<float> dir(x.size());
    double gv = 0;
    for (size_t i = 0; i < x.size(); i++) dir[i] = d(rng), gv += g[i] * dir[i];
    const double want = fd(dir, 1e-3f);
    if (std::isnan(want)) continue;
    EXPECT_NEAR(gv, want, 0.005 * std::fabs(want) + 2e-3) << "direction " << k;
    checked++;
  }
  EXPECT_EQ(checked, 4);
  for (size_t i = 5; i < x.size(); i += 61) {
    std::vector<float> dir(x.size(), 0.0f);
    dir[i] = 1.0f;
    const double want = fd(dir, 1e-2f);
    if (!std::isnan(want))
      EXPECT_NEAR(g[i], want, 0.01 * std::fabs(g[i]) + 2e-3) << "element " << i;
  }
  zsq_dc_free(&dc);
}

// The correction (PD-Quant's 500 steps at lr 1e-3) lowers the BN-statistics distance inside the
// block, and the float output it returns is the unit's output on the corrected input.
TEST(QuantReconDc, CorrectionLowersTheBnStatisticsDistance) {
  const std::vector<float> x0 = noise(8, 4);
  Fixture f(x0);
  ASSERT_EQ(f.nb, 3);
  zsq_dc dc{};
  ASSERT_EQ(f.dc_init(&dc, 1, 4, 0.02f), ZSQ_OK) << f.err.msg;
  const std::vector<float> r0 = f.value(f.r.folded, f.b[1].entry, x0);
  std::vector<float> x(r0.size()), y(f.value(f.r.folded, f.b[1].exit, x0).size());
  ASSERT_EQ(zsq_dc_correct(&dc, r0.data(), 8, ZSQ_DC_STEPS, ZSQ_DC_LR, x.data(), y.data(), &f.err),
            ZSQ_OK);
  double before = 0, after = 0;
  for (int half = 0; half < 2; half++) {
    const size_t off = half * r0.size() / 2;
    double b = 0, a = 0;
    zsq_dc_loss(&dc, r0.data() + off, r0.data() + off, &b);
    zsq_dc_loss(&dc, x.data() + off, r0.data() + off, &a);
    before += b, after += a;
  }
  EXPECT_LT(after, 0.75 * before) << "before " << before << " after " << after;  // 0.60 here
  zsq_dc_free(&dc);
  // y is the block's float output on x: the folded model's block from its entry
  zsq_block whole = f.b[1];
  zsq_graph *unit = nullptr;
  int *origin = nullptr;
  const int64_t dims[4] = {8, 8, 8, 8};
  ASSERT_EQ(zsq_block_graph(f.r.folded, &whole, dims, 4, &unit, &origin, &f.err), ZSQ_OK);
  std::vector<float> want(y.size());
  zsq_fplan *p = nullptr;
  ASSERT_EQ(zsq_fplan_create(unit, 8, nullptr, &p, &f.err), ZSQ_OK);
  zsq_value_from_logical(zsq_fplan_value(p, unit->inputs[0]), x.data());
  zsq_fplan_forward(p);
  zsq_value_to_logical(zsq_fplan_value(p, unit->outputs[0]), want.data());
  for (size_t i = 0; i < y.size(); i++) ASSERT_NEAR(y[i], want[i], 1e-4f) << i;
  zsq_fplan_destroy(p);
  zsq_graph_free(unit);
  free(origin);
}

// ||x − x0||² / lamb_c holds the corrected input: it moves less the smaller lamb_c is (nearly not
// at all at 1e-5), and the statistics distance left grows as it moves less.
TEST(QuantReconDc, CorrectedInputStaysNearTheInputAsLambCShrinks) {
  const std::vector<float> x0 = noise(4, 5);
  Fixture f(x0);
  ASSERT_EQ(f.nb, 3);
  const std::vector<float> r0 = f.value(f.r.folded, f.b[1].entry, x0);
  double norm = 0;
  for (float v : r0) norm += static_cast<double>(v) * v;
  std::vector<double> moved, left;
  for (float lamb : {1e-5f, 1e-3f, 1e-1f, 10.0f}) {
    zsq_dc dc{};
    ASSERT_EQ(f.dc_init(&dc, 1, 4, lamb), ZSQ_OK) << f.err.msg;
    std::vector<float> x(r0.size());
    ASSERT_EQ(zsq_dc_correct(&dc, r0.data(), 4, 300, 1e-2f, x.data(), nullptr, &f.err), ZSQ_OK);
    double dist = 0, bn = 0;
    for (size_t i = 0; i < x.size(); i++) dist += (x[i] - r0[i]) * (x[i] - r0[i]);
    zsq_dc_loss(&dc, x.data(), r0.data(), &bn);
    moved.push_back(dist / norm);
    left.push_back(bn);
    zsq_dc_free(&dc);
  }
  EXPECT_LT(moved[0], 1e-4);
  for (size_t k = 1; k < moved.size(); k++) {
    EXPECT_GT(moved[k], moved[k - 1]) << "lamb_c step " << k;
    EXPECT_LT(left[k], left[k - 1]) << "lamb_c step " << k;
  }
}

// Through the quantizer: the counts of units with the PD term and with corrected inputs, and DC
// changes the learned rounding; without reconstruction it is refused.
TEST(QuantReconDc, QuantizerCountsTheUnitsAndRefusesDcWithoutReconstruction) {
  const std::vector<float> calib = noise(32, 6);
  zsq_graph *g = nullptr;
  zsq_err err{};
  const std::string m = bn_resnet();
  ASSERT_EQ(zsq_onnx_import_buffer(m.data(), m.size(), &g, &err), ZSQ_OK) << err.msg;
  const auto run = [&](zsq_recon_method recon, int dc, zsq_qresult *r) {
    zsq_qscheme sc{};
    sc.wbits = 2, sc.abits = 4, sc.recon = recon, sc.recon_iters = 20, sc.pd_loss = 1;
    sc.pd_dc = dc, sc.pd_dc_lamb = 0.02f, sc.pd_dc_steps = 20;
    return zsq_quantize_graph(g, &sc, calib.data(), 32, nullptr, r, &err);
  };
  zsq_qresult plain{}, dc{}, layers{}, none{};
  ASSERT_EQ(run(ZSQ_RECON_BRECQ, 0, &plain), ZSQ_OK) << err.msg;
  ASSERT_EQ(run(ZSQ_RECON_BRECQ, 1, &dc), ZSQ_OK) << err.msg;
  EXPECT_EQ(plain.recon_units, 3);
  EXPECT_EQ(plain.pd_units, 3);
  EXPECT_EQ(plain.dc_units, 0);
  EXPECT_EQ(dc.dc_units, 2);  // the head has no BN
  bool differ = false;
  for (int l = 0; l < dc.n_layers; l++) {
    const zsq_tensor *a = &plain.sim->tensors[plain.layers[l].sim_weight],
                     *b = &dc.sim->tensors[dc.layers[l].sim_weight];
    const float *u = static_cast<const float *>(a->data), *v = static_cast<const float *>(b->data);
    for (int64_t i = 0; i < zsq_tensor_numel(a); i++) differ |= u[i] != v[i];
  }
  EXPECT_TRUE(differ);
  ASSERT_EQ(run(ZSQ_RECON_ADAROUND, 1, &layers), ZSQ_OK) << err.msg;
  EXPECT_EQ(layers.recon_units, 4);
  EXPECT_EQ(layers.pd_units, 2);  // the stem and the classifier cut the network
  EXPECT_EQ(layers.dc_units, 3);
  EXPECT_EQ(run(ZSQ_RECON_NONE, 1, &none), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(err.msg).find("distribution correction"), std::string::npos) << err.msg;
  zsq_qresult_free(&plain), zsq_qresult_free(&dc), zsq_qresult_free(&layers);
  zsq_graph_free(g);
}

}  // namespace
