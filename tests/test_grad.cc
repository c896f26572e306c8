// test_grad.cc — every float operator's backward pass against central finite differences of
// L = Σ y·r (r random), for inputs and for the weights that reconstruction and generators train.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "onnx_builder.h"

extern "C" {
#include "core/alloc.h"
#include "float/grad.h"
#include "float/plan.h"
#include "float/swing.h"
#include "graph/passes.h"
#include "io/onnx_import.h"
#include "synth/swing.h"
}

using namespace zsqtest;

namespace {

// Values kept at least `gap` away from 0 (the kink of Relu/Clip at 0) with magnitude up to 1.
std::vector<float> away_from_zero(size_t n, std::mt19937 &rng, float gap = 0.05f) {
  std::uniform_real_distribution<float> u(gap, 1.0f);
  std::vector<float> v(n);
  for (auto &x : v) x = (rng() & 1) ? u(rng) : -u(rng);
  return v;
}

std::vector<float> dense(size_t n, std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto &x : v) x = u(rng);
  return v;
}

// Distinct values (MaxPool needs a unique maximum per window, with margin).
std::vector<float> distinct(size_t n, std::mt19937 &rng) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++)
    v[i] = 0.1f * static_cast<float>(i) - 0.05f * static_cast<float>(n);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

struct Checker {
  zsq_graph *g = nullptr;
  std::vector<std::vector<float>> inputs;  // logical order, one per graph input
  std::vector<float> r;                    // logical order, first output
  zsq_err err{};

  explicit Checker(const std::string &bytes) {
    zsq_err_clear(&err);
    EXPECT_EQ(zsq_onnx_import_buffer(bytes.data(), bytes.size(), &g, &err), ZSQ_OK) << err.msg;
  }
  ~Checker() { zsq_graph_free(g); }

  zsq_fplan *plan() {
    zsq_fplan *p = nullptr;
    EXPECT_EQ(zsq_fplan_create(g, 1, nullptr, &p, &err), ZSQ_OK) << err.msg;
    return p;
  }

  double loss() {
    zsq_fplan *p = plan();
    std::vector<const void *> in;
    for (auto &v : inputs) in.push_back(v.data());
    const zsq_value *y = zsq_fplan_value(p, g->outputs[0]);
    std::vector<float> out(y->numel);
    std::vector<void *> outs(g->n_outputs, nullptr);
    outs[0] = out.data();
    zsq_fplan_run(p, in.data(), outs.data());
    double l = 0;
    for (size_t i = 0; i < out.size(); i++) l += static_cast<double>(out[i]) * r[i];
    zsq_fplan_destroy(p);
    return l;
  }

  // Analytic gradients (logical order) of the graph inputs and of the named constants.
  void analytic(const std::vector<std::string> &consts, std::vector<std::vector<float>> *gin,
                std::vector<std::vector<float>> *gconst) {
    zsq_fplan *p = plan();
    std::vector<int> wrt;
    for (auto &c : consts) wrt.push_back(zsq_graph_find(g, c.c_str()));
    zsq_fgrad *gr = nullptr;
    ASSERT_EQ(zsq_fgrad_create(p, wrt.data(), wrt.size(), &gr, &err), ZSQ_OK) << err.msg;
    std::vector<const void *> in;
    for (auto &v : inputs) in.push_back(v.data());
    const zsq_value *y = zsq_fplan_value(p, g->outputs[0]);
    std::vector<float> out(y->numel);
    std::vector<void *> outs(g->n_outputs, nullptr);
    outs[0] = out.data();
    zsq_fplan_run(p, in.data(), outs.data());
    zsq_fgrad_zero(gr);
    zsq_layout_add_logical(y, zsq_fgrad_of(gr, g->outputs[0]), r.data());
    zsq_fgrad_backward(gr);
    for (size_t i = 0; i < g->n_inputs; i++) {
      const zsq_value *v = zsq_fplan_value(p, g->inputs[i]);
      gin->emplace_back(v->numel);
      zsq_layout_to_logical(v, zsq_fgrad_of(gr, g->inputs[i]), gin->back().data());
    }
    for (int t : wrt) {
      const zsq_value *v = zsq_fplan_value(p, t);
      gconst->emplace_back(v->numel);
      zsq_layout_to_logical(v, zsq_fgrad_of(gr, t), gconst->back().data());
    }
    zsq_fgrad_destroy(gr);
    zsq_fplan_destroy(p);
  }

