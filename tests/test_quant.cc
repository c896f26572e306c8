// test_quant.cc — the quantization simulation: FakeQuant's arithmetic and straight-through
// gradient, grid choices, and the whole pipeline on the ResNet-20 teacher with real calibration
// images (W8A8 must keep the float accuracy; the per-layer report must be complete).
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fmnist-images.h"
#include "onnx_builder.h"
#include "zsq.h"

extern "C" {
#include "api/internal.h"
#include "core/alloc.h"
#include "float/fakequant.h"
#include "float/grad.h"
#include "float/plan.h"
#include "io/onnx_import.h"
#include "quant/quant.h"
#include "quant/ranges.h"
#include "quant/wquant.h"
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

// x (logical dims) -> FakeQuant with per-channel borders a, b (constants) -> y.
struct BorderGraph {
  zsq_graph *g = zsq_graph_new();
  zsq_err err{};
  BorderGraph(const std::vector<int64_t> &dims, float scale, float zp, float qmax,
              const std::vector<float> &a, const std::vector<float> &b) {
    const int x = zsq_graph_add_tensor(g, "x"), ta = zsq_graph_add_tensor(g, "a"),
              tb = zsq_graph_add_tensor(g, "b"), y = zsq_graph_add_tensor(g, "y");
    g->tensors[x].rank = static_cast<int>(dims.size());
    for (size_t i = 0; i < dims.size(); i++) g->tensors[x].dims[i] = dims[i];
    const std::vector<float> *src[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
      zsq_tensor *t = &g->tensors[k ? tb : ta];
      t->is_const = 1;
      t->rank = 1;
      t->dims[0] = static_cast<int64_t>(src[k]->size());
      t->data = zsq_aligned_alloc(src[k]->size() * sizeof(float));
      std::copy(src[k]->begin(), src[k]->end(), static_cast<float *>(t->data));
    }
    zsq_node n{};
    n.name = const_cast<char *>("fq");
    n.op = ZSQ_OP_FAKEQUANT;
    n.n_inputs = 3;
    n.n_outputs = 1;
    n.inputs[0] = x;
    n.inputs[1] = ta;
    n.inputs[2] = tb;
    n.outputs[0] = y;
    n.a.fq = {scale, 1.0f / scale, zp, 0.0f, qmax};
    zsq_graph_add_node(g, &n);
    g->inputs = static_cast<int *>(malloc(sizeof(int)));
    g->outputs = static_cast<int *>(malloc(sizeof(int)));
    g->inputs[0] = x;
    g->outputs[0] = y;
    g->n_inputs = g->n_outputs = 1;
    EXPECT_EQ(zsq_graph_finalize(g, &err), ZSQ_OK) << err.msg;
  }
  ~BorderGraph() { zsq_graph_free(g); }
  float *a() { return static_cast<float *>(g->tensors[1].data); }
  float *b() { return static_cast<float *>(g->tensors[2].data); }
  std::vector<float> run(const std::vector<float> &x) {
    zsq_fplan *p = nullptr;
    EXPECT_EQ(zsq_fplan_create(g, 1, nullptr, &p, &err), ZSQ_OK) << err.msg;
    std::vector<float> y(x.size());
    const void *in[1] = {x.data()};
    void *out[1] = {y.data()};
    if (p) zsq_fplan_run(p, in, out);
    zsq_fplan_destroy(p);
    return y;
  }
};

// The kernel epilogue's arithmetic (docs/kernels.md) per channel of dim 1, on NCHW (stored NHWC)
// and [N, C] tensors; a = 0.5, b = 0 is rounding to nearest; ReLU's 0 stays code 0.
TEST(FakeQuant, BordersComputeTheEpilogueFormulaPerChannel) {
  const float s = 0.25f, zp = 0.0f, qmax = 15.0f;
  const std::vector<float> a = {0.5f, 0.2f, 0.9f}, b = {0.0f, 0.03f, -0.05f};
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.5f, 4.5f);
  for (auto dims : {std::vector<int64_t>{2, 3, 4, 5}, std::vector<int64_t>{7, 3}}) {
    BorderGraph f(dims, s, zp, qmax, a, b);
    int64_t n = 1, inner = 1;
    for (size_t i = 0; i < dims.size(); i++) n *= dims[i];
    for (size_t i = 2; i < dims.size(); i++) inner *= dims[i];
    std::vector<float> x(static_cast<size_t>(n));
    for (auto &v : x) v = u(rng);
    x[0] = 0.0f;
    const std::vector<float> y = f.run(x);
    for (int64_t i = 0; i < n; i++) {
      const size_t c = static_cast<size_t>((i / inner) % 3), k = static_cast<size_t>(i);
      float v = std::fmaf(x[k], (1.0f - b[c]) * (1.0f / s), (1.0f - b[c]) * zp + 1.0f - a[c]);
      v = std::min(qmax, std::max(0.0f, v));
      ASSERT_EQ(y[k], (std::floor(v) - zp) * s) << "element " << i << " channel " << c;
      if (c == 0 && std::fabs(x[k] / s - std::round(x[k] / s)) > 0.01f)
        EXPECT_EQ(y[k], std::min(qmax, std::max(0.0f, std::round(x[k] / s))) * s);
    }
    EXPECT_EQ(y[0], 0.0f);
  }
  // a border that leaves (0, 1] on the code range would move grid values: refused
  BorderGraph bad({1, 3}, s, zp, qmax, {0.5f, 0.5f, 0.5f}, {0.0f, 0.04f, 0.0f});
  zsq_fplan *p = nullptr;
  EXPECT_EQ(zsq_fplan_create(bad.g, 1, nullptr, &p, &bad.err), ZSQ_ERR_FORMAT);
  EXPECT_NE(std::string(bad.err.msg).find("border"), std::string::npos) << bad.err.msg;
}

