// test_sconv.cc — the dense f32 convolution (src/float/sconv.h): the scalar build against direct
// loops in double, and the AVX-512 build bit-exact against the scalar build (both sum each output
// in the same order with FMAs) at 1 and 2 threads, over M, N, K, kernel, stride, padding,
// dilation, batch and clamps below, at and above the 14x32 tile.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "float/sconv.h"
}

namespace {

struct Case {
  int64_t batch, h, w, cin, cout, k, stride, pad, dil;
  float lo, hi;
  bool bias;
};

std::string Name(const Case &c) {
  return "b" + std::to_string(c.batch) + "_" + std::to_string(c.h) + "x" + std::to_string(c.w) +
         "_c" + std::to_string(c.cin) + "_n" + std::to_string(c.cout) + "_k" + std::to_string(c.k) +
         "s" + std::to_string(c.stride) + "p" + std::to_string(c.pad) + "d" +
         std::to_string(c.dil) + (std::isinf(c.lo) ? "" : "_clamp") + (c.bias ? "_bias" : "");
}

zsq_geom Geom(const Case &c) {
  zsq_geom g{};
  g.in_h = c.h, g.in_w = c.w, g.kh = g.kw = c.k, g.sh = g.sw = c.stride, g.dh = g.dw = c.dil;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = c.pad;
  g.out_h = (c.h + 2 * c.pad - c.dil * (c.k - 1) - 1) / c.stride + 1;
  g.out_w = (c.w + 2 * c.pad - c.dil * (c.k - 1) - 1) / c.stride + 1;
  return g;
}

struct Data {
  std::vector<float> x, w, bias;
};

Data MakeData(const Case &c) {
  std::mt19937 rng(unsigned(c.cin * 131 + c.cout * 7 + c.h));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Data d;
  d.x.resize(size_t(c.batch * c.h * c.w * c.cin));
  d.w.resize(size_t(c.cout * c.k * c.k * c.cin));
  d.bias.resize(size_t(c.cout));
  for (auto &v : d.x) v = u(rng);
  for (auto &v : d.w) v = u(rng);
  for (auto &v : d.bias) v = u(rng);
  return d;
}

std::vector<float> RunConv(const Case &c, const Data &d, const zsq_sconv_config *cfg,
                           size_t threads) {
  const zsq_geom g = Geom(c);
  zsq_sconv *op = nullptr;
  zsq_err err{};
  EXPECT_EQ(zsq_sconv_create(&g, size_t(c.cin), size_t(c.cout), d.w.data(),
                             c.bias ? d.bias.data() : nullptr, c.lo, c.hi, cfg, &op, &err),
            ZSQ_OK)
      << err.msg;
  if (op == nullptr) return {};
  std::vector<float> y(size_t(c.batch * g.out_h * g.out_w * c.cout), NAN);
  pthreadpool_t tp = threads > 1 ? pthreadpool_create(threads) : nullptr;
  zsq_sconv_run(op, size_t(c.batch), d.x.data(), y.data(), tp);
  pthreadpool_destroy(tp);
  zsq_sconv_destroy(op);
  return y;
}

class SconvTest : public testing::TestWithParam<Case> {};

// Scalar build vs direct loops in double. Each output is a float FMA chain of K = k·k·cin terms
// after the bias, so |error| <= (K + 1)·2^-24·(|bias| + Σ|x·w|) (rounding of each step, first
// order); the test allows twice that.
TEST_P(SconvTest, ScalarMatchesDirectLoops) {
  const Case c = GetParam();
  const Data d = MakeData(c);
  const std::vector<float> y = RunConv(c, d, zsq_sconv_config_scalar(), 1);
  ASSERT_FALSE(y.empty());
  const zsq_geom g = Geom(c);
  const double bound = 2.0 * double(c.k * c.k * c.cin + 1) * std::ldexp(1.0, -24);
  for (int64_t b = 0; b < c.batch; b++)
    for (int64_t oy = 0; oy < g.out_h; oy++)
      for (int64_t ox = 0; ox < g.out_w; ox++)
        for (int64_t n = 0; n < c.cout; n++) {
          double s = c.bias ? d.bias[size_t(n)] : 0.0, mag = std::fabs(s);
          for (int64_t ky = 0; ky < c.k; ky++)
            for (int64_t kx = 0; kx < c.k; kx++) {
              const int64_t iy = oy * c.stride - c.pad + ky * c.dil;
              const int64_t ix = ox * c.stride - c.pad + kx * c.dil;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              for (int64_t ci = 0; ci < c.cin; ci++) {
                const double p = double(d.x[size_t(((b * c.h + iy) * c.w + ix) * c.cin + ci)]) *
                                 d.w[size_t(((n * c.k + ky) * c.k + kx) * c.cin + ci)];
                s += p;
                mag += std::fabs(p);
              }
            }
          const double want = std::min(std::max(s, double(c.lo)), double(c.hi));
          const float got = y[size_t(((b * g.out_h + oy) * g.out_w + ox) * c.cout + n)];
          ASSERT_NEAR(got, want, bound * mag + 1e-30)
              << "b " << b << " y " << oy << " x " << ox << " n " << n;
        }
}

// The fast build against the scalar one: the same summation order and FMAs, so equal bits; and
// the same bits at 1 and 2 threads (every output is one kernel call's fixed-order sum).
TEST_P(SconvTest, FastBuildMatchesScalarBitExact) {
  const zsq_sconv_config *best = zsq_sconv_config_best();
  if (best == nullptr) GTEST_SKIP() << "this host has no AVX-512F: no fast f32 convolution build";
  const Case c = GetParam();
  const Data d = MakeData(c);
  const std::vector<float> want = RunConv(c, d, zsq_sconv_config_scalar(), 1);
  for (size_t threads : {1, 2}) {
    const std::vector<float> got = RunConv(c, d, best, threads);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); i++) {
      uint32_t a, b;
      std::memcpy(&a, &got[i], 4);
      std::memcpy(&b, &want[i], 4);
      ASSERT_EQ(a, b) << "output " << i << ": " << got[i] << " vs " << want[i] << ", " << threads
                      << " threads";
    }
  }
}