  static void expect_close(double fd, float an, const std::string &what) {
    EXPECT_NEAR(fd, an, 2e-3 + 2e-3 * std::fabs(an)) << what;
  }

  // Checks up to `samples` elements of every input and named constant.
  void check(const std::vector<std::string> &consts = {}, float eps = 1e-2f, size_t samples = 40) {
    std::vector<std::vector<float>> gin, gconst;
    analytic(consts, &gin, &gconst);
    ASSERT_EQ(gin.size(), inputs.size());
    double nonzero = 0;
    for (size_t i = 0; i < inputs.size(); i++) {
      const size_t n = inputs[i].size(), step = std::max<size_t>(1, n / samples);
      for (size_t e = 0; e < n; e += step) {
        const float keep = inputs[i][e];
        inputs[i][e] = keep + eps;
        const double lp = loss();
        inputs[i][e] = keep - eps;
        const double lm = loss();
        inputs[i][e] = keep;
        expect_close((lp - lm) / (2 * eps), gin[i][e],
                     "input " + std::to_string(i) + "[" + std::to_string(e) + "]");
        nonzero += std::fabs(gin[i][e]);
      }
    }
    for (size_t c = 0; c < consts.size(); c++) {
      zsq_tensor *t = &g->tensors[zsq_graph_find(g, consts[c].c_str())];
      float *data = static_cast<float *>(t->data);
      const size_t n = static_cast<size_t>(zsq_tensor_numel(t)),
                   step = std::max<size_t>(1, n / samples);
      for (size_t e = 0; e < n; e += step) {
        const float keep = data[e];
        data[e] = keep + eps;
        const double lp = loss();
        data[e] = keep - eps;
        const double lm = loss();
        data[e] = keep;
        expect_close((lp - lm) / (2 * eps), gconst[c][e],
                     consts[c] + "[" + std::to_string(e) + "]");
        nonzero += std::fabs(gconst[c][e]);
      }
    }
    EXPECT_GT(nonzero, 1e-3) << "every checked gradient is zero: the check would not notice a bug";
  }
};

std::string single(const std::vector<int64_t> &in, const Node &node, int opset = 13,
                   const std::vector<Pb> &inits = {},
                   const std::vector<std::vector<int64_t>> &more = {}) {
  Model m(opset);
  m.input("x", in);
  for (size_t i = 0; i < more.size(); i++) m.input("x" + std::to_string(i + 1), more[i]);
  for (const auto &t : inits) m.init(t);
  m.node(node).output("y");
  return m.bytes();
}

size_t numel(const std::vector<int64_t> &d) {
  size_t n = 1;
  for (auto x : d) n *= static_cast<size_t>(x);
  return n;
}

void set_r(Checker &c, std::mt19937 &rng) {
  zsq_fplan *p = c.plan();
  c.r = dense(zsq_fplan_value(p, c.g->outputs[0])->numel, rng);
  zsq_fplan_destroy(p);
}

TEST(Grad, ConvWithGroupsStridesDilationsPadsAndBias) {
  std::mt19937 rng(1);
  std::vector<int64_t> in = {2, 4, 7, 6};
  Checker c(single(in,
                   Node("Conv", {"x", "w", "b"}, {"y"})
                       .attr_i("group", 2)
                       .attr_ints("strides", {2, 1})
                       .attr_ints("dilations", {1, 2})
                       .attr_ints("pads", {1, 2, 0, 1}),
                   13,
                   {tensor("w", {6, 2, 3, 3}, dense(108, rng)), tensor("b", {6}, dense(6, rng))}));
  c.inputs = {dense(numel(in), rng)};
  set_r(c, rng);
  c.check({"w", "b"});
}

