// test_dwconv.cc — the depthwise operator: zsq_qdwconv_run against zsq_qdwconv_ref (exact on the
// two-stage path, within one code on the folded one), the reference against Σ x̂·Ŵ + b in double,
// and the validation of descs.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "kernels/configs/dwconv-config.h"
#include "ops/qdwconv.h"
}

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Case {
  int64_t n = 1, c = 16, h = 9, w = 11;
  int64_t kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pads[4] = {1, 1, 1, 1};
  int abits = 8, wbits = 8;
  bool relu6 = true;
  zsq_qres_kind residual = ZSQ_QRES_NONE;
  zsq_qout_kind out = ZSQ_QOUT_CODES;
  int out_bits = 8;
  bool negative_qmult = false;
  size_t threads = 1;
  const char *isa = nullptr;
  uint32_t seed = 1;

  std::string Str() const {
    return "n" + std::to_string(n) + " c" + std::to_string(c) + " " + std::to_string(h) + "x" +
           std::to_string(w) + " k" + std::to_string(kh) + "x" + std::to_string(kw) + " s" +
           std::to_string(sh) + "x" + std::to_string(sw) + " d" + std::to_string(dh) + "x" +
           std::to_string(dw) + " p" + std::to_string(pads[0]) + std::to_string(pads[1]) +
           std::to_string(pads[2]) + std::to_string(pads[3]) + " w" + std::to_string(wbits) + "a" +
           std::to_string(abits) + " res" + std::to_string(residual) + " out" +
           std::to_string(out) + " t" + std::to_string(threads) + " isa " + (isa ? isa : "best");
  }
};

int64_t OutDim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
  const int64_t span = in + p0 + p1 - d * (k - 1);
  return span < 1 ? 0 : (span - 1) / s + 1;
}

// Random operands of one case, quantized as a ReLU6 MobileNet layer would be: x̂ = sa·(a − za),
// Ŵ = sw[c]·w, b[c]; mult = sa·sw, offset = b; the output grid s' covers y's range.
struct Problem {
  explicit Problem(const Case &k) : cs(k) {
    std::mt19937 rng(k.seed * 7919u + static_cast<uint32_t>(k.c * 31 + k.h * 7 + k.kh));
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto real = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    const int amax = (1 << k.abits) - 1;
    const int wlo = -(1 << (k.wbits - 1)), whi = (1 << (k.wbits - 1)) - 1;
    oh = OutDim(k.h, k.kh, k.sh, k.dh, k.pads[0], k.pads[2]);
    ow = OutDim(k.w, k.kw, k.sw, k.dw, k.pads[1], k.pads[3]);
    za = uniform(1, amax);
    sa = static_cast<float>(real(0.01, 0.05));
    in.resize(static_cast<size_t>(k.n * k.h * k.w * k.c));
    for (auto &x : in) x = static_cast<uint8_t>(uniform(0, amax));
    weights.resize(static_cast<size_t>(k.c * k.kh * k.kw));
    for (auto &x : weights) x = static_cast<int8_t>(uniform(wlo, whi));
    sw.resize(k.c);
    mult.resize(k.c);
    offset.resize(k.c);
    qmult.resize(k.c);
    qoffset.resize(k.c);
    const float s_out = 6.0f / float((1 << k.out_bits) - 1);
    for (int64_t c = 0; c < k.c; c++) {
      sw[c] = static_cast<float>(real(0.5, 2.0) / (whi * std::sqrt(double(k.kh * k.kw))));
      mult[c] = sa * sw[c];
      offset[c] = static_cast<float>(real(-1.0, 3.0));
      const float qm = 1.0f / s_out;
      qmult[c] = k.negative_qmult && c % 3 == 1 ? -qm : qm;
      qoffset[c] = k.negative_qmult && c % 3 == 1 ? float((1 << k.out_bits) - 1) + 0.5f : 0.5f;
    }
    const size_t outs = static_cast<size_t>(k.n * oh * ow * k.c);
    res_codes.resize(outs);
    res_f32.resize(outs);
    for (auto &x : res_codes) x = static_cast<uint8_t>(uniform(0, 255));
    for (auto &x : res_f32) x = static_cast<float>(real(-2.0, 2.0));
    desc.cin = desc.cout = desc.groups = k.c;
    desc.kernel[0] = k.kh;
    desc.kernel[1] = k.kw;
    desc.stride[0] = k.sh;
    desc.stride[1] = k.sw;
    desc.dilation[0] = k.dh;
    desc.dilation[1] = k.dw;
    std::copy(k.pads, k.pads + 4, desc.pads);
    desc.wbits = k.wbits;
    desc.weights = weights.data();
    desc.abits = k.abits;
    desc.in_zero_point = za;
    desc.mult = mult.data();
    desc.offset = offset.data();
    desc.act_min = k.relu6 ? 0.0f : -kInf;
    desc.act_max = k.relu6 ? 6.0f : kInf;
    desc.residual = k.residual;
    desc.res_scale = 0.013f;
    desc.res_zero_point = 121;
    desc.out = k.out;
    desc.qmult = qmult.data();
    desc.qoffset = qoffset.data();
    desc.qmin = 0;
    desc.qmax = (1 << k.out_bits) - 1;
    desc.isa = k.isa;
  }
  const void *Residual() const {
    return cs.residual == ZSQ_QRES_CODES ? static_cast<const void *>(res_codes.data())
           : cs.residual == ZSQ_QRES_F32 ? static_cast<const void *>(res_f32.data())
                                         : nullptr;
  }
  size_t OutBytes() const {
    return static_cast<size_t>(cs.n * oh * ow * cs.c) * (cs.out == ZSQ_QOUT_F32 ? 4 : 1);
  }

