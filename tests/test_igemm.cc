// test_igemm.cc — igemm ukernels (gemm.h): every tier's requant and acc kernels, 32- and
// 16-column tiles, against the exact Σ over taps and the epilogue recomputed from it, and the
// requant kernels bit-exact against the scalar oracle; zero-row taps, per-image offsets, kc not
// a multiple of KR, and rows ending at a guard page (a read past kc of a row faults).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/configs/gemm-config.h"

namespace {

// bytes readable memory whose last byte is followed by an inaccessible page.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t bytes) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    span_ = (bytes + page - 1) / page * page + page;
    base_ = static_cast<uint8_t *>(
        mmap(nullptr, span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      return;
    }
    mprotect(base_ + span_ - page, page, PROT_NONE);
    data_ = base_ + span_ - page - bytes;
  }
  ~GuardedBuffer() {
    if (base_ != nullptr) munmap(base_, span_);
  }
  GuardedBuffer(const GuardedBuffer &) = delete;
  GuardedBuffer &operator=(const GuardedBuffer &) = delete;
  uint8_t *data() const { return data_; }

 private:
  uint8_t *base_ = nullptr, *data_ = nullptr;
  size_t span_ = 0;
};

struct Tier {
  const char *isa;
  zsq_gemm_wt wt;
  bool narrow;  // the tier's 16-column tile
};

std::string Name(const testing::TestParamInfo<Tier> &info) {
  return std::string(info.param.isa) + (info.param.wt == ZSQ_GEMM_QC8W ? "_qc8w" : "_qc4w") +
         (info.param.narrow ? "_narrow" : "");
}

struct Case {
  size_t m, n, kc, ks;
  int wbits = 8, abits = 8;
  bool offset = false;  // pointers into image 0, the data read at + a_offset (image 1)
  bool asym = false;    // zw != 0 and rowsum
  int32_t qmin = 0, qmax = 255;
  uint32_t seed = 1;
  bool extreme = false;  // every code 255, each column's weights all at one extreme
};