TEST(Grad, DepthwiseConv) {
  std::mt19937 rng(2);
  std::vector<int64_t> in = {1, 3, 5, 5};
  Checker c(
      single(in, Node("Conv", {"x", "w"}, {"y"}).attr_i("group", 3).attr_ints("pads", {1, 1, 1, 1}),
             13, {tensor("w", {3, 1, 3, 3}, dense(27, rng))}));
  c.inputs = {dense(numel(in), rng)};
  set_r(c, rng);
  c.check({"w"});
}

TEST(Grad, BatchNormalization) {
  std::mt19937 rng(3);
  std::vector<int64_t> in = {2, 3, 4, 4};
  Checker c(single(in, Node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}), 13,
                   {tensor("s", {3}, {0.5f, 2.0f, -1.0f}), tensor("b", {3}, {0.1f, 0.2f, 0.3f}),
                    tensor("m", {3}, {0.0f, 0.5f, -0.5f}), tensor("v", {3}, {1.0f, 0.5f, 2.0f})}));
  c.inputs = {dense(numel(in), rng)};
  set_r(c, rng);
  c.check();
}

TEST(Grad, ReluAndClip) {
  std::mt19937 rng(4);
  std::vector<int64_t> in = {2, 3, 4, 4};
  Checker relu(single(in, Node("Relu", {"x"}, {"y"})));
  relu.inputs = {away_from_zero(numel(in), rng)};
  set_r(relu, rng);
  relu.check();
  Checker clip(single(in, Node("Clip", {"x", "lo", "hi"}, {"y"}), 13,
                      {tensor("lo", {}, {-0.5f}), tensor("hi", {}, {0.5f})}));
  clip.inputs = {away_from_zero(numel(in), rng)};
  for (auto &v : clip.inputs[0])
    v = std::fabs(std::fabs(v) - 0.5f) < 0.03f ? v * 0.5f : v;  // away from ±0.5
  set_r(clip, rng);
  clip.check();
}

TEST(Grad, AddAndMulWithBroadcasting) {
  std::mt19937 rng(5);
  for (const char *op : {"Add", "Mul"}) {
    Checker c(single({2, 3, 4, 5}, Node(op, {"x", "x1"}, {"y"}), 13, {}, {{3, 1, 5}}));
    c.inputs = {dense(120, rng), dense(15, rng)};
    set_r(c, rng);
    c.check();
    Checker d(single({4, 5}, Node(op, {"x", "x1"}, {"y"}), 13, {}, {{2, 3, 4, 5}}));
    d.inputs = {dense(20, rng), dense(120, rng)};
    set_r(d, rng);
    d.check();
  }
}

TEST(Grad, Pools) {
  std::mt19937 rng(6);
  std::vector<int64_t> in = {2, 3, 6, 5};
  Checker mx(single(in, Node("MaxPool", {"x"}, {"y"})
                            .attr_ints("kernel_shape", {3, 2})
                            .attr_ints("strides", {2, 2})
                            .attr_ints("pads", {1, 0, 1, 1})));
  mx.inputs = {distinct(numel(in), rng)};
  set_r(mx, rng);
  mx.check({}, 1e-2f, 60);
  for (int cip : {0, 1}) {
    Checker av(single(in, Node("AveragePool", {"x"}, {"y"})
                              .attr_ints("kernel_shape", {3, 3})
                              .attr_ints("pads", {1, 1, 1, 1})
                              .attr_i("count_include_pad", cip)));
    av.inputs = {dense(numel(in), rng)};
    set_r(av, rng);
    av.check();
  }
  Checker gap(single(in, Node("GlobalAveragePool", {"x"}, {"y"})));
  gap.inputs = {dense(numel(in), rng)};
  set_r(gap, rng);
  gap.check();
}

TEST(Grad, GemmAndMatMul) {
  std::mt19937 rng(7);
  Checker gm(single({5, 4},
                    Node("Gemm", {"x", "w", "c"}, {"y"})
                        .attr_i("transB", 1)
                        .attr_f("alpha", 0.7f)
                        .attr_f("beta", 1.3f),
                    13, {tensor("w", {3, 4}, dense(12, rng)), tensor("c", {3}, dense(3, rng))}));
  gm.inputs = {dense(20, rng)};
  set_r(gm, rng);
  gm.check({"w", "c"});
  Checker ta(single({4, 5}, Node("Gemm", {"x", "w"}, {"y"}).attr_i("transA", 1), 13,
                    {tensor("w", {4, 3}, dense(12, rng))}));
  ta.inputs = {dense(20, rng)};
  set_r(ta, rng);
  ta.check({"w"});
  Checker mm(single({2, 1, 3, 4}, Node("MatMul", {"x", "x1"}, {"y"}), 13, {}, {{3, 4, 2}}));
  mm.inputs = {dense(24, rng), dense(24, rng)};
  set_r(mm, rng);
  mm.check();
}

