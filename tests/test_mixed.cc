// test_mixed.cc — mixed precision: the budgeted bit allocation (any costs) against brute force,
// and the per-layer sensitivities on the ResNet-20 teacher.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

extern "C" {
#include "graph/passes.h"
#include "io/onnx_import.h"
#include "quant/mixed.h"
}
#include "fmnist-images.h"

namespace {

TEST(MixedChoose, MatchesBruteForceAndRespectsTheBudget) {
  uint32_t r = 11;
  auto next = [&r](uint32_t n) {
    r = r * 1664525u + 1013904223u;
    return (r >> 8) % n;
  };
  for (int trial = 0; trial < 200; trial++) {
    // Params summing to 512 make the DP's cost unit exactly one bit: it must find the optimum.
    const int n = 1 + static_cast<int>(next(4));
    std::vector<zsq_mp_layer> l(static_cast<size_t>(n));
    int left = 512;
    for (int i = 0; i < n; i++) {
      l[i] = zsq_mp_layer{};
      l[i].node = i;
      l[i].params =
          i == n - 1 ? left : 1 + static_cast<int>(next(static_cast<uint32_t>(left - (n - i))));
      left -= static_cast<int>(l[i].params);
      double s = 0.0;
      for (int b = 0; b < ZSQ_MP_NBITS; b++) {
        l[i].sens[b] = s += next(1000) / 100.0;
        l[i].cost[b] = static_cast<double>(l[i].params) * zsq_mp_bits[b];
      }
    }
    const double budget = 512.0 * (2 + next(7));
    std::vector<int> bits(static_cast<size_t>(n));
    zsq_err err;
    zsq_err_clear(&err);
    // Brute force over every assignment.
    double best = INFINITY;
    int combos = 1;
    for (int i = 0; i < n; i++) combos *= ZSQ_MP_NBITS;
    for (int c = 0; c < combos; c++) {
      double cost = 0, s = 0;
      for (int i = 0, k = c; i < n; i++, k /= ZSQ_MP_NBITS) {
        cost += static_cast<double>(l[i].params) * zsq_mp_bits[k % ZSQ_MP_NBITS];
        s += l[i].sens[k % ZSQ_MP_NBITS];
      }
      if (cost <= budget) best = std::fmin(best, s);
    }
    const zsq_status st = zsq_mixed_choose(l.data(), n, budget, bits.data(), &err);
    ASSERT_EQ(st, ZSQ_OK) << err.msg;
    double cost = 0, s = 0;
    for (int i = 0; i < n; i++) {
      cost += static_cast<double>(l[i].params) * bits[i];
      for (int b = 0; b < ZSQ_MP_NBITS; b++) s += zsq_mp_bits[b] == bits[i] ? l[i].sens[b] : 0.0;
    }
    EXPECT_LE(cost, budget) << "trial " << trial;
    EXPECT_NEAR(s, best, 1e-9) << "trial " << trial;
  }
}

TEST(MixedChoose, FixedLayersStayAndImpossibleBudgetsAreRefused) {
  std::vector<zsq_mp_layer> l(2);
  l[0] = zsq_mp_layer{0, 8, 100, {0, 0, 0, 0}, {800, 400, 300, 200}};
  l[1] = zsq_mp_layer{1, 0, 100, {0.0, 1.0, 2.0, 3.0}, {800, 400, 300, 200}};
  int bits[2];
  zsq_err err;
  zsq_err_clear(&err);
  EXPECT_DOUBLE_EQ(zsq_mixed_least_cost(l.data(), 2), 800.0 + 200.0);
  ASSERT_EQ(zsq_mixed_choose(l.data(), 2, 100.0 * 8 + 100.0 * 4, bits, &err), ZSQ_OK) << err.msg;
  EXPECT_EQ(bits[0], 8);
  EXPECT_EQ(bits[1], 4);
  EXPECT_EQ(zsq_mixed_choose(l.data(), 2, 100.0 * 8 + 100.0 * 1, bits, &err), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(err.msg).find("below the least cost 1000"), std::string::npos) << err.msg;
  zsq_err_clear(&err);
  l[1].cost[2] = -1.0;  // costs are never negative
  EXPECT_EQ(zsq_mixed_choose(l.data(), 2, 2000.0, bits, &err), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(err.msg).find("not >= 0"), std::string::npos) << err.msg;
}

// A random instance: n layers (the first fixed at 8 bits half the time), sensitivities, and costs
// per width that need not grow with the bits; INFINITY marks widths that are no choice.
struct Instance {
  std::vector<zsq_mp_layer> l;
  uint32_t r;
  uint32_t next(uint32_t n) {
    r = r * 1664525u + 1013904223u;
    return (r >> 8) % n;
  }
  Instance(uint32_t seed, int n, bool integer_costs) : l(static_cast<size_t>(n)), r(seed) {
    for (int i = 0; i < n; i++) {
      l[i] = zsq_mp_layer{};
      l[i].node = i;
      l[i].fixed_bits = i == 0 && next(2) ? 8 : 0;
      for (int b = 0; b < ZSQ_MP_NBITS; b++) {
        l[i].sens[b] = b > 0 && next(5) == 0 ? INFINITY : next(1000) / 100.0;
        l[i].cost[b] = integer_costs ? next(41) : next(1000000) * 1e-9;
      }
    }
  }
  // The least Σ sens over every assignment with Σ cost <= budget (INFINITY: none); its cost.
  double best(double budget, double *cost_out = nullptr) const {
    const int n = static_cast<int>(l.size());
    int combos = 1;
    for (int i = 0; i < n; i++) combos *= ZSQ_MP_NBITS;
    double best_s = INFINITY;
    for (int c = 0; c < combos; c++) {
      double cost = 0, s = 0;
      for (int i = 0, k = c; i < n; i++, k /= ZSQ_MP_NBITS) {
        const int b = k % ZSQ_MP_NBITS;
        if (l[i].fixed_bits && zsq_mp_bits[b] != l[i].fixed_bits) s = INFINITY;
        cost += l[i].cost[b];
        s += l[i].fixed_bits ? 0.0 : l[i].sens[b];
      }
      if (cost <= budget && s < best_s) {
        best_s = s;
        if (cost_out) *cost_out = cost;
      }
    }
    return best_s;
  }
  // Σ sens and Σ cost of a choice.
  void score(const std::vector<int> &bits, double *s, double *cost) const {
    *s = *cost = 0;
    for (size_t i = 0; i < l.size(); i++)
      for (int b = 0; b < ZSQ_MP_NBITS; b++)
        if (zsq_mp_bits[b] == bits[i]) {
          *s += l[i].fixed_bits ? 0.0 : l[i].sens[b];
          *cost += l[i].cost[b];
        }
  }
};

TEST(MixedChoose, AnyCostsMatchBruteForceWhereTheUnitIsExact) {
  // Integer costs and a budget a power of two (<= 4096) above the least: the DP's unit is then a
  // power of two and its rounding exact, so it must find the optimum.
  for (uint32_t trial = 0; trial < 300; trial++) {
    Instance x(trial + 1, 1 + static_cast<int>(trial % 5), true);
    const int n = static_cast<int>(x.l.size());
    const double least = zsq_mixed_least_cost(x.l.data(), n);
    const double budget = least + static_cast<double>(1u << x.next(13));
    std::vector<int> bits(static_cast<size_t>(n));
    zsq_err err;
    zsq_err_clear(&err);
    ASSERT_EQ(zsq_mixed_choose(x.l.data(), n, budget, bits.data(), &err), ZSQ_OK) << err.msg;
    double s, cost;
    x.score(bits, &s, &cost);
    EXPECT_LE(cost, budget) << "trial " << trial;
    EXPECT_DOUBLE_EQ(s, x.best(budget)) << "trial " << trial;
    for (int i = 0; i < n; i++)
      if (x.l[i].fixed_bits) EXPECT_EQ(bits[i], 8);
  }
}

TEST(MixedChoose, RealCostsFitAndLoseAtMostOneUnitPerLayer) {
  // Real-valued costs (seconds-like): the choice fits, and is at least as good as the best choice
  // that fits with one unit, (budget − least) / 4096, to spare per layer.
  for (uint32_t trial = 0; trial < 300; trial++) {
    Instance x(1000 + trial, 1 + static_cast<int>(trial % 5), false);
    const int n = static_cast<int>(x.l.size());
    const double least = zsq_mixed_least_cost(x.l.data(), n);
    const double left = 1e-9 * x.next(2000000);
    std::vector<int> bits(static_cast<size_t>(n));
    zsq_err err;
    zsq_err_clear(&err);
    ASSERT_EQ(zsq_mixed_choose(x.l.data(), n, least + left, bits.data(), &err), ZSQ_OK) << err.msg;
    double s, cost;
    x.score(bits, &s, &cost);
    EXPECT_LE(cost, (least + left) * (1 + 1e-12)) << "trial " << trial;
    EXPECT_LE(s, x.best(least + left - n * left / 4096) + 1e-9) << "trial " << trial;
    EXPECT_GE(s, x.best(least + left) - 1e-9) << "trial " << trial;
  }
}

TEST(MixedChoose, ABudgetAtTheLeastCostGivesTheCheapestChoiceAndBelowIsRefused) {
  for (uint32_t trial = 0; trial < 100; trial++) {
    Instance x(5000 + trial, 1 + static_cast<int>(trial % 6), false);
    const int n = static_cast<int>(x.l.size());
    const double least = zsq_mixed_least_cost(x.l.data(), n);
    std::vector<int> bits(static_cast<size_t>(n));
    zsq_err err;
    zsq_err_clear(&err);
    ASSERT_EQ(zsq_mixed_choose(x.l.data(), n, least, bits.data(), &err), ZSQ_OK) << err.msg;
    double s, cost;
    x.score(bits, &s, &cost);
    EXPECT_DOUBLE_EQ(cost, least) << "trial " << trial;
    EXPECT_DOUBLE_EQ(s, x.best(least)) << "trial " << trial;
    zsq_err_clear(&err);
    EXPECT_EQ(zsq_mixed_choose(x.l.data(), n, least * 0.999 - 1e-12, bits.data(), &err),
              ZSQ_ERR_INVALID_ARG);
    EXPECT_NE(std::string(err.msg).find("below the least cost"), std::string::npos) << err.msg;
  }
}

TEST(MixedChoose, ACostJustAboveTheBudgetIsNotTakenAndOneAtItIs) {
  // Two layers: the second's 8 bits cost a trillionth of a second more than the budget leaves,
  // far less than one of the DP's 4096 steps: rounding up keeps it out.
  std::vector<zsq_mp_layer> l(2);
  l[0] = zsq_mp_layer{0, 0, 0, {0, 1, 2, 3}, {1e-3, 5e-4, 5e-4, 5e-4}};
  l[1] = zsq_mp_layer{1, 0, 0, {0, 5, 6, 7}, {1e-3 + 1e-12, 0, 0, 0}};
  int bits[2];
  zsq_err err;
  zsq_err_clear(&err);
  ASSERT_EQ(zsq_mixed_choose(l.data(), 2, 1.5e-3, bits, &err), ZSQ_OK) << err.msg;
  EXPECT_EQ(bits[0], 8);
  EXPECT_EQ(bits[1], 4);
  l[1].cost[0] = 1e-3;
  ASSERT_EQ(zsq_mixed_choose(l.data(), 2, 1.5e-3, bits, &err), ZSQ_OK) << err.msg;
  EXPECT_EQ(bits[0], 4);
  EXPECT_EQ(bits[1], 8);
}

TEST(MixedChoose, TighterBudgetsNeverLowerTheSensitivityAndADominatedWidthIsNeverChosen) {
  // 3 bits is slower than 4 and hurts more on every layer (as on hosts where W3 and W4 share a
  // kernel); 8 bits is the slowest: budgets from the most to the least cost never pick 3 bits,
  // stay within the budget, and spend no less sensitivity as they shrink.
  std::vector<zsq_mp_layer> l(6);
  for (int i = 0; i < 6; i++) {
    const double t = 1e-5 * (i + 1);
    l[i] = zsq_mp_layer{i, 0, 0, {0.0, 1.0 + i, 2.0 + i, 5.0 + i}, {3 * t, 1.2 * t, 1.5 * t, t}};
  }
  const double least = zsq_mixed_least_cost(l.data(), 6), most = 3 * 1e-5 * 21;
  double last = -1.0;
  for (int k = 0; k <= 40; k++) {
    const double budget = most - (most - least) * k / 40.0;
    int bits[6];
    zsq_err err;
    zsq_err_clear(&err);
    ASSERT_EQ(zsq_mixed_choose(l.data(), 6, budget, bits, &err), ZSQ_OK) << err.msg;
    double s = 0, cost = 0;
    for (int i = 0; i < 6; i++) {
      EXPECT_NE(bits[i], 3) << "budget " << budget;
      for (int b = 0; b < ZSQ_MP_NBITS; b++)
        if (zsq_mp_bits[b] == bits[i]) {
          s += l[i].sens[b];
          cost += l[i].cost[b];
        }
    }
    EXPECT_LE(cost, budget * (1 + 1e-12));
    EXPECT_GE(s, last) << "a tighter budget found a better choice: budget " << budget;
    last = s;
  }
  EXPECT_DOUBLE_EQ(last, 5.0 * 6 + 15) << "at the least cost every layer takes 2 bits";
}

TEST(MixedSensitivity, FewerBitsHurtMoreOnTheTeacher) {
  zsq_err err;
  zsq_err_clear(&err);
  zsq_graph *g = nullptr;
  const std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/resnet20.onnx";
  ASSERT_EQ(zsq_onnx_import_file(path.c_str(), &g, &err), ZSQ_OK) << err.msg;
  ASSERT_EQ(zsq_graph_fold_batchnorm(g, &err), ZSQ_OK);
  ASSERT_EQ(zsq_graph_fuse_activations(g, &err), ZSQ_OK);
  std::vector<zsq_mp_layer> l;
  for (size_t i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op == ZSQ_OP_CONV || g->nodes[i].op == ZSQ_OP_GEMM) {
      zsq_mp_layer x{};
      x.node = static_cast<int>(i);
      l.push_back(x);
    }
  ASSERT_EQ(l.size(), 22u);
  std::vector<float> calib(16 * 784);
  uint32_t r = 5;
  for (float &v : calib) {
    r = r * 1664525u + 1013904223u;
    v = static_cast<float>(r >> 8) / 16777216.0f * 3.0f - 1.0f;
  }
  ASSERT_EQ(zsq_mixed_sensitivity(g, l.data(), static_cast<int>(l.size()), calib.data(), 16, 0,
                                  ZSQ_RANGE_MSE, 0, nullptr, &err),
            ZSQ_OK)
      << err.msg;
  int monotone = 0;
  for (const auto &x : l) {
    EXPECT_GT(x.params, 0);
    EXPECT_GE(x.sens[0], 0.0);
    monotone += x.sens[0] <= x.sens[1] && x.sens[1] <= x.sens[2] && x.sens[2] <= x.sens[3];
    EXPECT_LT(x.sens[0], x.sens[3]) << "8 bits must hurt less than 2 bits";
  }
  EXPECT_GE(monotone, 20) << "sensitivity should grow as bits drop on nearly every layer";
  zsq_graph_free(g);
}

TEST(MixedPipeline, TheQuantizedModelFitsTheBudgetAndBeatsUniformBitsItExceeds) {
  zsq_model *m, *mixed, *w3, *w4;
  for (zsq_model **p : {&m, &mixed, &w3, &w4}) zsq_model_create(p);
  const std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/resnet20.onnx";
  ASSERT_EQ(zsq_model_load_onnx(m, path.c_str()), ZSQ_OK);
  std::vector<int> lab;
  std::vector<float> x = zsqtest::fmnist_images(5000, 64, &lab);
  zsq_calib *c;
  zsq_calib_create(&c);
  ASSERT_EQ(zsq_calib_set(c, 64, 1, 28, 28, x.data(), lab.data(), "fmnist", 0), ZSQ_OK);
  zsq_quant_options o{};
  o.abits = 4;
  o.threads = 2;
  o.wbits = 3;
  ASSERT_EQ(zsq_quantize(m, &o, c, w3), ZSQ_OK) << zsq_model_last_error(m);
  o.wbits = 4;
  ASSERT_EQ(zsq_quantize(m, &o, c, w4), ZSQ_OK) << zsq_model_last_error(m);
  auto size = [](zsq_model *q, std::vector<int> *bits) {
    int64_t total = 0;
    for (size_t i = 0; i < zsq_model_quant_layer_count(q); i++) {
      zsq_quant_layer l;
      zsq_model_quant_layer(q, i, &l);
      total += l.weights * l.wbits;
      if (bits) bits->push_back(l.wbits);
    }
    return total;
  };
  const int64_t s3 = size(w3, nullptr), s4 = size(w4, nullptr);
  o.budget_bytes = static_cast<double>(s3 + s4) / 16.0;  // halfway, in bytes
  ASSERT_EQ(zsq_quantize(m, &o, c, mixed), ZSQ_OK) << zsq_model_last_error(m);
  std::vector<int> bits;
  const int64_t sm = size(mixed, &bits);
  EXPECT_LE(sm, static_cast<int64_t>(o.budget_bytes * 8.0));
  EXPECT_GE(sm, static_cast<int64_t>(o.budget_bytes * 8.0 * 0.9)) << "the budget is used";
  EXPECT_EQ(bits.front(), 8);
  EXPECT_EQ(bits.back(), 8);
  int n3 = 0, n4 = 0;
  for (int b : bits) (b == 3 ? n3 : n4) += b == 3 || b == 4;
  EXPECT_GT(n3, 0);
  EXPECT_GT(n4, 0);
  // More bits where they matter: the output is closer to the float model's than at 3 bits.
  zsq_quant_layer a, b3;
  const size_t last = zsq_model_quant_layer_count(mixed) - 1;
  zsq_model_quant_layer(mixed, last, &a);
  zsq_model_quant_layer(w3, last, &b3);
  EXPECT_GT(a.accumulated_sqnr_db, b3.accumulated_sqnr_db);
  // A budget below every free layer at the smallest width is refused in bytes.
  o.budget_bytes = 1000;
  EXPECT_EQ(zsq_quantize(m, &o, c, mixed), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(zsq_model_last_error(m)).find("smallest model"), std::string::npos);
  zsq_calib_destroy(c);
  for (zsq_model *p : {m, mixed, w3, w4}) zsq_model_destroy(p);
}

}  // namespace
