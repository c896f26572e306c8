// test_dwconv_kernels.cc — depthwise ukernels: every tier's kernel bit-exact against the scalar
// oracle, and the oracle exact against a recomputation, over channel counts below, at and above
// each vector width, windows of 1..25 taps, both epilogues and their clamps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/configs/dwconv-config.h"

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Draws one row problem (channels x width x ks), runs the ukernel under test and the scalar
// oracle on the same indirection buffer, and requires the oracle to equal a recomputation (sum in
// int64, then the kernels/dwconv.h epilogue) and the ukernel to equal the oracle bit for bit,
// leaving the bytes after the row untouched. Every input pixel is its own allocation of exactly
// `channels` codes, so a read past the last channel is out of bounds (ASan).
class DwconvTester {
 public:
  DwconvTester &channels(size_t v) {
    channels_ = v;
    return *this;
  }
  DwconvTester &width(size_t v) {
    width_ = v;
    return *this;
  }
  DwconvTester &ks(size_t v) {
    ks_ = v;
    return *this;
  }
  DwconvTester &abits(int v) {
    abits_ = v;
    return *this;
  }
  DwconvTester &wbits(int v) {
    wbits_ = v;
    return *this;
  }
  DwconvTester &bounds(float lo, float hi) {
    lo_ = lo;
    hi_ = hi;
    return *this;
  }
  DwconvTester &seed(uint32_t v) {
    seed_ = v;
    return *this;
  }

  // f32: the float-output kernels (bounds are any floats); else codes (bounds are codes).
  void Test(zsq_dwconv_ukernel_fn ukernel, zsq_dwconv_ukernel_fn oracle, bool f32) const {
    std::mt19937 rng(seed_ ^ static_cast<uint32_t>(channels_ * 131 + width_ * 17 + ks_));
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto real = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    const size_t c = channels_;
    const int amax = (1 << abits_) - 1;
    const int wmin = -(1 << (wbits_ - 1)), wmax = (1 << (wbits_ - 1)) - 1;
    const int za = uniform(0, amax);
    // A few distinct pixels (one of them the zero-point row) referenced by random taps.
    const size_t pixels = width_ + ks_ + 1;
    std::vector<std::unique_ptr<uint8_t[]>> pix(pixels);
    for (size_t i = 0; i < pixels; i++) {
      pix[i].reset(new uint8_t[c]);
      for (size_t j = 0; j < c; j++)
        pix[i][j] = static_cast<uint8_t>(i == 0 ? za : uniform(0, amax));
    }
    std::vector<const uint8_t *> input(width_ * ks_);
    for (auto &ptr : input) ptr = pix[uniform(0, static_cast<int>(pixels) - 1)].get();
    std::vector<int8_t> w(ks_ * c);
    for (auto &x : w) x = static_cast<int8_t>(uniform(wmin, wmax));
    std::vector<int32_t> bias(c);
    for (size_t j = 0; j < c; j++) {
      int32_t wsum = 0;
      for (size_t k = 0; k < ks_; k++) wsum += w[k * c + j];
      bias[j] = -za * wsum + uniform(-300, 300);
    }
    std::vector<int64_t> t(width_ * c);
    for (size_t x = 0; x < width_; x++) {
      for (size_t j = 0; j < c; j++) {
        int64_t acc = bias[j];
        for (size_t k = 0; k < ks_; k++) acc += int64_t(input[x * ks_ + k][j]) * w[k * c + j];
        t[x * c + j] = acc;
      }
    }
    // mult scaled to the channel's spread over a code range of 256; offset centres it, so floor()
    // lands on varied codes and the clamps are hit; odd channels put one pixel within an ulp of a
    // code boundary (fma against mul + add shows there).
    std::vector<float> mult(c), offset(c);
    for (size_t j = 0; j < c; j++) {
      int64_t lo = t[j], hi = t[j];
      for (size_t x = 0; x < width_; x++) {
        lo = std::min(lo, t[x * c + j]);
        hi = std::max(hi, t[x * c + j]);
      }
      mult[j] =
          static_cast<float>(std::clamp(256.0 * real(0.5, 2.0) / double(hi - lo + 1), 1e-4, 1e-1) *
                             (uniform(0, 5) == 0 ? -1.0 : 1.0));
      offset[j] = static_cast<float>(127.5 - 0.5 * double(lo + hi) * mult[j] + real(-2.0, 2.0));
      if (j % 2 == 1) {
        const int64_t tx = t[uniform(0, static_cast<int>(width_) - 1) * c + j];
        offset[j] = static_cast<float>(uniform(0, 255) - double(tx) * mult[j]);
      }
    }
    const zsq_dwconv_params p{bias.data(), mult.data(), offset.data(), lo_, hi_};
    const size_t elem = f32 ? sizeof(float) : 1, bytes = width_ * c * elem, guard = 64;
    std::vector<uint8_t> got(bytes + guard, kCanary), want(bytes + guard, kCanary);
    ukernel(c, width_, ks_, input.data(), w.data(), got.data(), &p);
    oracle(c, width_, ks_, input.data(), w.data(), want.data(), &p);
    for (size_t i = 0; i < width_ * c; i++) {
      const float v =
          zsq_dwconv_clamp(std::fmaf(float(t[i]), mult[i % c], offset[i % c]), lo_, hi_);
      if (f32) {
        float o, g;
        std::memcpy(&o, want.data() + 4 * i, 4);
        std::memcpy(&g, got.data() + 4 * i, 4);
        ASSERT_EQ(std::memcmp(&o, &v, 4), 0) << "oracle " << o << " vs " << v << At(i);
        ASSERT_EQ(std::memcmp(&g, &o, 4), 0) << "ukernel " << g << " vs oracle " << o << At(i);
      } else {
        ASSERT_EQ(want[i], static_cast<uint8_t>(std::floor(double(v)))) << "oracle" << At(i);
        ASSERT_EQ(got[i], want[i]) << "ukernel vs oracle" << At(i);
      }
    }
    for (size_t i = bytes; i < bytes + guard; i++) ASSERT_EQ(got[i], kCanary) << "wrote past row";
  }