TEST(Grad, ShapeOpsAndSoftmax) {
  std::mt19937 rng(8);
  std::vector<int64_t> in = {2, 3, 2, 4};
  Checker fl(single(in, Node("Flatten", {"x"}, {"y"})));
  fl.inputs = {dense(numel(in), rng)};
  set_r(fl, rng);
  fl.check();
  Checker rs(
      single(in, Node("Reshape", {"x", "s"}, {"y"}), 13, {tensor_i64("s", {4}, {2, 4, 3, 2})}));
  rs.inputs = {dense(numel(in), rng)};
  set_r(rs, rng);
  rs.check();
  Checker cc(
      single(in, Node("Concat", {"x", "x1"}, {"y"}).attr_i("axis", 1), 13, {}, {{2, 2, 2, 4}}));
  cc.inputs = {dense(numel(in), rng), dense(32, rng)};
  set_r(cc, rng);
  cc.check();
  for (int opset : {11, 13}) {
    Checker sm(single(in, Node("Softmax", {"x"}, {"y"}).attr_i("axis", 1), opset));
    sm.inputs = {dense(numel(in), rng)};
    set_r(sm, rng);
    sm.check();
  }
}

// BatchNormalization with a fused Relu (the training graphs of synthesis fuse them).
TEST(Grad, BatchNormWithFusedRelu) {
  std::mt19937 rng(10);
  std::vector<int64_t> in = {2, 3, 4, 4};
  Model m(13);
  m.input("x", in).output("y");
  m.init(tensor("s", {3}, {0.5f, 2.0f, -1.0f})).init(tensor("b", {3}, {0.1f, 0.2f, 0.3f}));
  m.init(tensor("m", {3}, {0.0f, 0.5f, -0.5f})).init(tensor("v", {3}, {1.0f, 0.5f, 2.0f}));
  m.node(Node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"t"}))
      .node(Node("Relu", {"t"}, {"y"}));
  Checker c(m.bytes());
  ASSERT_EQ(zsq_graph_fuse_activations(c.g, &c.err), ZSQ_OK) << c.err.msg;
  ASSERT_EQ(c.g->n_nodes, 1u) << "Relu should be fused into the BatchNormalization";
  // inputs whose BN outputs stay clear of the ReLU kink
  c.inputs = {dense(numel(in), rng)};
  for (size_t i = 0; i < c.inputs[0].size(); i++) {
    const int ch = static_cast<int>(i / 16 % 3);
    const float sc[3] = {0.5f, 2.0f / std::sqrt(0.5f), -1.0f / std::sqrt(2.0f)},
                sh[3] = {0.1f, 0.2f - 0.5f * sc[1], 0.3f + 0.5f * sc[2]};
    float y = c.inputs[0][i] * sc[ch] + sh[ch];
    if (std::fabs(y) < 0.05f) c.inputs[0][i] += 0.2f / sc[ch];
    (void)y;
  }
  set_r(c, rng);
  c.check();
}

// The residual Add with a fused Relu (same shapes: the parallel masked path).
TEST(Grad, AddWithFusedRelu) {
  std::mt19937 rng(13);
  Model m(13);
  m.input("x", {2, 3, 4, 4}).input("x1", {2, 3, 4, 4}).output("y");
  m.node(Node("Add", {"x", "x1"}, {"t"})).node(Node("Relu", {"t"}, {"y"}));
  Checker c(m.bytes());
  ASSERT_EQ(zsq_graph_fuse_activations(c.g, &c.err), ZSQ_OK) << c.err.msg;
  ASSERT_EQ(c.g->n_nodes, 1u);
  c.inputs = {dense(96, rng), dense(96, rng)};
  for (size_t i = 0; i < 96; i++) {
    if (std::fabs(c.inputs[0][i] + c.inputs[1][i]) < 0.05f) c.inputs[1][i] += 0.2f;
  }
  set_r(c, rng);
  c.check();
}