// The border gradients are straight-through estimates (dy/da = −s, dy/db = −s·t, dy/dx = 1 − b):
// over many values spread evenly inside the code range they equal the finite differences of the
// rounded loss L = Σ r_c·y (each value's rounding flips when the border passes it). The values
// cover v ∈ [1.5, 13.5] evenly: whole cells around the integers, so the count of flips is exact
// for a linear border.
TEST(FakeQuant, BorderGradientsMatchFiniteDifferencesOverSpreadValues) {
  const float s = 0.5f, zp = 2.0f, qmax = 15.0f;
  const int64_t m = 20000;  // values per channel
  const std::vector<float> r = {1.3f, -0.7f};
  const std::vector<float> a = {0.4f, 0.6f}, b = {0.01f, -0.02f};
  BorderGraph f({m, 2}, s, zp, qmax, a, b);
  std::vector<float> x(static_cast<size_t>(2 * m));
  for (int64_t i = 0; i < m; i++) {
    for (int c = 0; c < 2; c++) {  // v spread over [1.5, 13.5], shuffled per channel
      const float v = 1.5f + 12.0f * ((i * 7919 + c * 13) % m + 0.5f) / m;
      const float t = (v - 1.0f + a[c]) / (1.0f - b[c]);
      x[static_cast<size_t>(i * 2 + c)] = (t - zp) * s;
    }
  }
  auto loss = [&]() {
    const std::vector<float> y = f.run(x);
    double l = 0;
    for (size_t i = 0; i < y.size(); i++) l += r[i % 2] * static_cast<double>(y[i]);
    return l;
  };
  zsq_fplan *p = nullptr;
  ASSERT_EQ(zsq_fplan_create(f.g, 1, nullptr, &p, &f.err), ZSQ_OK) << f.err.msg;
  const int wrt[2] = {1, 2};
  zsq_fgrad *gr = nullptr;
  ASSERT_EQ(zsq_fgrad_create(p, wrt, 2, &gr, &f.err), ZSQ_OK) << f.err.msg;
  std::vector<float> y(x.size());
  const void *in[1] = {x.data()};
  void *out[1] = {y.data()};
  zsq_fplan_run(p, in, out);
  zsq_fgrad_zero(gr);
  float *gy = zsq_fgrad_of(gr, f.g->outputs[0]);
  for (size_t i = 0; i < y.size(); i++) gy[i] = r[i % 2];
  zsq_fgrad_backward(gr);
  const float *ga = zsq_fgrad_of(gr, 1), *gb = zsq_fgrad_of(gr, 2), *gx = zsq_fgrad_of(gr, 0);
  for (int c = 0; c < 2; c++) {
    auto fd = [&](float *param, float eps) {
      const float keep = *param;
      *param = keep + eps;
      const double lp = loss();
      *param = keep - eps;
      const double lm = loss();
      *param = keep;
      return (lp - lm) / (2 * eps);
    };
    const double fa = fd(&f.a()[c], 0.05f), fb = fd(&f.b()[c], 0.004f);
    EXPECT_NEAR(fa, ga[c], 0.002 * std::fabs(ga[c])) << "a, channel " << c;
    EXPECT_NEAR(fb, gb[c], 0.002 * std::fabs(gb[c])) << "b, channel " << c;
    double sx = 0;  // every value of the channel shifted together
    for (int64_t i = 0; i < m; i++) sx += gx[i * 2 + c];
    const float eps = 0.05f * s;
    for (int64_t i = 0; i < m; i++) x[static_cast<size_t>(i * 2 + c)] += eps;
    const double lp = loss();
    for (int64_t i = 0; i < m; i++) x[static_cast<size_t>(i * 2 + c)] -= 2 * eps;
    const double lm = loss();
    for (int64_t i = 0; i < m; i++) x[static_cast<size_t>(i * 2 + c)] += eps;
    EXPECT_NEAR((lp - lm) / (2 * eps), sx, 0.002 * std::fabs(sx)) << "x, channel " << c;
    EXPECT_FLOAT_EQ(gx[c], r[c] * (1.0f - f.b()[c]));
  }
  zsq_fgrad_destroy(gr);
  zsq_fplan_destroy(p);
}

