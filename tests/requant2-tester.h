// requant2-tester.h — a qs32_requant2 ukernel against the _x1__scalar oracle, bit for bit.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/requant2.h"

// Every residual and output kind over column tails, row strides, accumulators near the int32
// limits (the bias add wraps) and code boundaries; with special_values(true) also NaN, ±inf and
// ±0 in mult, offset, qmult and the f32 residuals, and act bounds of -0 and +0 (so a clamp that
// is not the oracle's compare + select, e.g. FMAX or MAXPS with swapped operands, shows).
class Requant2Tester {
 public:
  Requant2Tester &special_values(bool v) {
    special_ = v;
    return *this;
  }

  void Test(zsq_requant2_ukernel_fn ukernel) const {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    const float kSpecial[] = {std::numeric_limits<float>::quiet_NaN(), kInf, -kInf, -0.0f, 0.0f};
    auto special = [&](size_t i) { return kSpecial[i % 5]; };
    std::mt19937 rng(5);
    auto real = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    auto uni = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    std::vector<std::pair<float, float>> acts = {{-kInf, kInf}, {0.0f, 6.0f}};
    if (special_) acts.insert(acts.end(), {{-0.0f, 0.0f}, {-0.0f, kInf}, {-kInf, -0.0f}});
    for (int res_kind : {ZSQ_REQUANT2_RES_NONE, ZSQ_REQUANT2_RES_U8, ZSQ_REQUANT2_RES_F32}) {
      for (int out_kind : {ZSQ_REQUANT2_OUT_U8, ZSQ_REQUANT2_OUT_F32}) {
        for (size_t nc : {1, 5, 7, 8, 9, 15, 16, 17, 33, 64}) {
          for (size_t mr : {1, 3}) {
            const size_t as = nc + 3, rs = nc + 2, os = nc + 7;
            std::vector<int32_t> acc(mr * as), bias(nc);
            for (auto &x : acc) x = int32_t(uni(-300000, 300000));
            for (auto &x : bias) x = int32_t(uni(-3000, 3000));
            acc[0] = INT32_MAX;  // wraps with a positive bias
            bias[0] = 7;
            std::vector<float> mult(nc), offset(nc), qmult(nc), qoffset(nc);
            for (size_t j = 0; j < nc; j++) {
              mult[j] = float(real(1e-6, 1e-4));
              offset[j] = float(real(-2, 2));
              qmult[j] = float(real(5, 40));
              qoffset[j] = float(real(0, 128));
            }
            std::vector<uint8_t> res_u8(mr * rs);
            std::vector<float> res_f32(mr * rs);
            for (auto &x : res_u8) x = uint8_t(uni(0, 255));
            for (auto &x : res_f32) x = float(real(-3, 3));
            if (special_) {  // one special operand per element, the others finite
              for (size_t j = 0; j < nc; j++) {
                if (j % 4 == 1) mult[j] = special(j / 4);
                if (j % 4 == 2) offset[j] = special(j / 4);
                if (j % 4 == 3) qmult[j] = special(j / 4);
                if (j % 2 == 1) bias[j] = 0;
              }
              for (size_t i = 0; i < mr * as; i += 5)
                acc[i] = 0;  // t = 0 in odd columns: 0·inf, ±0 sums
              for (size_t i = 0; i < mr * rs; i += 4) res_f32[i] = special(i / 4 + 1);
            }
            for (auto [lo, hi] : acts) {
              const zsq_requant2_params p{
                  bias.data(), mult.data(),  offset.data(),  lo, hi, res_kind, 0.02f, 117,
                  out_kind,    qmult.data(), qoffset.data(), 3,  250};
              const void *res = res_kind == ZSQ_REQUANT2_RES_U8    ? (const void *)res_u8.data()
                                : res_kind == ZSQ_REQUANT2_RES_F32 ? (const void *)res_f32.data()
                                                                   : nullptr;
              const size_t rb = res_kind == ZSQ_REQUANT2_RES_F32 ? 4 : 1;
              const size_t ob = out_kind == ZSQ_REQUANT2_OUT_F32 ? 4 : 1;
              std::vector<uint8_t> want(mr * os * ob, 0xA5), got(mr * os * ob, 0xA5);
              zsq_qs32_requant2_ukernel_x1__scalar(mr, nc, acc.data(), as * 4, res, rs * rb,
                                                   want.data(), os * ob, &p);
              ukernel(mr, nc, acc.data(), as * 4, res, rs * rb, got.data(), os * ob, &p);
              ASSERT_EQ(got, want) << "res " << res_kind << " out " << out_kind << " nc " << nc
                                   << " mr " << mr << " act [" << lo << ", " << hi << "]";
            }
          }
        }
      }
    }
  }

 private:
  bool special_ = false;
};