// A value read by two consumers receives the sum of both gradients.
TEST(Grad, FanOutAccumulates) {
  std::mt19937 rng(9);
  Model m(13);
  m.input("x", {1, 2, 3, 3}).output("y");
  m.init(tensor("k", {2, 1, 1}, {0.5f, -2.0f}));
  m.node(Node("Relu", {"x"}, {"r"}))
      .node(Node("Mul", {"x", "k"}, {"s"}))
      .node(Node("Add", {"r", "s"}, {"y"}));
  Checker c(m.bytes());
  c.inputs = {away_from_zero(18, rng)};
  set_r(c, rng);
  c.check();
}

}  // namespace

extern "C" {
#include "float/adam.h"
}

namespace {

// Two steps by hand (double precision), then convergence on a quadratic.
TEST(Adam, MatchesTheFormulaAndConverges) {
  zsq_adam a;
  ASSERT_TRUE(zsq_adam_init(&a, 2, 0.1f));
  float p[2] = {1.0f, -3.0f};
  const float g1[2] = {0.5f, -2.0f}, g2[2] = {0.25f, 1.0f};
  zsq_adam_step(&a, p, g1, nullptr);
  zsq_adam_step(&a, p, g2, nullptr);
  for (int i = 0; i < 2; i++) {
    double m = 0, v = 0, x = i == 0 ? 1.0 : -3.0;
    const double gs[2] = {g1[i], g2[i]};
    for (int t = 1; t <= 2; t++) {
      m = 0.9 * m + 0.1 * gs[t - 1];
      v = 0.999 * v + 0.001 * gs[t - 1] * gs[t - 1];
      x -= 0.1 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
    }
    EXPECT_NEAR(p[i], x, 1e-5) << i;
  }
  zsq_adam_free(&a);
  // minimise (p - 2)^2 from 10
  ASSERT_TRUE(zsq_adam_init(&a, 1, 0.1f));
  float q = 10.0f;
  for (int t = 0; t < 2000; t++) {
    float g = 2.0f * (q - 2.0f);
    zsq_adam_step(&a, &q, &g, nullptr);
  }
  EXPECT_NEAR(q, 2.0f, 1e-2f);
  zsq_adam_free(&a);
}

}  // namespace

extern "C" {
#include "float/conv.h"
#include "float/sgemm.h"
}

