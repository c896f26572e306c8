// test_bitserial.cc — W2A2 bit-serial GEMM: the scalar oracle exact against a plain int32 dot
// product + requant-scalar.h, every tier bit-exact against the oracle, the packers byte-exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/configs/bitserial-config.h"
#include "kernels/gemm/requant-scalar.h"

namespace {

constexpr uint8_t kCanary = 0xA5;

// How codes are drawn: uniform, or every code at one extreme of the product range.
enum class Codes { kRandom, kMinProduct /* a = 3, w = -2 */, kMaxProduct /* a = 3, w = 1 */ };

struct Case {
  size_t m = 1, n = 1, k = 1;
  size_t a_stride = 0;      // codes between rows of A (>= k)
  size_t packed_extra = 0;  // bytes past the minimum packed row
  size_t c_stride = 0;      // bytes between rows of C (>= n)
  int32_t qmin = 0, qmax = 255;
  bool asym = false;      // zw != 0: rowsum enters the epilogue
  bool identity = false;  // mult 1, offset 128.5, bias 0: C = acc + 128 (small |acc| only)
  Codes codes = Codes::kRandom;
  uint32_t seed = 1;
  std::string Str() const {
    return " (m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) + ")";
  }
};

// Operands and epilogue parameters of one case, with the expected codes computed without bit
// planes: acc = Σ_k a·w in int32, then zsq_requant_scalar.
struct Problem {
  explicit Problem(const Case &c) : cs(c) {
    as = std::max(c.a_stride, c.k);
    std::mt19937 rng(c.seed ^ static_cast<uint32_t>(c.m * 131 + c.n * 17 + c.k * 7919));
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto real = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    // Bytes between rows are 0xFF: a packer that read them would set plane bits.
    a.assign((c.m - 1) * as + c.k, 0xFF);
    w.resize(c.n * c.k);
    for (size_t i = 0; i < c.m; i++) {
      for (size_t kk = 0; kk < c.k; kk++)
        a[i * as + kk] = c.codes == Codes::kRandom ? static_cast<uint8_t>(uniform(0, 3)) : 3;
    }
    for (auto &x : w) {
      x = static_cast<int8_t>(c.codes == Codes::kRandom       ? uniform(-2, 1)
                              : c.codes == Codes::kMinProduct ? -2
                                                              : 1);
    }
    acc.assign(c.m * c.n, 0);
    rowsum.assign(c.m, 0);
    for (size_t i = 0; i < c.m; i++) {
      for (size_t kk = 0; kk < c.k; kk++) rowsum[i] += a[i * as + kk];
      for (size_t j = 0; j < c.n; j++) {
        int32_t s = 0;
        for (size_t kk = 0; kk < c.k; kk++) s += int32_t(a[i * as + kk]) * w[j * c.k + kk];
        acc[i * c.n + j] = s;
      }
    }
    bias.resize(c.n);
    zw.assign(c.n, 0);
    mult.resize(c.n);
    offset.resize(c.n);
    for (size_t j = 0; j < c.n; j++) {
      if (c.identity) {
        bias[j] = 0;
        mult[j] = 1.0f;
        offset[j] = 128.5f;
        continue;
      }
      if (c.asym) zw[j] = uniform(-2, 1);
      bias[j] = uniform(-300, 300);
      // mult scaled to the column's spread of t, offset centring it with a random fraction, so
      // floor() lands on varied codes and both clamps are hit; odd columns put one row within
      // an ulp of a code boundary, where an accumulator off by one changes the code.
      int64_t lo = INT64_MAX, hi = INT64_MIN;
      for (size_t i = 0; i < c.m; i++) {
        lo = std::min(lo, T(i, j));
        hi = std::max(hi, T(i, j));
      }
      const double want = (c.qmax - c.qmin + 1) * real(0.5, 2.0) / double(hi - lo + 1);
      mult[j] = static_cast<float>(std::clamp(want, 1e-4, 1.0));
      offset[j] = static_cast<float>(0.5 * (c.qmin + c.qmax) - 0.5 * double(lo + hi) * mult[j] +
                                     real(-2.0, 2.0));
      if (j % 2 == 1) {
        const int64_t ti = T(uniform(0, static_cast<int>(c.m) - 1), j);
        offset[j] = static_cast<float>(uniform(c.qmin, c.qmax) - double(ti) * mult[j]);
      }
    }
    params = {bias.data(),
              mult.data(),
              offset.data(),
              c.asym ? zw.data() : nullptr,
              c.asym ? rowsum.data() : nullptr,
              c.qmin,
              c.qmax};
    expect.resize(c.m * c.n);
    for (size_t i = 0; i < c.m; i++) {
      for (size_t j = 0; j < c.n; j++)
        expect[i * c.n + j] = zsq_requant_scalar(acc[i * c.n + j], i, j, &params);
    }
  }
  int64_t T(size_t i, size_t j) const {
    return int64_t(acc[i * cs.n + j]) + bias[j] - int64_t(zw[j]) * rowsum[i];
  }