// LSQ's step gradient of FakeQuant node 0 of g (input x, per-element border a_i, b_i; nearest is
// a = 0.5, b = 0) against finite differences. The output is piecewise y = s·(q − z) with the code q
// constant between rounding steps, and the straight-through estimate replaces ∂q/∂s by ∂v/∂s, v the
// code before clamping and floor, where v is in [qmin, qmax + 1). The values sit in the middle of
// their bins (fraction of v in [0.3, 0.7]), below, inside and above the grid, so a step change of
// 0.5 % moves no code: the finite difference of L = Σ r·y is Σ r·(q − z), and the estimate must
// equal it plus Σ_inside r·s·∂v/∂s (∂v/∂s by finite differences of v's formula). With QDrop on,
// the dropped elements (y = x) contribute nothing.
void check_step_grad(zsq_graph *g, const std::vector<float> &x, const std::vector<float> &a,
                     const std::vector<float> &b) {
  zsq_err err{};
  zsq_fplan *p = nullptr;
  ASSERT_EQ(zsq_fplan_create(g, 1, nullptr, &p, &err), ZSQ_OK) << err.msg;
  const zsq_node *nd = &g->nodes[0];
  const float s = nd->a.fq.scale, zp = nd->a.fq.zero_point, lo = nd->a.fq.qmin, hi = nd->a.fq.qmax;
  std::vector<float> r(x.size()), y(x.size());
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto &v : r) v = u(rng);
  const void *in[1] = {x.data()};
  void *out[1] = {y.data()};
  auto loss = [&](float step) {
    EXPECT_EQ(zsq_fakequant_set_step(&p->nodes[0], &g->nodes[0], step, p, &err), ZSQ_OK);
    zsq_fplan_run(p, in, out);
    double l = 0;
    for (size_t i = 0; i < y.size(); i++) l += r[i] * static_cast<double>(y[i]);
    return l;
  };
  auto code = [&](size_t i, double step) {  // v, before clamping and floor
    return (1.0 - b[i]) * (x[i] / step + zp) + 1.0 - a[i];
  };
  const double eps = 0.005 * s;
  const double frozen =
      (loss(static_cast<float>(s + eps)) - loss(static_cast<float>(s - eps))) / (2 * eps);
  double through = 0;
  for (size_t i = 0; i < x.size(); i++) {
    const double v = code(i, s);
    if (v >= lo && v < hi + 1.0)
      through += r[i] * s * (code(i, s + eps) - code(i, s - eps)) / (2 * eps);
  }
  loss(s);
  const double ste = zsq_fakequant_step_grad(&p->nodes[0], r.data());
  EXPECT_NEAR(ste, frozen + through, 1e-4 * (std::fabs(frozen) + std::fabs(through)))
      << "frozen codes " << frozen << ", straight-through " << through;
  // dropped elements (they output their input, which is off the grid) add nothing
  zsq_fakequant_set_drop(&p->nodes[0], 0.5f, 3, nullptr);
  zsq_fplan_run(p, in, out);
  std::vector<float> kept(r);
  int dropped = 0;
  for (size_t i = 0; i < x.size(); i++) {
    if (y[i] == x[i]) kept[i] = 0.0f, dropped++;
  }
  EXPECT_GT(dropped, static_cast<int>(x.size() / 4));
  const double with_drop = zsq_fakequant_step_grad(&p->nodes[0], r.data());
  zsq_fakequant_set_drop(&p->nodes[0], 0.0f, 0, nullptr);
  zsq_fplan_run(p, in, out);
  EXPECT_NEAR(with_drop, zsq_fakequant_step_grad(&p->nodes[0], kept.data()), 1e-3);
  zsq_fplan_destroy(p);
}