namespace {

TEST(Sgemm, AtbMatchesReference) {
  std::mt19937 rng(11);
  for (int64_t M : {1, 7, 8, 9, 16, 33}) {
    for (int64_t N : {1, 9, 31, 32, 33, 64, 144}) {
      for (int64_t K : {1, 5, 64}) {
        const int64_t lda = M + 3, ldb = N + 1, ldc = N + 2;
        std::vector<float> a = dense(static_cast<size_t>(K * lda), rng),
                           b = dense(static_cast<size_t>(K * ldb), rng);
        std::vector<float> c = dense(static_cast<size_t>(M * ldc), rng), want = c;
        zsq_sgemm_atb(M, N, K, a.data(), lda, b.data(), ldb, c.data(), ldc);
        zsq_sgemm_atb_ref(M, N, K, a.data(), lda, b.data(), ldb, want.data(), ldc);
        for (size_t i = 0; i < c.size(); i++)
          ASSERT_NEAR(c[i], want[i], 1e-4f) << M << "x" << N << "x" << K;
      }
    }
  }
}

// The fast backward (input gradient on sconv for dense stride-1 convs where the host has it, else
// XNNPACK's deconvolution; im2col GEMM for the weights) against the direct loops, on layer shapes
// of the ResNet-20 teacher (3×3 stride 1 and 2, 1×1 projection), a depthwise MobileNet layer and
// stride-1 convs whose input-gradient convolution has other paddings (valid: 2; 5×5 pad 1: 3; pad 3
// on a 3×3: -1, a crop), on the second backward of a gradient object (the input gradient is
// written, not accumulated).
TEST(Grad, ConvFastPathMatchesReferenceLoops) {
  struct Case {
    std::vector<int64_t> in, w;
    int64_t stride, pad, group;
  };
  const Case cases[] = {
      {{2, 16, 14, 14}, {16, 16, 3, 3}, 1, 1, 1},
      {{2, 16, 14, 14}, {32, 16, 3, 3}, 2, 1, 1},
      {{2, 16, 14, 14}, {32, 16, 1, 1}, 2, 0, 1},
      {{2, 24, 9, 9}, {24, 1, 3, 3}, 2, 1, 24},
      // stride 1 with more than 16 channels both ways: sconv forward and input gradient
      {{2, 20, 9, 7}, {24, 20, 3, 3}, 1, 0, 1},
      {{1, 20, 6, 6}, {28, 20, 1, 1}, 1, 0, 1},
      {{1, 18, 7, 7}, {20, 18, 5, 5}, 1, 1, 1},
      {{1, 18, 5, 5}, {20, 18, 3, 3}, 1, 3, 1}};
  std::mt19937 rng(12);
  for (const Case &cs : cases) {
    Model m(13);
    m.input("x", cs.in).output("y");
    m.init(tensor("w", cs.w, dense(numel(cs.w), rng)));
    m.init(tensor("b", {cs.w[0]}, dense(static_cast<size_t>(cs.w[0]), rng)));
    m.node(Node("Conv", {"x", "w", "b"}, {"y"})
               .attr_i("group", cs.group)
               .attr_ints("strides", {cs.stride, cs.stride})
               .attr_ints("pads", {cs.pad, cs.pad, cs.pad, cs.pad}));
    Checker c(m.bytes());
    zsq_fplan *p = c.plan();
    const int wt = zsq_graph_find(c.g, "w"), bt = zsq_graph_find(c.g, "b");
    const int wrt[2] = {wt, bt};
    zsq_fgrad *gr = nullptr;
    ASSERT_EQ(zsq_fgrad_create(p, wrt, 2, &gr, &c.err), ZSQ_OK) << c.err.msg;
    std::vector<float> x = dense(numel(cs.in), rng);
    const void *in[1] = {x.data()};
    const zsq_value *y = zsq_fplan_value(p, c.g->outputs[0]);
    std::vector<float> out(y->numel), stale = dense(y->numel, rng), gy = dense(y->numel, rng);
    void *outs[1] = {out.data()};
    zsq_fplan_run(p, in, outs);
    // A first backward leaves its gradients behind: the second must overwrite or clear them.
    for (const std::vector<float> *g : {&stale, &gy}) {
      zsq_fgrad_zero(gr);
      std::copy(g->begin(), g->end(), zsq_fgrad_of(gr, c.g->outputs[0]));
      zsq_fgrad_backward(gr);
    }
    zsq_fnode *node = &p->nodes[0];
    std::vector<float> rx(x.size(), 0.0f), rw(zsq_fplan_value(p, wt)->numel, 0.0f),
        rb(static_cast<size_t>(cs.w[0]), 0.0f);
    float *ref[3] = {rx.data(), rw.data(), rb.data()};
    zsq_conv_backward_ref(node, gy.data(), ref);
    const float *fast[3] = {zsq_fgrad_of(gr, c.g->inputs[0]), zsq_fgrad_of(gr, wt),
                            zsq_fgrad_of(gr, bt)};
    const std::vector<float> *refs[3] = {&rx, &rw, &rb};
    for (int k = 0; k < 3; k++) {
      for (size_t i = 0; i < refs[k]->size(); i++) {
        ASSERT_NEAR(fast[k][i], (*refs[k])[i], 1e-3f * (1.0f + std::fabs((*refs[k])[i])))
            << "grad " << k << "[" << i << "]";
      }
    }
    zsq_fgrad_destroy(gr);
    zsq_fplan_destroy(p);
  }
}

// GENIE's swing shift in front of a strided conv: for each of the 9 shifts, the shifted values
// follow the reflect-pad formula, the input gradient is the shift's adjoint of the gradient
// reaching its output, and finite differences of L = Σ y·r (on the same plan and shift) agree.
TEST(Grad, SwingShiftBeforeStridedConv) {
  std::mt19937 rng(21);
  const int64_t N = 2, C = 3, H = 5, W = 4;
  Checker c(single(
      {N, C, H, W},
      Node("Conv", {"x", "w"}, {"y"}).attr_ints("strides", {2, 2}).attr_ints("pads", {1, 1, 1, 1}),
      13, {tensor("w", {2, C, 3, 3}, dense(2 * C * 9, rng))}));
  int inserted = 0;
  ASSERT_EQ(zsq_swing_insert(c.g, &inserted, &c.err), ZSQ_OK) << c.err.msg;
  ASSERT_EQ(inserted, 1);
  zsq_fplan *p = c.plan();
  zsq_fnode *sw = nullptr;
  for (size_t i = 0; i < p->n_nodes; i++)
    if (p->nodes[i].node->op == ZSQ_OP_SWING) sw = &p->nodes[i];
  ASSERT_NE(sw, nullptr);
  zsq_fgrad *gr = nullptr;
  ASSERT_EQ(zsq_fgrad_create(p, nullptr, 0, &gr, &c.err), ZSQ_OK) << c.err.msg;
  std::vector<float> x = dense(static_cast<size_t>(N * C * H * W), rng);
  const zsq_value *y = zsq_fplan_value(p, c.g->outputs[0]);
  std::vector<float> r = dense(y->numel, rng), out(y->numel);
  const int st = sw->node->outputs[0];
  auto refl = [](int64_t i, int64_t n) { return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i); };
  auto loss = [&]() {
    const void *in[1] = {x.data()};
    void *outs[1] = {out.data()};
    zsq_fplan_run(p, in, outs);
    double l = 0;
    for (size_t i = 0; i < out.size(); i++) l += static_cast<double>(out[i]) * r[i];
    return l;
  };
  for (int dy = -1; dy <= 1; dy++) {
    for (int dx = -1; dx <= 1; dx++) {
      zsq_swing_set(sw, dy, dx);
      loss();
      zsq_fgrad_zero(gr);
      zsq_layout_add_logical(y, zsq_fgrad_of(gr, c.g->outputs[0]), r.data());
      zsq_fgrad_backward(gr);
      const float *xs = static_cast<const float *>(zsq_fplan_value(p, st)->data);
      const float *gs = zsq_fgrad_of(gr, st), *gx = zsq_fgrad_of(gr, c.g->inputs[0]);
      std::vector<double> adj(x.size(), 0.0);  // NHWC, like the plan's values
      for (int64_t b = 0; b < N; b++)
        for (int64_t h = 0; h < H; h++)
          for (int64_t w = 0; w < W; w++)
            for (int64_t ch = 0; ch < C; ch++) {
              const int64_t o = ((b * H + h) * W + w) * C + ch,
                            src = ((b * H + refl(h + dy, H)) * W + refl(w + dx, W)) * C + ch;
              ASSERT_EQ(xs[o], x[static_cast<size_t>(((b * C + ch) * H + refl(h + dy, H)) * W +
                                                     refl(w + dx, W))])
                  << "shift " << dy << "," << dx << " at " << o;
              adj[static_cast<size_t>(src)] += gs[o];
            }
      for (size_t i = 0; i < adj.size(); i++)
        ASSERT_NEAR(gx[i], adj[i], 1e-5 * (1 + std::fabs(adj[i]))) << "adjoint at " << i;
      for (size_t e = 0; e < x.size(); e += 7) {  // finite differences, logical index e
        const int64_t w = static_cast<int64_t>(e) % W, h = static_cast<int64_t>(e) / W % H,
                      ch = static_cast<int64_t>(e) / (W * H) % C,
                      b = static_cast<int64_t>(e) / (W * H * C);
        const float keep = x[e], eps = 1e-2f;
        x[e] = keep + eps;
        const double lp = loss();
        x[e] = keep - eps;
        const double lm = loss();
        x[e] = keep;
        Checker::expect_close((lp - lm) / (2 * eps), gx[((b * H + h) * W + w) * C + ch],
                              "x[" + std::to_string(e) + "]");
      }
    }
  }
  zsq_fgrad_destroy(gr);
  zsq_fplan_destroy(p);
}

}  // namespace