std::vector<Case> Cases() {
  std::vector<Case> v;
  const float inf = INFINITY;
  // N below / at / above the 16- and 32-column tiles, and several blocks.
  for (int64_t n : {1, 7, 16, 17, 31, 32, 33, 64, 70})
    v.push_back({1, 5, 6, 8, n, 3, 1, 1, 1, -inf, inf, true});
  // K: channels per tap below / at / above a vector, 1x1 and 3x3, stride 1 and 2, padding 0 / 1.
  for (int64_t cin : {1, 3, 16, 17, 33})
    for (int64_t k : {1, 3})
      for (int64_t s : {1, 2})
        for (int64_t p : {0, 1})
          if (k > 1 || p == 0) v.push_back({2, 7, 9, cin, 24, k, s, p, 1, -inf, inf, false});
  // M = batch x pixels below / at / above 14 and crossing images inside a tile.
  for (int64_t hw : {1, 2, 3, 4, 5})
    for (int64_t b : {1, 3, 7}) v.push_back({b, hw, hw + 1, 5, 20, 3, 1, 1, 1, -inf, inf, true});
  // Clamps (ReLU, ReLU6), dilation, a 5x5 kernel with padding 2, wide channels.
  v.push_back({2, 8, 8, 16, 16, 3, 1, 1, 1, 0.0f, inf, true});
  v.push_back({2, 8, 8, 16, 48, 3, 1, 1, 1, 0.0f, 0.5f, true});
  v.push_back({1, 9, 9, 4, 40, 3, 1, 2, 2, -0.25f, inf, true});
  v.push_back({1, 9, 7, 3, 16, 5, 2, 2, 1, -inf, inf, true});
  v.push_back({1, 6, 6, 64, 128, 3, 2, 1, 1, 0.0f, inf, true});
  // Packed weights over 1 MiB: the column-outer task order.
  v.push_back({1, 6, 5, 128, 256, 3, 1, 1, 1, 0.0f, inf, true});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Sweep, SconvTest, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<Case> &i) { return Name(i.param); });

}  // namespace