class Igemm : public testing::TestWithParam<Tier> {
 protected:
  void SetUp() override {
    const zsq_status s = zsq_gemm_config_for_isa(GetParam().isa, GetParam().wt, &cfg_);
    if (s == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << "host lacks " << GetParam().isa;
    ASSERT_EQ(s, ZSQ_OK);
    if (GetParam().narrow) cfg_ = cfg_->narrow;
    if (cfg_ == nullptr) GTEST_SKIP() << GetParam().isa << " has no 16-column tile";
    if (cfg_->igemm == nullptr) GTEST_SKIP() << GetParam().isa << " has no igemm kernels";
  }

  void Test(const Case &t) {
    const size_t m = t.m, n = t.n, kc = t.kc, ks = t.ks, pixels = 5;
    std::mt19937 rng(t.seed ^ uint32_t(m * 131 + n * 17 + kc * 7 + ks));
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const int amax = (1 << t.abits) - 1;
    const int wlo = -(1 << (t.wbits - 1)), whi = (1 << (t.wbits - 1)) - 1;
    // Image 0 (never read when offset), then the image read: pixels of kc codes, the last one
    // against the guard page; the zero row (za) ends at a guard page of its own.
    const size_t a_offset = t.offset ? pixels * kc + 3 : 0;
    GuardedBuffer in(a_offset + pixels * kc), zero_buf(kc);
    ASSERT_NE(in.data(), nullptr);
    ASSERT_NE(zero_buf.data(), nullptr);
    for (size_t i = 0; i < a_offset + pixels * kc; i++)
      in.data()[i] = uint8_t(t.extreme ? amax : uni(0, amax));
    const uint8_t za = uint8_t(t.extreme ? amax : uni(0, amax));
    std::fill(zero_buf.data(), zero_buf.data() + kc, za);
    std::vector<const uint8_t *> ind(m * ks);
    for (auto &p : ind)
      p = uni(0, 3) == 0 ? zero_buf.data() : in.data() + size_t(uni(0, int(pixels) - 1)) * kc;
    ind.back() = in.data() + (pixels - 1) * kc;  // the row that ends at the guard page
    auto row = [&](size_t i, size_t tap) {
      const uint8_t *p = ind[i * ks + tap];
      return p == zero_buf.data() ? p : p + a_offset;
    };
    // W[n][tap·kc + c]; the kernel's copy padded per tap to round_up(kc, kr) with zeros.
    std::vector<int8_t> w(n * ks * kc);
    for (size_t i = 0; i < w.size(); i++)
      w[i] = int8_t(t.extreme ? (i / (ks * kc) % 2 ? whi : wlo) : uni(wlo, whi));
    const size_t kcp = zsq_round_up(kc, size_t(cfg_->kr));
    std::vector<int8_t> wpad(n * ks * kcp, 0);
    for (size_t j = 0; j < n; j++) {
      for (size_t tap = 0; tap < ks; tap++) {
        std::copy_n(&w[(j * ks + tap) * kc], kc, &wpad[(j * ks + tap) * kcp]);
      }
    }
    std::vector<int64_t> acc(m * n, 0);
    std::vector<int32_t> rowsum(m, 0);
    for (size_t i = 0; i < m; i++) {
      for (size_t tap = 0; tap < ks; tap++) {
        for (size_t c = 0; c < kc; c++) {
          rowsum[i] += row(i, tap)[c];
          for (size_t j = 0; j < n; j++)
            acc[i * n + j] += row(i, tap)[c] * w[(j * ks + tap) * kc + c];
        }
      }
    }
    const auto packed = Pack(wpad, n, ks * kcp, size_t(cfg_->nr), size_t(cfg_->kr));

    // acc: the exact sums, columns past n untouched.
    const size_t cs = n + 3;
    std::vector<int32_t> got_acc(m * cs, 0x5A5A5A5A);
    cfg_->igemm_acc(m, n, kc, ks, ind.data(), a_offset, zero_buf.data(), packed.data(),
                    got_acc.data(), cs * sizeof(int32_t));
    for (size_t i = 0; i < m; i++) {
      for (size_t j = 0; j < cs; j++) {
        const int64_t want = j < n ? acc[i * n + j] : 0x5A5A5A5A;
        ASSERT_EQ(got_acc[i * cs + j], want) << "acc at m=" << i << " n=" << j << Shape(t);
      }
    }

    // requant: the epilogue of the exact sums; mult and offset spread the codes over the range.
    std::vector<int32_t> bias(n), zw(n, 0);
    std::vector<float> mult(n), offset(n);
    for (size_t j = 0; j < n; j++) {
      if (t.asym) zw[j] = uni(wlo, whi);
      bias[j] = uni(-300, 300);
      int64_t lo = INT64_MAX, hi = INT64_MIN;
      for (size_t i = 0; i < m; i++) {
        const int64_t v = acc[i * n + j] + bias[j] - int64_t(zw[j]) * rowsum[i];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      mult[j] = float(std::clamp((t.qmax - t.qmin + 1) / double(hi - lo + 1), 1e-4, 1e-1));
      offset[j] = float(t.qmin - double(lo) * mult[j] + uni(-2, 2) + 0.25 * uni(0, 3));
    }
    const zsq_gemm_requant_params p{bias.data(),
                                    mult.data(),
                                    offset.data(),
                                    t.asym ? zw.data() : nullptr,
                                    t.asym ? rowsum.data() : nullptr,
                                    t.qmin,
                                    t.qmax};
    std::vector<uint8_t> got(m * cs, 0xA5), oracle(m * cs, 0xA5);
    cfg_->igemm(m, n, kc, ks, ind.data(), a_offset, zero_buf.data(), packed.data(), got.data(), cs,
                &p);
    const bool w8 = t.wbits == 8;
    const auto ref_packed = Pack(w, n, ks * kc, w8 ? 1 : 2, 1);
    (w8 ? zsq_qu8_qc8w_igemm_requant_ukernel_1x1c1__scalar
        : zsq_qu8_qc4w_igemm_requant_ukernel_1x2c1__scalar)(m, n, kc, ks, ind.data(), a_offset,
                                                            zero_buf.data(), ref_packed.data(),
                                                            oracle.data(), cs, &p);
    for (size_t i = 0; i < m; i++) {
      for (size_t j = 0; j < cs; j++) {
        const size_t at = i * cs + j;
        if (j >= n) {
          ASSERT_EQ(got[at], 0xA5) << "wrote past n at m=" << i << " n=" << j;
          continue;
        }
        const int64_t v = acc[i * n + j] + bias[j] - int64_t(zw[j]) * rowsum[i];
        const float y = std::fmaf(float(v), mult[j], offset[j]);
        const double q = std::clamp(std::floor(double(y)), double(t.qmin), double(t.qmax));
        ASSERT_EQ(oracle[at], uint8_t(q)) << "oracle at m=" << i << " n=" << j << Shape(t);
        ASSERT_EQ(got[at], oracle[at]) << "ukernel at m=" << i << " n=" << j << Shape(t);
      }
    }
  }

  size_t Nr() const { return size_t(cfg_->nr); }
  size_t Mr() const { return size_t(cfg_->mr); }
  int Wbits() const { return cfg_->wbits; }

 private:
  // The kernel's packing (cfg_->pack) or, for the scalar oracle's (nr, kr), the portable one.
  std::vector<uint8_t> Pack(const std::vector<int8_t> &w, size_t n, size_t k, size_t nr,
                            size_t kr) const {
    const int bits = cfg_->wbits;
    std::vector<uint8_t> out(zsq_gemm_packed_size(n, k, nr, kr, bits));
    const zsq_gemm_pack_fn pack = nr == size_t(cfg_->nr) && kr == size_t(cfg_->kr)
                                      ? cfg_->pack
                                      : (bits == 8 ? zsq_gemm_pack_qc8w : zsq_gemm_pack_qc4w);
    pack(n, k, nr, kr, w.data(), k, out.data());
    return out;
  }
  static std::string Shape(const Case &t) {
    return " (m=" + std::to_string(t.m) + " n=" + std::to_string(t.n) +
           " kc=" + std::to_string(t.kc) + " ks=" + std::to_string(t.ks) + " w" +
           std::to_string(t.wbits) + "a" + std::to_string(t.abits) + ")";
  }
  const zsq_gemm_config *cfg_ = nullptr;
};

TEST_P(Igemm, SweepMKcKs) {
  const size_t nr = Nr();
  for (size_t m = 1; m <= Mr(); m++) {
    for (size_t kc : {1, 3, 4, 5, 8, 16, 19}) {
      for (size_t ks : {1, 2, 9}) {
        for (size_t n : {size_t(1), nr - 1, nr, nr + 1, 2 * nr + 3}) {
          if (n == 0) continue;
          Test(Case{m, n, kc, ks, Wbits()});
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_P(Igemm, OffsetsAndAsymmetricWeights) {
  for (size_t m : {size_t(1), Mr() / 2 + 1, Mr()}) {
    for (bool asym : {false, true}) {
      Test(Case{m, Nr() + 5, 16, 9, Wbits(), 8, true, asym});
      Test(Case{m, 2 * Nr(), 7, 4, Wbits(), 8, true, asym});
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(Igemm, ResNetShapes) {
  // 3x3 taps of 16, 32 and 64 channels (the ResNet-20 teacher) and long taps (cin 256, and 300
  // for a partial 64-code run: the 4-bit VNNI row sums of taps of >= 256 codes).
  for (size_t kc : {16, 32, 64, 256, 300}) {
    Test(Case{Mr(), 16, kc, 9, Wbits(), 8, true});
    Test(Case{Mr() > 7 ? 7 : Mr(), 64 + 3, kc, 9, Wbits(), 4});
    if (HasFatalFailure()) return;
  }
}

TEST_P(Igemm, LowBitCodesAndClamps) {
  const std::vector<std::pair<int, int>> wa =
      Wbits() == 8 ? std::vector<std::pair<int, int>>{{8, 4}, {8, 2}}
                   : std::vector<std::pair<int, int>>{{4, 4}, {3, 3}, {4, 2}, {2, 8}};
  for (auto [wb, ab] : wa) {
    Case t{Mr(), Nr() + 1, 12, 9, wb, ab};
    t.qmax = (1 << ab) - 1;
    Test(t);
    t.qmin = 1;
    t.qmax = 2;
    Test(t);
    if (HasFatalFailure()) return;
  }
}

// A 5x5 window (25 taps) over several seeds.
TEST_P(Igemm, ManyTapsSeeds) {
  for (uint32_t s = 2; s < 8; s++) {
    Test(Case{Mr(), Nr() + 7, 36, 25, Wbits(), 8, true, false, 0, 255, s});
  }
}

// Σ a·w at the accumulator bound of docs/kernels.md: K = ks·kc = 65536 codes of 255 against
// the extreme weights (Σ near -2^31 for 8-bit).
// Short taps (kc 64) and long ones (kc 256: the 4-bit VNNI tiles' row-sum path).
TEST_P(Igemm, ExtremeCodesMaxK) {
  for (size_t kc : {64, 256}) {
    Case t{Mr(), Nr() + 3, kc, 65536 / kc, Wbits()};
    t.extreme = true;
    Test(t);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tiers, Igemm,
    testing::Values(Tier{"scalar", ZSQ_GEMM_QC8W, false}, Tier{"scalar", ZSQ_GEMM_QC4W, false},
                    Tier{"avx2", ZSQ_GEMM_QC8W, false}, Tier{"avx2", ZSQ_GEMM_QC4W, false},
                    Tier{"avx512vnni", ZSQ_GEMM_QC8W, false},
                    Tier{"avx512vnni", ZSQ_GEMM_QC4W, false},
                    Tier{"avx512vnni", ZSQ_GEMM_QC8W, true},
                    Tier{"avx512vnni", ZSQ_GEMM_QC4W, true}, Tier{"neon", ZSQ_GEMM_QC8W, false},
                    Tier{"neon", ZSQ_GEMM_QC4W, false}, Tier{"neondot", ZSQ_GEMM_QC8W, false},
                    Tier{"neondot", ZSQ_GEMM_QC4W, false}),
    Name);

}  // namespace