  Case cs;
  int64_t oh = 0, ow = 0;
  int32_t za = 0;
  float sa = 0;
  std::vector<uint8_t> in, res_codes;
  std::vector<int8_t> weights;
  std::vector<float> sw, mult, offset, qmult, qoffset, res_f32;
  zsq_qconv_desc desc{};
};

// Runs the operator and the reference on one case and compares them.
void Check(const Case &k) {
  SCOPED_TRACE(k.Str());
  const Problem pr(k);
  zsq_err err{};
  zsq_qdwconv *op = nullptr;
  ASSERT_EQ(zsq_qdwconv_create(&pr.desc, &op, &err), ZSQ_OK) << err.msg;
  const std::string name = zsq_qdwconv_kernel_name(op);
  const bool folded = name.find("_requant_") != std::string::npos;
  const bool may_fold = k.out == ZSQ_QOUT_CODES && k.residual == ZSQ_QRES_NONE && !k.negative_qmult;
  EXPECT_EQ(folded, may_fold) << name;
  EXPECT_EQ(name.find("dwconv3x3") != std::string::npos, k.kh * k.kw == 9) << name;
  pthreadpool_t tp = k.threads > 1 ? pthreadpool_create(k.threads) : nullptr;
  std::vector<uint8_t> scratch(zsq_qdwconv_scratch_size(op, k.n, k.h, k.w, k.threads));
  std::vector<uint8_t> got(pr.OutBytes(), 0xA5), want(pr.OutBytes(), 0x5A);
  ASSERT_EQ(zsq_qdwconv_run(op, k.n, k.h, k.w, pr.in.data(), pr.Residual(), got.data(),
                            scratch.data(), tp, &err),
            ZSQ_OK)
      << err.msg;
  ASSERT_EQ(
      zsq_qdwconv_ref(&pr.desc, k.n, k.h, k.w, pr.in.data(), pr.Residual(), want.data(), &err),
      ZSQ_OK)
      << err.msg;
  if (tp) pthreadpool_destroy(tp);
  zsq_qdwconv_destroy(op);
  if (!folded) {
    for (size_t i = 0; i < got.size(); i++)
      ASSERT_EQ(got[i], want[i]) << "byte " << i << " " << name;
    return;
  }
  size_t exact = 0;
  for (size_t i = 0; i < got.size(); i++) {
    ASSERT_LE(std::abs(int(got[i]) - int(want[i])), 1) << "code " << i << " " << name;
    exact += got[i] == want[i];
  }
  EXPECT_GE(double(exact), 0.99 * double(got.size())) << exact << " of " << got.size();
}

// Operator tests per ISA tier ("best": the config's choice); tiers the host lacks are skipped.
class QDwconv : public testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    if (GetParam() == nullptr) return;
    const zsq_dwconv_config *cfg = nullptr;
    const zsq_status s = zsq_dwconv_config_for_isa(GetParam(), ZSQ_DWCONV_F32, &cfg);
    if (s == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << "host lacks " << GetParam();
    ASSERT_EQ(s, ZSQ_OK);
  }
  Case Default() const {
    Case k;
    k.isa = GetParam();
    return k;
  }
};

TEST_P(QDwconv, StridesPadsDilation) {
  for (int64_t s : {1, 2}) {
    for (int64_t d : {1, 2}) {
      for (int64_t p : {0, 1, 2}) {
        Case k = Default();
        k.sh = k.sw = s;
        k.dh = k.dw = d;
        std::fill(k.pads, k.pads + 4, p);
        k.c = 33;
        Check(k);
      }
    }
  }
}

