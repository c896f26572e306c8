// test_requant2.cc — every tier's qs32_requant2 ukernel bit-exact against the scalar oracle.
#include <gtest/gtest.h>

#include <string>

#include "kernels/configs/gemm-config.h"
#include "requant2-tester.h"

namespace {

class Requant2 : public testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    const zsq_status s = zsq_gemm_config_for_isa(GetParam(), ZSQ_GEMM_QC8W, &cfg_);
    if (s == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << "host lacks " << GetParam();
    ASSERT_EQ(s, ZSQ_OK);
    if (cfg_->requant2 == nullptr) GTEST_SKIP() << GetParam() << " has no requant2 kernel";
  }
  const zsq_gemm_config *cfg_ = nullptr;
};

TEST_P(Requant2, MatchesScalar) {
  Requant2Tester().Test(cfg_->requant2);
}

TEST_P(Requant2, SpecialValues) {
  Requant2Tester().special_values(true).Test(cfg_->requant2);
}

// Every weight width's tier entry names the same epilogue.
TEST_P(Requant2, SameForW4) {
  const zsq_gemm_config *w4 = nullptr;
  ASSERT_EQ(zsq_gemm_config_for_isa(GetParam(), ZSQ_GEMM_QC4W, &w4), ZSQ_OK);
  EXPECT_EQ(w4->requant2, cfg_->requant2);
}

INSTANTIATE_TEST_SUITE_P(Tiers, Requant2,
                         testing::Values("scalar", "avx2", "avx512vnni", "neon", "neondot"),
                         [](const testing::TestParamInfo<const char *> &i) {
                           return std::string(i.param);
                         });

}  // namespace