  // C (m rows of c_stride bytes, canary elsewhere) from cfg: A packed by cfg->pack_a, W by
  // zsq_bitserial_pack_qc2w for cfg's tile, M walked in cfg->mr rows (rowsum offset per call).
  std::vector<uint8_t> Run(const zsq_bitserial_config *cfg) const {
    const size_t ps = zsq_bitplanes_2b_row_bytes(cs.k) + cs.packed_extra;
    std::vector<uint8_t> pa(cs.m * ps, kCanary);
    cfg->pack_a(cs.m, cs.k, a.data(), as, pa.data(), ps);
    std::vector<uint8_t> pw(zsq_bitserial_packed_size(cs.n, cs.k, cfg->nr, cfg->kw));
    zsq_bitserial_pack_qc2w(cs.n, cs.k, cfg->nr, cfg->kw, w.data(), cs.k, pw.data());
    const size_t ccs = std::max(cs.c_stride, cs.n);
    std::vector<uint8_t> c(cs.m * ccs, kCanary);
    for (size_t m0 = 0; m0 < cs.m; m0 += cfg->mr) {
      zsq_gemm_requant_params p = params;
      if (p.rowsum != nullptr) p.rowsum += m0;
      cfg->ukernel(std::min<size_t>(cfg->mr, cs.m - m0), cs.n, cs.k, pa.data() + m0 * ps, ps,
                   pw.data(), c.data() + m0 * ccs, ccs, &p);
    }
    return c;
  }

  Case cs;
  size_t as = 0;
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<int32_t> acc, rowsum, bias, zw;
  std::vector<float> mult, offset;
  zsq_gemm_requant_params params{};
  std::vector<uint8_t> expect;
};

const zsq_bitserial_config *Scalar() {
  const zsq_bitserial_config *cfg = nullptr;
  EXPECT_EQ(zsq_bitserial_config_for_isa("scalar", &cfg), ZSQ_OK);
  return cfg;
}

class BitserialTier : public testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    const zsq_status s = zsq_bitserial_config_for_isa(GetParam(), &cfg_);
    if (s == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << "host lacks " << GetParam();
    ASSERT_EQ(s, ZSQ_OK);
  }
  // (1) oracle == plain dot product + requant-scalar.h; (2) tier == oracle byte for byte, bytes
  // between rows untouched.
  void Check(const Case &c) const {
    const Problem pr(c);
    const std::vector<uint8_t> oracle = pr.Run(Scalar()), got = pr.Run(cfg_);
    const size_t ccs = std::max(c.c_stride, c.n);
    for (size_t i = 0; i < c.m; i++) {
      for (size_t j = 0; j < ccs; j++) {
        const size_t at = i * ccs + j;
        if (j >= c.n) {
          ASSERT_EQ(got[at], kCanary) << "wrote past n at m=" << i << " n=" << j << c.Str();
          continue;
        }
        ASSERT_EQ(oracle[at], pr.expect[i * c.n + j])
            << "oracle vs int32 dot at m=" << i << " n=" << j << c.Str();
        ASSERT_EQ(got[at], oracle[at])
            << GetParam() << " vs oracle at m=" << i << " n=" << j << c.Str();
      }
    }
  }
  size_t Mr() const { return static_cast<size_t>(cfg_->mr); }
  const zsq_bitserial_config *cfg_ = nullptr;
};