TEST_P(QDwconv, OddSizesAsymmetricPadsBatch) {
  Case k = Default();
  k.n = 2;
  k.h = 7;
  k.w = 13;
  k.c = 17;
  k.sh = 2;
  k.pads[0] = 0;
  k.pads[1] = 1;
  k.pads[2] = 2;
  k.pads[3] = 0;
  Check(k);
  k.kh = 5;
  k.kw = 3;
  k.c = 65;
  k.threads = 2;
  Check(k);
}

TEST_P(QDwconv, Windows) {
  for (auto [kh, kw] : {std::pair{1, 1}, {5, 5}, {3, 5}, {1, 9}, {7, 7}}) {
    for (int64_t c : {1, 7, 16, 31, 80}) {
      Case k = Default();
      k.kh = kh;
      k.kw = kw;
      k.c = c;
      k.pads[0] = k.pads[2] = kh / 2;
      k.pads[1] = k.pads[3] = kw / 2;
      Check(k);
    }
  }
}

TEST_P(QDwconv, BitWidths) {
  for (int ab : {8, 4, 2}) {
    for (int wb : {8, 4, 3, 2}) {
      Case k = Default();
      k.abits = ab;
      k.wbits = wb;
      k.out_bits = ab;
      k.c = 24;
      Check(k);
    }
  }
}

TEST_P(QDwconv, TwoStagePaths) {
  for (zsq_qres_kind res : {ZSQ_QRES_NONE, ZSQ_QRES_CODES, ZSQ_QRES_F32}) {
    for (zsq_qout_kind out : {ZSQ_QOUT_CODES, ZSQ_QOUT_F32}) {
      for (bool relu6 : {true, false}) {
        Case k = Default();
        k.residual = res;
        k.out = out;
        k.relu6 = relu6;
        k.c = 40;
        k.negative_qmult = res == ZSQ_QRES_NONE && out == ZSQ_QOUT_CODES && !relu6;
        Check(k);
      }
    }
  }
}

// ReLU6 with a 4-bit output grid [0, 6]: the act clamp is implied by the code clamp, so the fast
// path folds; a grid of [0, 12] is not (6 maps mid-range), so it must not.
TEST(QDwconvOp, FoldOnlyWhenImplied) {
  Case k;
  k.out_bits = 4;
  Problem pr(k);
  zsq_err err{};
  zsq_qdwconv *op = nullptr;
  ASSERT_EQ(zsq_qdwconv_create(&pr.desc, &op, &err), ZSQ_OK) << err.msg;
  EXPECT_NE(std::string(zsq_qdwconv_kernel_name(op)).find("_requant_"), std::string::npos);
  zsq_qdwconv_destroy(op);
  for (auto &q : pr.qmult) q *= 0.5f;
  ASSERT_EQ(zsq_qdwconv_create(&pr.desc, &op, &err), ZSQ_OK) << err.msg;
  EXPECT_NE(std::string(zsq_qdwconv_kernel_name(op)).find("_f32_"), std::string::npos);
  zsq_qdwconv_destroy(op);
  Check(k);
}

TEST_P(QDwconv, Threads) {
  for (size_t t : {1, 2, 3}) {
    for (int64_t h : {1, 2, 9}) {
      Case k = Default();
      k.threads = t;
      k.h = h;
      k.n = 2;
      k.residual = ZSQ_QRES_CODES;
      Check(k);
      k.residual = ZSQ_QRES_NONE;
      Check(k);
    }
  }
}

std::string IsaName(const testing::TestParamInfo<const char *> &info) {
  return info.param ? info.param : "best";
}
INSTANTIATE_TEST_SUITE_P(Tiers, QDwconv,
                         testing::Values(nullptr, "scalar", "avx2", "avx512vnni", "neon"), IsaName);