// Values (or codes v) k + f, k from 3 below the grid to 3 above it, f in [0.3, 0.7].
std::vector<float> mid_bin_codes(size_t n, float qmax, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> k(-3, static_cast<int>(qmax) + 3);
  std::uniform_real_distribution<float> f(0.3f, 0.7f);
  std::vector<float> v(n);
  for (auto &e : v) e = static_cast<float>(k(rng)) + f(rng);
  return v;
}

TEST(FakeQuant, LsqStepGradientIsTheStraightThroughDerivativeOfTheCodes) {
  const float s = 0.25f, zp = 3.0f, qmax = 15.0f;
  const size_t n = 4000;
  std::vector<float> v = mid_bin_codes(n, qmax, 1), x(n);
  for (size_t i = 0; i < n; i++) x[i] = (v[i] - 0.5f - zp) * s;  // nearest: v = x/s + z + 1/2
  FqGraph f(s, zp, qmax, static_cast<int64_t>(n));
  check_step_grad(f.g, x, std::vector<float>(n, 0.5f), std::vector<float>(n, 0.0f));
  // borders: v = (1 − b_c)(x/s + z) + 1 − a_c per channel of [m, 2]
  const std::vector<float> a = {0.4f, 0.6f}, b = {0.01f, -0.02f};
  BorderGraph g({static_cast<int64_t>(n / 2), 2}, s, 0.0f, qmax, a, b);
  std::vector<float> ai(n), bi(n);
  for (size_t i = 0; i < n; i++) {
    ai[i] = a[i % 2], bi[i] = b[i % 2];
    x[i] = (v[i] - 1.0f + ai[i]) / (1.0f - bi[i]) * s;
  }
  check_step_grad(g.g, x, ai, bi);
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
    const float smm = zsq_weight_grid(w.data(), 300, bits, 0, ZSQ_RANGE_MINMAX).scale;
    const float smse = zsq_weight_grid(w.data(), 300, bits, 0, ZSQ_RANGE_MSE).scale;
    EXPECT_LE(err(smse), err(smm)) << bits << " bits";
    if (bits <= 4) EXPECT_LT(smse, smm) << "heavy tails should be clipped at " << bits << " bits";
  }
}