const size_t kKs[] = {1, 3, 31, 32, 33, 63, 64, 65, 127, 128, 129, 576, 1000};

TEST_P(BitserialTier, SweepMNK) {
  for (size_t k : kKs) {
    for (size_t n = 1; n <= 70; n++) {
      for (size_t m = 1; m <= Mr() + 1; m++) {
        Case c;
        c.m = m;
        c.n = n;
        c.k = k;
        Check(c);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(BitserialTier, AccumulatorVisible) {  // C = acc + 128 exposes every accumulator bit
  for (size_t k : {1, 3, 5, 13, 21}) {
    for (size_t n : {1, 16, 33, 70}) {
      Case c;
      c.m = Mr() + 1;
      c.n = n;
      c.k = k;
      c.identity = true;
      Check(c);
    }
  }
}

TEST_P(BitserialTier, ExtremeCodes) {
  for (Codes codes : {Codes::kMinProduct, Codes::kMaxProduct}) {
    for (size_t k : kKs) {
      for (size_t n : {1, 17, 32, 64, 70}) {
        Case c;
        c.m = Mr() + 1;
        c.n = n;
        c.k = k;
        c.codes = codes;
        Check(c);
        c.k = std::min<size_t>(k, 21);  // |acc| <= 126: visible through C = acc + 128
        c.identity = true;
        Check(c);
      }
    }
  }
}

TEST_P(BitserialTier, Strides) {
  for (size_t k : {1, 33, 129, 576}) {
    for (size_t n : {1, 16, 31, 33, 70}) {
      Case c;
      c.m = Mr() + 1;
      c.n = n;
      c.k = k;
      c.a_stride = k + 9;
      c.packed_extra = 64;
      c.c_stride = n + 5;
      Check(c);
    }
  }
}

TEST_P(BitserialTier, Clamps) {
  const int32_t bounds[][2] = {{0, 3}, {1, 2}, {0, 15}, {100, 140}, {7, 7}, {0, 255}};
  for (const auto &b : bounds) {
    for (size_t k : {3, 64, 576}) {
      Case c;
      c.m = Mr();
      c.n = 37;
      c.k = k;
      c.qmin = b[0];
      c.qmax = b[1];
      Check(c);
    }
  }
}

TEST_P(BitserialTier, AsymmetricWeights) {
  for (size_t k : {1, 65, 1000}) {
    for (size_t n : {5, 32, 70}) {
      Case c;
      c.m = Mr() + 1;
      c.n = n;
      c.k = k;
      c.asym = true;
      Check(c);
    }
  }
}

TEST_P(BitserialTier, LargeK) {
  for (size_t k : {4608, 65536}) {
    Case c;
    c.m = Mr();
    c.n = 33;
    c.k = k;
    Check(c);
    c.codes = Codes::kMinProduct;
    Check(c);
  }
}

// The tier's activation packer writes the scalar packer's bytes (padding included) and reads
// only bits 0 and 1 of each code.
TEST_P(BitserialTier, PackA) {
  for (size_t k : kKs) {
    for (size_t extra : {0, 32}) {
      const size_t m = 3, as = k + 5, ps = zsq_bitplanes_2b_row_bytes(k) + extra;
      std::mt19937 rng(static_cast<uint32_t>(k));
      std::vector<uint8_t> a((m - 1) * as + k), high(a.size());
      for (size_t i = 0; i < a.size(); i++) {
        a[i] = static_cast<uint8_t>(rng() & 3);
        high[i] = static_cast<uint8_t>(a[i] | (rng() & 0xFC));
      }
      std::vector<uint8_t> want(m * ps, kCanary), got(m * ps, kCanary), got_high(m * ps, kCanary);
      zsq_pack_a_bitplanes_2b(m, k, a.data(), as, want.data(), ps);
      cfg_->pack_a(m, k, a.data(), as, got.data(), ps);
      cfg_->pack_a(m, k, high.data(), as, got_high.data(), ps);
      ASSERT_EQ(got, want) << "k=" << k;
      ASSERT_EQ(got_high, want) << "k=" << k << " (codes with high bits set)";
      for (size_t i = 0; i < m; i++) {  // bit k of plane p = bit p of code k, padding zero
        const auto *row = reinterpret_cast<const zsq_bitplanes_2b_block *>(want.data() + i * ps);
        for (size_t kk = 0; kk < zsq_round_up(k, 128); kk++) {
          for (int p = 0; p < 2; p++) {
            const int bit = row[kk / 128].plane[p][kk / 64 % 2] >> (kk % 64) & 1;
            ASSERT_EQ(bit, kk < k ? a[i * as + kk] >> p & 1 : 0) << "k=" << kk;
          }
        }
      }
    }
  }
}

// The tier's table entry, and the best tier is one this host runs.
TEST_P(BitserialTier, Config) {
  EXPECT_STREQ(cfg_->isa, GetParam());
  const zsq_bitserial_config *best = zsq_bitserial_config_best(), *cfg = nullptr;
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(zsq_bitserial_config_for_isa(best->isa, &cfg), ZSQ_OK);
  EXPECT_EQ(cfg, best);
  EXPECT_EQ(zsq_bitserial_config_for_isa("avx512vnni", &cfg), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(zsq_bitserial_config_for_isa(nullptr, &cfg), ZSQ_ERR_INVALID_ARG);
}

// Weight layout of bitserial.h for the tier's tile: bit kk of column j of block (nb, kb) in
// plane p is bit p of code w[nb·nr + j][kb·kw + kk].
TEST_P(BitserialTier, WeightLayout) {
  const size_t nr = cfg_->nr, kw = cfg_->kw, n = 37, k = 150;
  std::mt19937 rng(static_cast<uint32_t>(nr));
  std::vector<int8_t> w(n * k);
  for (auto &x : w) x = static_cast<int8_t>(int(rng() % 4) - 2);
  std::vector<uint8_t> out(zsq_bitserial_packed_size(n, k, nr, kw));
  zsq_bitserial_pack_qc2w(n, k, nr, kw, w.data(), k, out.data());
  const size_t np = zsq_round_up(n, nr), kp = zsq_round_up(k, kw);
  ASSERT_EQ(out.size() * 4, np * kp);
  for (size_t j = 0; j < np; j++) {
    for (size_t kk = 0; kk < kp; kk++) {
      const size_t block = (j / nr) * (kp / kw) + kk / kw;
      for (size_t p = 0; p < 2; p++) {
        const size_t byte = block * 2 * nr * kw / 8 + (p * nr + j % nr) * kw / 8 + kk % kw / 8;
        const int bit = out[byte] >> (kk % 8) & 1;
        const int want = j < n && kk < k ? static_cast<uint8_t>(w[j * k + kk]) >> p & 1 : 0;
        ASSERT_EQ(bit, want) << "n=" << j << " k=" << kk;
      }
    }
  }
}

// Test names start with "bitserial/" (ctest -R bitserial).
INSTANTIATE_TEST_SUITE_P(bitserial, BitserialTier,
                         testing::Values("scalar", "avx512vpopcnt", "neon"),
                         [](const testing::TestParamInfo<const char *> &info) {
                           return std::string(info.param);
                         });

}  // namespace