 private:
  static constexpr uint8_t kCanary = 0xA5;

  std::string At(size_t i) const {
    return " at x=" + std::to_string(i / channels_) + " c=" + std::to_string(i % channels_) +
           " (channels=" + std::to_string(channels_) + " width=" + std::to_string(width_) +
           " ks=" + std::to_string(ks_) + " w" + std::to_string(wbits_) + "a" +
           std::to_string(abits_) + ")";
  }

  size_t channels_ = 16, width_ = 3, ks_ = 9;
  int abits_ = 8, wbits_ = 8;
  float lo_ = 0.0f, hi_ = 255.0f;
  uint32_t seed_ = 1;
};

struct Kernel {
  const char *isa;
  zsq_dwconv_kind kind;
};

const char *const kKindNames[] = {"3x3_requant", "3x3_f32", "requant", "f32"};

void PrintTo(const Kernel &k, std::ostream *os) {
  *os << k.isa << " " << kKindNames[k.kind];
}

std::string Name(const testing::TestParamInfo<Kernel> &info) {
  return std::string(info.param.isa) + "_" + kKindNames[info.param.kind];
}

class DwconvUkernel : public testing::TestWithParam<Kernel> {
 protected:
  void SetUp() override {
    const zsq_status s = zsq_dwconv_config_for_isa(GetParam().isa, GetParam().kind, &cfg_);
    if (s == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << "host lacks " << GetParam().isa;
    ASSERT_EQ(s, ZSQ_OK);
    ASSERT_EQ(zsq_dwconv_config_for_isa("scalar", GetParam().kind, &oracle_), ZSQ_OK);
  }
  bool F32() const {
    return GetParam().kind == ZSQ_DWCONV_3X3_F32 || GetParam().kind == ZSQ_DWCONV_F32;
  }
  // The windows this kernel takes: 9 taps only, or any.
  std::vector<size_t> Windows() const {
    if (cfg_->ks == 9) return {9};
    return {1, 9, 25, 15, 2, 10};  // 1x1, 3x3, 5x5, 3x5, and the two chains' odd / even ends
  }
  void Run(const DwconvTester &t) const { t.Test(cfg_->ukernel, oracle_->ukernel, F32()); }
  const zsq_dwconv_config *cfg_ = nullptr;
  const zsq_dwconv_config *oracle_ = nullptr;
};

const size_t kChannels[] = {1, 7, 15, 16, 17, 31, 32, 33, 64, 65, 80, 112, 144};

TEST_P(DwconvUkernel, Channels) {
  for (size_t ks : Windows()) {
    for (size_t c : kChannels) {
      for (size_t width : {1, 2, 5}) {
        DwconvTester t;
        t.channels(c).width(width).ks(ks);
        if (F32()) t.bounds(-kInf, kInf);
        Run(t);
      }
    }
  }
}

TEST_P(DwconvUkernel, Clamps) {
  for (size_t c : {size_t(7), size_t(33)}) {
    for (size_t ks : Windows()) {
      DwconvTester t;
      t.channels(c).ks(ks).width(4);
      if (F32()) {
        Run(t.bounds(0.0f, 6.0f));      // ReLU6 on the float output
        Run(t.bounds(0.0f, kInf));      // ReLU
        Run(t.bounds(-3.25f, 100.5f));  // arbitrary bounds
        Run(t.bounds(-kInf, kInf));     // none
        Run(t.bounds(-0.0f, 7.0f));     // signed zero bound
      } else {
        Run(t.bounds(20.0f, 200.0f));  // inside [0, 255]
        Run(t.bounds(0.0f, 15.0f));    // 4-bit output codes
        Run(t.bounds(0.0f, 3.0f));     // 2-bit output codes
        Run(t.bounds(7.0f, 7.0f));     // degenerate range
      }
    }
  }
}

TEST_P(DwconvUkernel, LowBitCodes) {
  for (auto [wb, ab] : {std::pair{8, 4}, {8, 2}, {4, 4}, {4, 8}, {3, 3}, {2, 2}, {2, 8}}) {
    for (size_t c : {size_t(1), size_t(17), size_t(65)}) {
      DwconvTester t;
      t.channels(c).width(3).wbits(wb).abits(ab);
      if (F32()) t.bounds(-kInf, kInf);
      for (size_t ks : Windows()) Run(t.ks(ks));
    }
  }
}

TEST_P(DwconvUkernel, Seeds) {
  for (uint32_t s = 2; s < 12; s++) {
    DwconvTester t;
    t.channels(40).width(7).seed(s);
    if (F32()) t.bounds(-kInf, kInf);
    for (size_t ks : Windows()) Run(t.ks(ks));
  }
}

std::vector<Kernel> AllKinds(const char *isa) {
  std::vector<Kernel> v;
  for (int k = 0; k < ZSQ_DWCONV_KIND_COUNT; k++) v.push_back({isa, zsq_dwconv_kind(k)});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Scalar, DwconvUkernel, testing::ValuesIn(AllKinds("scalar")), Name);
INSTANTIATE_TEST_SUITE_P(Avx2, DwconvUkernel, testing::ValuesIn(AllKinds("avx2")), Name);
INSTANTIATE_TEST_SUITE_P(Avx512vnni, DwconvUkernel, testing::ValuesIn(AllKinds("avx512vnni")),
                         Name);
INSTANTIATE_TEST_SUITE_P(Neon, DwconvUkernel, testing::ValuesIn(AllKinds("neon")), Name);

// The accumulator bound: 65536 taps of code 255 against the extreme weights reach ≈ ±2^31.
TEST(DwconvUkernelBounds, ExtremeCodesManyTaps) {
  const zsq_dwconv_config *best = zsq_dwconv_config_best(ZSQ_DWCONV_REQUANT);
  const zsq_dwconv_config *oracle = nullptr;
  ASSERT_EQ(zsq_dwconv_config_for_isa("scalar", ZSQ_DWCONV_REQUANT, &oracle), ZSQ_OK);
  const size_t ks = 65536, c = 19;
  std::vector<uint8_t> full(c, 255);
  std::vector<const uint8_t *> input(ks, full.data());
  std::vector<int8_t> w(ks * c);
  for (size_t k = 0; k < ks; k++) {
    for (size_t j = 0; j < c; j++)
      w[k * c + j] = int8_t(j % 3 == 0 ? -128 : j % 3 == 1 ? 127 : (k % 2 ? -128 : 127));
  }
  std::vector<int32_t> bias(c, 0);
  std::vector<float> mult(c, std::ldexp(1.0f, -24)), offset(c, 127.5f);
  const zsq_dwconv_params p{bias.data(), mult.data(), offset.data(), 0.0f, 255.0f};
  std::vector<uint8_t> got(c), want(c);
  best->ukernel(c, 1, ks, input.data(), w.data(), got.data(), &p);
  oracle->ukernel(c, 1, ks, input.data(), w.data(), want.data(), &p);
  for (size_t j = 0; j < c; j++) {
    int64_t acc = 0;
    for (size_t k = 0; k < ks; k++) acc += 255 * int64_t(w[k * c + j]);
    ASSERT_GE(acc, INT32_MIN);
    const float v = std::fmaf(float(acc), mult[j], offset[j]);
    ASSERT_EQ(want[j], uint8_t(std::clamp(std::floor(double(v)), 0.0, 255.0))) << "oracle c=" << j;
    ASSERT_EQ(got[j], want[j]) << best->name << " c=" << j;
  }
}

TEST(DwconvConfig, Names) {
  const zsq_dwconv_config *cfg = nullptr;
  EXPECT_EQ(zsq_dwconv_config_for_isa("nope", ZSQ_DWCONV_F32, &cfg), ZSQ_ERR_INVALID_ARG);
  ASSERT_EQ(zsq_dwconv_config_for_isa("scalar", ZSQ_DWCONV_3X3_REQUANT, &cfg), ZSQ_OK);
  EXPECT_STREQ(cfg->name, "zsq_qu8_qc8w_dwconv3x3_requant_ukernel_1c__scalar");
  EXPECT_EQ(cfg->ks, 9);
  const zsq_dwconv_config *best = zsq_dwconv_config_best(ZSQ_DWCONV_F32);
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(best->ks, 0);
  EXPECT_EQ(zsq_dwconv_config_for_isa(best->isa, ZSQ_DWCONV_F32, &cfg), ZSQ_OK);
#if defined(__x86_64__)
  EXPECT_EQ(zsq_dwconv_config_for_isa("neon", ZSQ_DWCONV_F32, &cfg), ZSQ_ERR_UNSUPPORTED);
#elif defined(__aarch64__)
  EXPECT_STREQ(best->isa, "neon");
  EXPECT_EQ(zsq_dwconv_config_for_isa("avx2", ZSQ_DWCONV_F32, &cfg), ZSQ_ERR_UNSUPPORTED);
#endif
}

}  // namespace