// The reference's float output against Σ x̂·Ŵ + b in double.
TEST(QDwconvOp, ReferenceMatchesDouble) {
  for (int wb : {8, 4, 2}) {
    Case k;
    k.wbits = wb;
    k.n = 2;
    k.c = 19;
    k.sh = 2;
    k.dw = 2;
    k.relu6 = false;
    k.out = ZSQ_QOUT_F32;
    Problem pr(k);
    std::vector<float> y(static_cast<size_t>(k.n * pr.oh * pr.ow * k.c));
    zsq_err err{};
    ASSERT_EQ(zsq_qdwconv_ref(&pr.desc, k.n, k.h, k.w, pr.in.data(), nullptr, y.data(), &err),
              ZSQ_OK)
        << err.msg;
    for (int64_t b = 0; b < k.n; b++) {
      for (int64_t oy = 0; oy < pr.oh; oy++) {
        for (int64_t ox = 0; ox < pr.ow; ox++) {
          for (int64_t c = 0; c < k.c; c++) {
            double sum = 0, mag = std::fabs(double(pr.offset[c]));
            for (int64_t ky = 0; ky < k.kh; ky++) {
              for (int64_t kx = 0; kx < k.kw; kx++) {
                const int64_t iy = oy * k.sh - k.pads[0] + ky * k.dh;
                const int64_t ix = ox * k.sw - k.pads[1] + kx * k.dw;
                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;  // x̂ = 0 in padding
                const double xh =
                    double(pr.sa) * (pr.in[((b * k.h + iy) * k.w + ix) * k.c + c] - pr.za);
                const double wh = double(pr.sw[c]) * pr.weights[(c * k.kh + ky) * k.kw + kx];
                sum += xh * wh;
                mag += std::fabs(xh * wh);
              }
            }
            const double want = sum + pr.offset[c];
            const float got = y[((b * pr.oh + oy) * pr.ow + ox) * k.c + c];
            ASSERT_NEAR(got, want, 1e-6 * mag + 1e-9)
                << "at " << b << "," << oy << "," << ox << "," << c;
          }
        }
      }
    }
  }
}

TEST(QDwconvOp, Validation) {
  Case k;
  Problem pr(k);
  zsq_qdwconv *op = nullptr;
  auto expect = [&](zsq_qconv_desc d, zsq_status want, const char *what) {
    zsq_err err{};
    EXPECT_EQ(zsq_qdwconv_create(&d, &op, &err), want) << what;
    EXPECT_EQ(op, nullptr) << what;
    EXPECT_GT(std::strlen(err.msg), 0u) << what;
    zsq_err err2{};
    std::vector<uint8_t> out(pr.OutBytes());
    EXPECT_EQ(zsq_qdwconv_ref(&d, 1, k.h, k.w, pr.in.data(), nullptr, out.data(), &err2), want)
        << what;
  };
  zsq_qconv_desc d = pr.desc;
  d.cout = 2 * d.cin;
  expect(d, ZSQ_ERR_UNSUPPORTED, "channel multiplier 2");
  d = pr.desc;
  d.groups = 1;
  expect(d, ZSQ_ERR_UNSUPPORTED, "dense desc");
  d = pr.desc;
  d.groups = 4;
  expect(d, ZSQ_ERR_UNSUPPORTED, "grouped, 4 channels a group");
  d = pr.desc;
  d.groups = 5;
  expect(d, ZSQ_ERR_INVALID_ARG, "16 channels in 5 groups");
  d = pr.desc;
  d.wbits = 5;
  expect(d, ZSQ_ERR_INVALID_ARG, "wbits 5");
  d = pr.desc;
  d.wbits = 2;
  expect(d, ZSQ_ERR_INVALID_ARG, "8-bit codes declared 2-bit");
  d = pr.desc;
  d.in_zero_point = 256;
  expect(d, ZSQ_ERR_INVALID_ARG, "za out of range");
  d = pr.desc;
  d.stride[1] = 0;
  expect(d, ZSQ_ERR_INVALID_ARG, "stride 0");
  d = pr.desc;
  d.pads[2] = -1;
  expect(d, ZSQ_ERR_INVALID_ARG, "negative pad");
  d = pr.desc;
  d.qmin = 9;
  d.qmax = 3;
  expect(d, ZSQ_ERR_INVALID_ARG, "qmin > qmax");
  d = pr.desc;
  d.qoffset = nullptr;
  expect(d, ZSQ_ERR_INVALID_ARG, "no qoffset");
  d = pr.desc;
  d.act_min = 7.0f;
  expect(d, ZSQ_ERR_INVALID_ARG, "act_min > act_max");
  d = pr.desc;
  d.isa = "sse9";
  zsq_err err{};
  EXPECT_EQ(zsq_qdwconv_create(&d, &op, &err), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(zsq_qdwconv_create(&pr.desc, nullptr, &err), ZSQ_ERR_INVALID_ARG);
  ASSERT_EQ(zsq_qdwconv_create(&pr.desc, &op, &err), ZSQ_OK);
  zsq_err err3{};
  std::vector<uint8_t> out(pr.OutBytes()), scratch(zsq_qdwconv_scratch_size(op, 1, k.h, k.w, 1));
  EXPECT_EQ(
      zsq_qdwconv_run(op, 1, k.h, k.w, pr.in.data(), nullptr, out.data(), nullptr, nullptr, &err3),
      ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(zsq_qdwconv_run(op, 0, k.h, k.w, pr.in.data(), nullptr, out.data(), scratch.data(),
                            nullptr, &err3),
            ZSQ_ERR_INVALID_ARG);
  zsq_qdwconv_destroy(op);
}

}  // namespace