// ptq.md §1 by hand: s = (max(w, 0) − min(w, 0)) / (2^b − 1), z = round(−min/s), code =
// clamp(round(w/s) + z, 0, 2^b − 1), Ŵ = s·(code − z); rows of several shapes, two bit widths.
TEST(QuantRanges, AsymmetricWeightRowsOnHandComputedValues) {
  // 4 bits: s = 3.75/15 = 0.25, z = 3; 2 bits, all >= 0: s = 1/3, z = 0; 2 bits, all <= 0:
  // s = 0.5, z = 3 (the top code); a zero row: s = 1, z = 0.
  const std::vector<float> w4 = {-0.75f, 0.1f, 0.5f, 3.0f}, w4q = {-0.75f, 0.0f, 0.5f, 3.0f};
  std::vector<float> dst(4), scale(1), zero(1);
  zsq_wlayout one = {1, 4, 4, 1};
  zsq_quantize_weight_rows(w4.data(), &one, 4, 1, ZSQ_RANGE_MINMAX, dst.data(), scale.data(),
                           zero.data());
  EXPECT_EQ(scale[0], 0.25f);
  EXPECT_EQ(zero[0], 3.0f);
  for (size_t i = 0; i < 4; i++) EXPECT_EQ(dst[i], w4q[i]) << i;
  // Three rows of 3 stored column-major (estride 3): rows {0.2, 0.4, 1}, {−1.5, −0.3, 0}, {0, 0,
  // 0}.
  const std::vector<float> w = {0.2f, -1.5f, 0.0f, 0.4f, -0.3f, 0.0f, 1.0f, 0.0f, 0.0f};
  const float t = 1.0f / 3.0f;
  const std::vector<float> want = {t, -1.5f, 0.0f, t, -0.5f, 0.0f, 1.0f, 0.0f, 0.0f};
  std::vector<float> q(9), s3(3), z3(3);
  zsq_wlayout cols = {3, 3, 1, 3};
  zsq_quantize_weight_rows(w.data(), &cols, 2, 1, ZSQ_RANGE_MINMAX, q.data(), s3.data(), z3.data());
  EXPECT_FLOAT_EQ(s3[0], t);
  EXPECT_EQ(s3[1], 0.5f);
  EXPECT_EQ(s3[2], 1.0f);
  EXPECT_EQ(z3[0], 0.0f);
  EXPECT_EQ(z3[1], 3.0f);
  EXPECT_EQ(z3[2], 0.0f);
  for (size_t i = 0; i < 9; i++) EXPECT_FLOAT_EQ(q[i], want[i]) << i;
  // 8-bit layers stay symmetric under asym: the same as the symmetric quantizer, zero points 0.
  std::vector<float> a8(4), s8(4);
  zsq_quantize_weight_rows(w4.data(), &one, 8, 1, ZSQ_RANGE_MSE, a8.data(), scale.data(),
                           zero.data());
  zsq_quantize_weight_rows(w4.data(), &one, 8, 0, ZSQ_RANGE_MSE, s8.data(), nullptr, nullptr);
  EXPECT_EQ(a8, s8);
  EXPECT_EQ(zero[0], 0.0f);
  EXPECT_EQ(scale[0], 3.0f / 127.0f);
}

