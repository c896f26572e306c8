// test_gemm.cc — GEMM ukernels: every tier's kernel bit-exact against the scalar oracle, and the
// oracle exact against a recomputation, over shapes below, at and above each tile.
#include <gtest/gtest.h>

#include <string>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include "gemm-tester.h"
#include "kernels/configs/gemm-config.h"

namespace {

struct Kernel {
  const char *isa;
  zsq_gemm_wt wt;
  bool narrow = false;  // the tier's 16-column tile (zsq_gemm_config.narrow)
};

std::string Name(const testing::TestParamInfo<Kernel> &info) {
  return std::string(info.param.isa) + (info.param.wt == ZSQ_GEMM_QC8W ? "_qc8w" : "_qc4w") +
         (info.param.narrow ? "_narrow" : "");
}

class GemmUkernel : public testing::TestWithParam<Kernel> {
 protected:
  void SetUp() override {
    const zsq_status s = zsq_gemm_config_for_isa(GetParam().isa, GetParam().wt, &cfg_);
    if (s == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << "host lacks " << GetParam().isa;
    ASSERT_EQ(s, ZSQ_OK);
    if (GetParam().narrow) cfg_ = cfg_->narrow;
    if (cfg_ == nullptr) GTEST_SKIP() << GetParam().isa << " has no 16-column tile";
  }
  GemmTester Tester() const {
    return GemmTester()
        .mr(cfg_->mr)
        .nr(cfg_->nr)
        .kr(cfg_->kr)
        .pack(cfg_->pack)
        .wbits(cfg_->wbits)
        .m(cfg_->mr)
        .n(cfg_->nr)
        .k(cfg_->kr);
  }
  // n below, at and above the tile, odd, and over two blocks.
  std::vector<size_t> Ns() const {
    const size_t nr = cfg_->nr;
    std::vector<size_t> ns = {1, nr, nr + 1, 2 * nr + 3, 3};
    if (nr > 2) ns.push_back(nr - 1);
    return ns;
  }
  const zsq_gemm_config *cfg_ = nullptr;
};

TEST_P(GemmUkernel, TileExact) {
  Tester().Test(cfg_->ukernel);
}

TEST_P(GemmUkernel, SweepMNK) {
  for (size_t m = 1; m <= static_cast<size_t>(cfg_->mr); m++) {
    for (size_t k = 1; k <= 3 * static_cast<size_t>(cfg_->kr) + 1; k++) {
      for (size_t n : Ns()) Tester().m(m).n(n).k(k).Test(cfg_->ukernel);
    }
  }
}

TEST_P(GemmUkernel, LargeK) {
  for (size_t k : {64, 575, 576, 1153, 4608}) {
    Tester().n(2 * cfg_->nr + 5).k(k).Test(cfg_->ukernel);
    Tester()
        .m(cfg_->mr > 1 ? cfg_->mr - 1 : 1)
        .n(cfg_->nr)
        .k(k)
        .asym_weights(true)
        .Test(cfg_->ukernel);
  }
}

TEST_P(GemmUkernel, Strides) {
  for (size_t k : {size_t(1), size_t(cfg_->kr + 3), size_t(37)}) {
    for (size_t n : Ns()) Tester().n(n).k(k).a_stride(k + 7).c_stride(n + 5).Test(cfg_->ukernel);
  }
}

TEST_P(GemmUkernel, Clamps) {
  for (size_t n : Ns()) {
    Tester().n(n).k(19).qmin(20).qmax(200).Test(cfg_->ukernel);  // clamps inside [0, 255]
    Tester().n(n).k(19).qmin(0).qmax(15).Test(cfg_->ukernel);    // 4-bit output codes
    Tester().n(n).k(19).qmin(0).qmax(3).Test(cfg_->ukernel);     // 2-bit output codes
    Tester().n(n).k(19).qmin(7).qmax(7).Test(cfg_->ukernel);     // degenerate range
  }
}

TEST_P(GemmUkernel, AsymmetricWeights) {
  for (size_t m = 1; m <= static_cast<size_t>(cfg_->mr); m++) {
    for (size_t n : Ns()) Tester().m(m).n(n).k(23).asym_weights(true).Test(cfg_->ukernel);
  }
}

TEST_P(GemmUkernel, LowBitCodes) {
  // W4A4, W3A3, W3A8 on the 4-bit kernels (3-bit codes in 4-bit lanes); A4 and A2 on 8-bit ones.
  const std::vector<std::pair<int, int>> wa =
      cfg_->wbits == 8 ? std::vector<std::pair<int, int>>{{8, 4}, {8, 2}}
                       : std::vector<std::pair<int, int>>{{4, 4}, {3, 3}, {3, 8}, {4, 2}};
  for (auto [wb, ab] : wa) {
    for (size_t k : {size_t(1), size_t(cfg_->kr + 1), size_t(97)}) {
      for (size_t n : Ns()) {
        Tester().wbits(wb).abits(ab).n(n).k(k).qmax((1 << ab) - 1).Test(cfg_->ukernel);
      }
    }
  }
}

TEST_P(GemmUkernel, Seeds) {
  for (uint32_t s = 2; s < 12; s++) {
    Tester().n(cfg_->nr + 7).k(5 * cfg_->kr + 3).seed(s).Test(cfg_->ukernel);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tiers, GemmUkernel,
    testing::Values(Kernel{"scalar", ZSQ_GEMM_QC8W}, Kernel{"scalar", ZSQ_GEMM_QC4W},
                    Kernel{"avx2", ZSQ_GEMM_QC8W}, Kernel{"avx2", ZSQ_GEMM_QC4W},
                    Kernel{"avx512vnni", ZSQ_GEMM_QC8W}, Kernel{"avx512vnni", ZSQ_GEMM_QC4W}),
    Name);

// The 16-column tiles of the tiers that have one (layers of at most 16 output channels).
INSTANTIATE_TEST_SUITE_P(Narrow, GemmUkernel,
                         testing::Values(Kernel{"avx512vnni", ZSQ_GEMM_QC8W, true},
                                         Kernel{"avx512vnni", ZSQ_GEMM_QC4W, true}),
                         Name);

// The gemm_acc kernel of the tile: the exact Σ a·w, columns past n untouched.
TEST_P(GemmUkernel, AccExact) {
  if (cfg_->acc == nullptr) GTEST_SKIP() << cfg_->isa << " has no gemm_acc kernel";
  const int wb = cfg_->wbits, wlo = -(1 << (wb - 1)), whi = (1 << (wb - 1)) - 1;
  std::mt19937 rng(3);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (size_t m = 1; m <= static_cast<size_t>(cfg_->mr); m++) {
    for (size_t k : {1, 4, 7, 37, 144, 300}) {
      for (size_t n : Ns()) {
        const size_t as = k + 2, cs = n + 3;
        std::vector<uint8_t> a((m - 1) * as + k);
        for (auto &x : a) x = uint8_t(uni(0, 255));
        std::vector<int8_t> w(n * k);
        for (auto &x : w) x = int8_t(uni(wlo, whi));
        std::vector<uint8_t> packed(zsq_gemm_packed_size(n, k, cfg_->nr, cfg_->kr, wb));
        cfg_->pack(n, k, cfg_->nr, cfg_->kr, w.data(), k, packed.data());
        std::vector<int32_t> c(m * cs, 0x5A5A5A5A);
        cfg_->acc(m, n, k, a.data(), as, packed.data(), c.data(), cs * sizeof(int32_t));
        for (size_t i = 0; i < m; i++) {
          for (size_t j = 0; j < cs; j++) {
            int64_t want = 0x5A5A5A5A;
            if (j < n) {
              want = 0;
              for (size_t kk = 0; kk < k; kk++) want += int64_t(a[i * as + kk]) * w[j * k + kk];
            }
            ASSERT_EQ(c[i * cs + j], want)
                << "m=" << i << " n=" << j << " (m " << m << ", n " << n << ", k " << k << ")";
          }
        }
      }
    }
  }
}

// aarch64 tiers: "neon" runs on every AArch64 host, "neondot" only with FEAT_DotProd; both are
// skipped elsewhere (zsq_gemm_config_for_isa answers ZSQ_ERR_UNSUPPORTED).
INSTANTIATE_TEST_SUITE_P(Aarch64, GemmUkernel,
                         testing::Values(Kernel{"neon", ZSQ_GEMM_QC8W},
                                         Kernel{"neon", ZSQ_GEMM_QC4W},
                                         Kernel{"neondot", ZSQ_GEMM_QC8W},
                                         Kernel{"neondot", ZSQ_GEMM_QC4W}),
                         Name);

// The accumulator bound of docs/kernels.md: K = 65536 codes at the extremes (a = 255 against the
// most negative and the most positive weight), so Σ a·w reaches -255·128·65536 ≈ -2^31 (8-bit).
// An offset-binary (UDOT) kernel's intermediate Σ a·(w + 128) nears 2^32 here.
TEST_P(GemmUkernel, ExtremeCodesMaxK) {
  const size_t m = static_cast<size_t>(cfg_->mr), n = static_cast<size_t>(cfg_->nr) + 3;
  const size_t k = 65536;
  const int wmin = cfg_->wbits == 8 ? -128 : -8, wmax = cfg_->wbits == 8 ? 127 : 7;
  std::vector<uint8_t> a(m * k);
  for (size_t i = 0; i < m; i++) {
    for (size_t kk = 0; kk < k; kk++)
      a[i * k + kk] = i % 2 == 0 ? 255 : uint8_t(kk % 7 == 0 ? 0 : 255);
  }
  std::vector<int8_t> w(n * k);
  for (size_t j = 0; j < n; j++) {
    for (size_t kk = 0; kk < k; kk++) {
      w[j * k + kk] = static_cast<int8_t>(j % 3 == 0   ? wmin
                                          : j % 3 == 1 ? wmax
                                                       : (kk % 2 ? wmin : wmax));
    }
  }
  std::vector<int32_t> bias(n, 0);
  std::vector<float> mult(n), offset(n);
  for (size_t j = 0; j < n; j++) {
    // |acc| / 2^24 (8-bit) or / 2^20 (4-bit) spans about ±128 codes around the offset.
    mult[j] = std::ldexp(j % 2 ? 1.0f : -0.93f, cfg_->wbits == 8 ? -24 : -20);
    offset[j] = 127.5f;
  }
  const zsq_gemm_requant_params p{bias.data(), mult.data(), offset.data(), nullptr, nullptr,
                                  0,           255};
  const bool w8 = cfg_->wbits == 8;
  std::vector<uint8_t> packed(zsq_gemm_packed_size(n, k, cfg_->nr, cfg_->kr, w8 ? 8 : 4));
  std::vector<uint8_t> ref_packed(zsq_gemm_packed_size(n, k, w8 ? 1 : 2, 1, w8 ? 8 : 4));
  if (w8) {
    zsq_gemm_pack_qc8w(n, k, cfg_->nr, cfg_->kr, w.data(), k, packed.data());
    zsq_gemm_pack_qc8w(n, k, 1, 1, w.data(), k, ref_packed.data());
  } else {
    cfg_->pack(n, k, cfg_->nr, cfg_->kr, w.data(), k, packed.data());
    zsq_gemm_pack_qc4w(n, k, 2, 1, w.data(), k, ref_packed.data());
  }
  std::vector<uint8_t> got(m * n, 0), want(m * n, 0);
  cfg_->ukernel(m, n, k, a.data(), k, packed.data(), got.data(), n, &p);
  (w8 ? zsq_qu8_qc8w_gemm_requant_ukernel_1x1c1__scalar
      : zsq_qu8_qc4w_gemm_requant_ukernel_1x2c1__scalar)(m, n, k, a.data(), k, ref_packed.data(),
                                                         want.data(), n, &p);
  for (size_t i = 0; i < m; i++) {
    for (size_t j = 0; j < n; j++) {
      int64_t acc = 0;
      for (size_t kk = 0; kk < k; kk++) acc += int64_t(a[i * k + kk]) * w[j * k + kk];
      ASSERT_GE(acc, INT32_MIN);
      const float v = std::fmaf(static_cast<float>(acc), mult[j], offset[j]);
      const uint8_t q = static_cast<uint8_t>(std::clamp(std::floor(double(v)), 0.0, 255.0));
      ASSERT_EQ(want[i * n + j], q) << "oracle at m=" << i << " n=" << j;
      ASSERT_EQ(got[i * n + j], want[i * n + j]) << "ukernel at m=" << i << " n=" << j;
    }
  }
}

#if defined(__aarch64__) && defined(__linux__)
// The config's dot-product tier follows the kernel's HWCAP_ASIMDDP bit.
TEST(GemmConfig, Aarch64TiersFollowHwcap) {
  const zsq_gemm_config *neon = nullptr, *dot = nullptr;
  ASSERT_EQ(zsq_gemm_config_for_isa("neon", ZSQ_GEMM_QC8W, &neon), ZSQ_OK);
  const bool has_dot = (getauxval(AT_HWCAP) & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
  EXPECT_EQ(zsq_gemm_config_for_isa("neondot", ZSQ_GEMM_QC8W, &dot) == ZSQ_OK, has_dot);
  EXPECT_STREQ(zsq_gemm_config_best(ZSQ_GEMM_QC8W)->isa, has_dot ? "neondot" : "neon");
  const zsq_gemm_config *x86 = nullptr;
  EXPECT_EQ(zsq_gemm_config_for_isa("avx2", ZSQ_GEMM_QC8W, &x86), ZSQ_ERR_UNSUPPORTED);
}
#endif

TEST(GemmConfig, BestIsTheHighestTierTheHostRuns) {
  for (zsq_gemm_wt wt : {ZSQ_GEMM_QC8W, ZSQ_GEMM_QC4W}) {
    const zsq_gemm_config *best = zsq_gemm_config_best(wt);
    ASSERT_NE(best, nullptr);
    const zsq_gemm_config *same = nullptr;
    ASSERT_EQ(zsq_gemm_config_for_isa(best->isa, wt, &same), ZSQ_OK);
    EXPECT_EQ(same, best);
    EXPECT_EQ(best->wbits, wt == ZSQ_GEMM_QC8W ? 8 : 4);
  }
}

TEST(GemmConfig, RejectsUnknownIsa) {
  const zsq_gemm_config *cfg = nullptr;
  EXPECT_EQ(zsq_gemm_config_for_isa("avx1024", ZSQ_GEMM_QC8W, &cfg), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(zsq_gemm_config_for_isa(nullptr, ZSQ_GEMM_QC8W, &cfg), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(cfg, nullptr);
}

TEST(GemmPack, SizesPadNAndK) {
  EXPECT_EQ(zsq_gemm_packed_size(33, 5, 32, 4, 8), size_t(64 * 8));
  EXPECT_EQ(zsq_gemm_packed_size(33, 5, 32, 4, 4), size_t(64 * 4));
  EXPECT_EQ(zsq_gemm_packed_size(3, 3, 1, 1, 8), size_t(9));
}

}  // namespace