// The MSE search over the clipped asymmetric range never loses to min/max, and clips skewed heavy
// tails; its zero point is an integer code.
TEST(QuantRanges, AsymmetricMseGridNeverLosesToMinMax) {
  std::mt19937 rng(5);
  std::student_t_distribution<float> heavy(3.0f);
  for (int bits : {2, 3, 4}) {
    std::vector<float> w(300);
    for (auto &v : w) v = heavy(rng) + 0.8f;  // skewed: more mass above zero
    auto err = [&](const zsq_wgrid &g) {
      const float qmax = static_cast<float>((1 << bits) - 1);
      double e = 0;
      for (float v : w) {
        const float q = std::min(qmax, std::max(0.0f, std::round(v / g.scale) + g.zero));
        e += (v - (q - g.zero) * g.scale) * (v - (q - g.zero) * g.scale);
      }
      return e;
    };
    const zsq_wgrid mm = zsq_weight_grid(w.data(), 300, bits, 1, ZSQ_RANGE_MINMAX);
    const zsq_wgrid mse = zsq_weight_grid(w.data(), 300, bits, 1, ZSQ_RANGE_MSE);
    EXPECT_EQ(mm.qmin, 0.0f);
    EXPECT_EQ(mm.qmax, static_cast<float>((1 << bits) - 1));
    for (const zsq_wgrid &g : {mm, mse}) {
      EXPECT_EQ(g.zero, std::round(g.zero));
      EXPECT_GE(g.zero, 0.0f);
      EXPECT_LE(g.zero, g.qmax);
    }
    EXPECT_LE(err(mse), err(mm)) << bits << " bits";
    EXPECT_LT(mse.scale, mm.scale) << "heavy tails should be clipped at " << bits << " bits";
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

using zsqtest::fmnist_images;

int64_t correct(zsq_model *m, const std::vector<float> &x, const std::vector<int> &labels) {
  const int64_t n = static_cast<int64_t>(labels.size());
  zsq_session_options o = {n, nullptr, 2, 1, 0, nullptr};
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
  Quantized(int wbits, int abits, int bias_correction = 0, int recon_iters = 0,
            const char *recon = "adaround", float qdrop = 0.0f, const char *border = nullptr,
            uint64_t seed = 0, const char *weight_scheme = nullptr) {
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
    o.recon = recon_iters > 0 ? recon : nullptr;
    o.recon_iters = recon_iters;
    o.qdrop = qdrop;
    o.border = border;
    o.seed = seed;
    o.weight_scheme = weight_scheme;
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
  zsq_quant_layer first, second, mid, last;
  zsq_model_quant_layer(r.q, 0, &first);
  zsq_model_quant_layer(r.q, 1, &second);
  zsq_model_quant_layer(r.q, 5, &mid);
  zsq_model_quant_layer(r.q, 21, &last);
  EXPECT_EQ(first.wbits, 8);
  EXPECT_EQ(second.wbits, 2);
  EXPECT_EQ(second.abits, 8);  // it reads the first layer's output, kept at 8 bits (BRECQ)
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
  zsq_session_options o = {n, nullptr, 1, 1, 0, nullptr};
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
  EXPECT_EQ(good[8], 1) << "symmetric models stay .zsq version 1";
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

// FNV-1a of everything after the 64-byte header (docs/file-format.md), for files edited on purpose.
void reseal(std::string &b) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 64; i < b.size(); i++) h = (h ^ static_cast<uint8_t>(b[i])) * 0x100000001b3ULL;
  std::memcpy(&b[24], &h, 8);
}

template <typename T>
T field(const std::string &b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// Asymmetric W2A4: saved as version 2 with zero points, loaded bit for bit with the same report;
// a zero point or a code outside [0, 3], or zero-point codes in a version-1 file, are refused.
TEST(ZsqFile, ZeroPointsRoundTripAndHostileValuesAreRefused) {
  Quantized r(2, 4, 0, 0, "adaround", 0.0f, nullptr, 0, "asym");
  ASSERT_EQ(r.st, ZSQ_OK) << zsq_model_last_error(r.m);
  const std::string path = "/tmp/zsq-test-asym-" + std::to_string(getpid()) + ".zsq";
  ASSERT_EQ(zsq_model_save(r.q, path.c_str()), ZSQ_OK) << zsq_model_last_error(r.q);
  zsq_model *l;
  zsq_model_create(&l);
  ASSERT_EQ(zsq_model_load(l, path.c_str()), ZSQ_OK) << zsq_model_last_error(l);
  std::vector<float> x = fmnist_images(0, 16, nullptr);
  const std::vector<float> a = logits(r.q, x, 16), b = logits(l, x, 16);
  for (size_t i = 0; i < a.size(); i++) ASSERT_EQ(a[i], b[i]) << i;
  int asym = 0;
  for (size_t i = 0; i < zsq_model_quant_layer_count(l); i++) {
    zsq_quant_layer la, lb;
    zsq_model_quant_layer(r.q, i, &la);
    zsq_model_quant_layer(l, i, &lb);
    EXPECT_EQ(la.weight_asym, la.wbits < 8) << la.name;
    EXPECT_EQ(lb.weight_asym, la.weight_asym) << la.name;
    EXPECT_EQ(lb.wzero_min, la.wzero_min) << la.name;
    EXPECT_EQ(lb.wzero_max, la.wzero_max) << la.name;
    EXPECT_LE(0, lb.wzero_min);
    EXPECT_LE(lb.wzero_min, lb.wzero_max);
    EXPECT_LE(lb.wzero_max, 3);
    asym += lb.weight_asym;
  }
  EXPECT_EQ(asym, 20);  // 22 layers, first and last at 8 bits
  const std::string good = slurp(path), bad = path + ".bad";
  EXPECT_EQ(good[8], 2) << "zero points need .zsq version 2";
  // The first record of kind 4 (codes with zero points): its zero points and codes in the data.
  const uint64_t tensors = field<uint64_t>(good, 64 + 16), data = field<uint64_t>(good, 64 + 96);
  size_t rec = 0;
  for (uint32_t i = 0; i < field<uint32_t>(good, 32) && rec == 0; i++) {
    const size_t at = tensors + 128 * i;
    if (field<uint32_t>(good, at + 4) == 4 && field<uint32_t>(good, at + 12) == 2) rec = at;
  }
  ASSERT_NE(rec, 0u);
  const size_t zero_at = data + field<uint64_t>(good, rec + 120);
  const size_t code_at = data + field<uint64_t>(good, rec + 80);
  auto refused = [&](size_t at, char value, const char *why) {
    std::string c = good;
    c[at] = value;
    reseal(c);
    spit(bad, c);
    EXPECT_EQ(zsq_model_load(l, bad.c_str()), ZSQ_ERR_FORMAT) << why;
    EXPECT_NE(std::string(zsq_model_last_error(l)).find(why), std::string::npos)
        << zsq_model_last_error(l);
  };
  refused(zero_at, 4, "zero point is out of range");
  refused(code_at, 0x07, "code is out of range");  // low nibble 7 > 3
  refused(code_at, 0x50, "code is out of range");  // high nibble 5 > 3
  refused(8, 1, "unknown tensor kind");            // version 1 has no zero points
  zsq_model_destroy(l);
  std::remove(path.c_str());
  std::remove(bad.c_str());
}

TEST(QuantPipeline, ImpossibleRequestsAreRefused) {
  Quantized r(5, 8), bc(4, 4, ZSQ_BIAS_CORRECTION_ANALYTIC + 1),
      scheme(4, 4, 0, 0, "adaround", 0.0f, nullptr, 0, "zero");
  EXPECT_EQ(scheme.st, ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(zsq_model_last_error(scheme.m)).find("sym or asym"), std::string::npos);
  EXPECT_EQ(r.st, ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(zsq_model_last_error(r.m)).find("8, 4, 3 or 2"), std::string::npos);
  EXPECT_EQ(bc.st, ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(zsq_model_last_error(bc.m)).find("empirical (1) or analytic (2)"),
            std::string::npos);
}

}  // namespace
