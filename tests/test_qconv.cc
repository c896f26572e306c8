// test_qconv.cc — the integer convolution operator (src/ops/qconv.h): run() against
// zsq_qconv_ref() on every tier, the reference against an independent double computation, the
// gemm_acc ukernels exact, and bad descs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/configs/gemm-config.h"
#include "ops/qconv.h"

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Shape {
  int64_t cin, cout, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, n, h, w;
};

// Convolutions of every path: 1x1 direct (with N split over tasks), 1x1 strided or padded
// (im2col), 3x3 stride 1/2, dilation 2, asymmetric kernels and pads, a 7x7 stem, channel counts
// below, at and above the 14x32 and 64-column tiles, batch 1 and 2, odd spatial sizes, and more
// im2col panels than scratch slots (the last shape).
const std::vector<Shape> kShapes = {
    {16, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 5, 7},
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 3, 3},
    {8, 130, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 15, 15},
    {32, 64, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 7, 7},
    {3, 16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 5},
    {3, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 7, 5},
    {31, 31, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6, 6},
    {33, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 9, 9},
    {16, 64, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 8, 8},
    {16, 33, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 9, 7},
    {64, 16, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 5, 5},
    {3, 17, 5, 3, 1, 2, 1, 1, 2, 1, 1, 0, 2, 6, 7},
    {3, 64, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 11, 11},
    {70, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 3},
    {1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 15, 2},
    {8, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 24, 24},
};

enum class Act { kNone, kRelu, kRelu6 };

struct Epi {
  zsq_qout_kind out = ZSQ_QOUT_CODES;
  zsq_qres_kind res = ZSQ_QRES_NONE;
  Act act = Act::kRelu;
  bool border = false;     // per-channel AQuant borders: qmult = (1 - b)/s'
  bool wide_grid = false;  // ReLU6 on a grid wider than [0, 6]: the act clamp is not implied
  int obits = 8;           // output code width
};

// Accumulated exactness of the code outputs (the folded path may differ by one).
struct Stats {
  size_t folded = 0, folded_exact = 0, ref_codes = 0, ref_exact = 0;
};

// One random problem: operands, parameters and the desc that reads them.
struct Problem {
  Shape s;
  int wbits, abits;
  Epi e;
  std::vector<uint8_t> in, res_u8;
  std::vector<int8_t> w;
  std::vector<float> mult, offset, qmult, qoffset, res_f32;
  zsq_qconv_desc d{};
  int64_t oh = 0, ow = 0;
  bool foldable = true;  // false after a mutation that rules the folded path out

  Problem(const Shape &shape, int wb, int ab, const Epi &epi, uint32_t seed)
      : s(shape), wbits(wb), abits(ab), e(epi) {
    std::mt19937 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto real = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    const int amax = (1 << ab) - 1, wlo = -(1 << (wb - 1)), whi = (1 << (wb - 1)) - 1;
    const int32_t za = uni(1, amax);  // za != 0
    in.resize(size_t(s.n * s.h * s.w * s.cin));
    for (auto &x : in) x = uint8_t(uni(0, amax));
    const int64_t k = s.kh * s.kw * s.cin;
    w.resize(size_t(s.cout * k));
    for (auto &x : w) x = int8_t(uni(wlo, whi));
    // y spans a few units: mult ~ 2 / (expected |acc|).
    const double dev = std::abs(amax / 2.0 - za) + (amax + 1) / std::sqrt(12.0);
    const double acc_scale = std::sqrt(double(k)) * dev * (whi - wlo + 1) / std::sqrt(12.0);
    const int qmax = (1 << e.obits) - 1;
    double s_out = 8.0 / qmax, z_out = std::round(qmax / 2.0);
    if (e.act != Act::kNone) z_out = 0;
    if (e.act == Act::kRelu) s_out = 4.0 / qmax;
    if (e.act == Act::kRelu6) s_out = (e.wide_grid ? 8.0 : 6.0) / qmax;
    for (int64_t c = 0; c < s.cout; c++) {
      mult.push_back(float(real(0.5, 1.5) * 2.0 / acc_scale));
      offset.push_back(float(real(-1.0, 1.0)));
      const double b = e.border ? real(-0.2, 0.2) : 0.0, a = e.border ? real(0.2, 0.8) : 0.5;
      qmult.push_back(float((1.0 - b) / s_out));
      qoffset.push_back(float((1.0 - b) * z_out + 1.0 - a));
    }

    d.cin = s.cin;
    d.cout = s.cout;
    d.groups = 1;
    d.kernel[0] = s.kh, d.kernel[1] = s.kw;
    d.stride[0] = s.sh, d.stride[1] = s.sw;
    d.dilation[0] = s.dh, d.dilation[1] = s.dw;
    d.pads[0] = s.pt, d.pads[1] = s.pl, d.pads[2] = s.pb, d.pads[3] = s.pr;
    d.wbits = wb;
    d.weights = w.data();
    d.abits = ab;
    d.in_zero_point = za;
    d.mult = mult.data();
    d.offset = offset.data();
    d.act_min = e.act == Act::kNone ? -kInf : 0.0f;
    d.act_max = e.act == Act::kRelu6 ? 6.0f : kInf;
    d.residual = e.res;
    d.res_scale = 4.0f / 255.0f;
    d.res_zero_point = uni(100, 150);
    d.out = e.out;
    d.qmult = qmult.data();
    d.qoffset = qoffset.data();
    d.qmin = 0;
    d.qmax = qmax;
    const int64_t eh = (s.kh - 1) * s.dh + 1, ew = (s.kw - 1) * s.dw + 1;
    oh = s.h + s.pt + s.pb >= eh ? (s.h + s.pt + s.pb - eh) / s.sh + 1 : 0;
    ow = s.w + s.pl + s.pr >= ew ? (s.w + s.pl + s.pr - ew) / s.sw + 1 : 0;
    res_u8.resize(outputs());
    for (auto &x : res_u8) x = uint8_t(uni(0, 255));
    res_f32.resize(outputs());
    for (auto &x : res_f32) x = float(real(-2.0, 2.0));
  }

  size_t outputs() const { return size_t(s.n * oh * ow * s.cout); }
  const void *residual() const {
    if (e.res == ZSQ_QRES_CODES) return res_u8.data();
    return e.res == ZSQ_QRES_F32 ? res_f32.data() : nullptr;
  }

  // The float simulation in double: y = Σ x̂·Ŵ + b (+ residual), clamped; *mag bounds the
  // magnitude of the terms (for the tolerance of a float evaluation).
  double Expect(size_t i, double *mag) const {
    const int64_t co = int64_t(i) % s.cout, m = int64_t(i) / s.cout;
    const int64_t img = m / (oh * ow), oy = m % (oh * ow) / ow, ox = m % ow;
    double y = 0.0, sum = 0.0;
    for (int64_t ky = 0; ky < s.kh; ky++) {
      for (int64_t kx = 0; kx < s.kw; kx++) {
        const int64_t iy = oy * s.sh - s.pt + ky * s.dh, ix = ox * s.sw - s.pl + kx * s.dw;
        if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
        for (int64_t c = 0; c < s.cin; c++) {
          const double a = in[size_t(((img * s.h + iy) * s.w + ix) * s.cin + c)];
          const double wv = w[size_t(((co * s.cin + c) * s.kh + ky) * s.kw + kx)];
          y += (a - d.in_zero_point) * wv;
          sum += std::abs((a - d.in_zero_point) * wv);
        }
      }
    }
    y = y * double(mult[co]) + offset[co];
    *mag = sum * std::abs(double(mult[co])) + std::abs(offset[co]);
    if (e.res == ZSQ_QRES_F32) y += res_f32[i];
    if (e.res == ZSQ_QRES_CODES) y += double(d.res_scale) * (res_u8[i] - d.res_zero_point);
    *mag += std::abs(y);
    return std::min(std::max(y, double(d.act_min)), double(d.act_max));
  }
  int ExpectCode(size_t i, double y) const {
    const size_t co = i % size_t(s.cout);
    const double v = y * double(qmult[co]) + double(qoffset[co]);
    return int(std::floor(std::min(std::max(v, double(d.qmin)), double(d.qmax))));
  }
};

// Runs the operator (isa, threads) and the reference on p and holds them to the contract.
void Check(Problem &p, const char *isa, pthreadpool_t tp, Stats *stats) {
  p.d.isa = isa;
  zsq_err err{};
  zsq_qconv *op = nullptr;
  ASSERT_EQ(zsq_qconv_create(&p.d, &op, &err), ZSQ_OK) << err.msg;
  int64_t oh = 0, ow = 0;
  zsq_qconv_output_size(op, p.s.h, p.s.w, &oh, &ow);
  ASSERT_EQ(oh, p.oh);
  ASSERT_EQ(ow, p.ow);
  const std::string name = zsq_qconv_kernel_name(op);
  const bool folded = name.find("gemm_requant_") != std::string::npos;  // gemm or igemm
  // Nearest rounding, code output, no residual, the act clamp implied: the folded fast path.
  const bool want_fold = p.e.out == ZSQ_QOUT_CODES && p.e.res == ZSQ_QRES_NONE && !p.e.border &&
                         !p.e.wide_grid && p.foldable;
  if (want_fold) EXPECT_TRUE(folded) << name;
  if (p.e.out == ZSQ_QOUT_F32 || p.e.res != ZSQ_QRES_NONE || p.e.wide_grid || !p.foldable) {
    EXPECT_FALSE(folded) << name;
  }
  const size_t threads = tp != nullptr ? pthreadpool_get_threads_count(tp) : 1;
  std::vector<uint8_t> scratch(zsq_qconv_scratch_size(op, p.s.n, p.s.h, p.s.w, threads));
  const size_t bytes = p.outputs() * (p.e.out == ZSQ_QOUT_F32 ? sizeof(float) : 1);
  std::vector<uint8_t> got(bytes + 64, 0xA5), want(bytes + 64, 0x5A);
  ASSERT_EQ(zsq_qconv_run(op, p.s.n, p.s.h, p.s.w, p.in.data(), p.residual(), got.data(),
                          scratch.empty() ? nullptr : scratch.data(), tp, &err),
            ZSQ_OK)
      << err.msg;
  ASSERT_EQ(zsq_qconv_ref(&p.d, p.s.n, p.s.h, p.s.w, p.in.data(), p.residual(), want.data(), &err),
            ZSQ_OK)
      << err.msg;
  zsq_qconv_destroy(op);
  for (size_t i = bytes; i < got.size(); i++) ASSERT_EQ(got[i], 0xA5) << "wrote past the output";
  for (size_t i = 0; i < p.outputs(); i++) {
    double mag = 0.0;
    const double y = p.Expect(i, &mag);
    if (p.e.out == ZSQ_QOUT_F32) {
      float r, g;
      std::memcpy(&r, want.data() + 4 * i, 4);
      std::memcpy(&g, got.data() + 4 * i, 4);
      ASSERT_NEAR(r, y, 4 * 0x1p-24 * mag + 1e-30) << "reference vs double at " << i;
      ASSERT_EQ(std::memcmp(&r, &g, 4), 0)
          << "run " << g << " vs reference " << r << " at " << i << " (" << name << ")";
      continue;
    }
    const int r = want[i], g = got[i], x = p.ExpectCode(i, y);
    ASSERT_LE(std::abs(r - x), 1) << "reference vs double at " << i;
    stats->ref_codes++;
    stats->ref_exact += r == x;
    if (folded) {
      ASSERT_LE(std::abs(g - r), 1) << "folded run vs reference at " << i << " (" << name << ")";
      stats->folded++;
      stats->folded_exact += g == r;
    } else {
      ASSERT_EQ(g, r) << "two-stage run vs reference at " << i << " (" << name << ")";
    }
  }
}

void ExpectMostlyExact(const Stats &st) {
  EXPECT_GE(st.ref_exact, 0.99 * double(st.ref_codes)) << "reference vs double pipeline";
  EXPECT_GE(st.folded_exact, 0.99 * double(st.folded)) << "folded path vs reference";
}

class QconvTier : public testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    const zsq_gemm_config *cfg = nullptr;
    const zsq_status s = zsq_gemm_config_for_isa(GetParam(), ZSQ_GEMM_QC8W, &cfg);
    if (s == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << "host lacks " << GetParam();
    ASSERT_EQ(s, ZSQ_OK);
    pool_ = pthreadpool_create(2);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override {
    if (pool_ != nullptr) pthreadpool_destroy(pool_);
  }
  // Threads 1 (the calling thread) and 2.
  void CheckBoth(const Shape &s, int wb, int ab, const Epi &e, uint32_t seed) {
    Problem p(s, wb, ab, e, seed);
    Check(p, GetParam(), nullptr, &stats_);
    Check(p, GetParam(), pool_, &stats_);
  }
  pthreadpool_t pool_ = nullptr;
  Stats stats_;
};

TEST_P(QconvTier, Shapes) {
  uint32_t seed = 1;
  for (const Shape &s : kShapes) {
    CheckBoth(s, 8, 8, Epi{}, seed++);
    CheckBoth(s, 4, 4, Epi{ZSQ_QOUT_F32, ZSQ_QRES_CODES, Act::kNone}, seed++);
    CheckBoth(s, 2, 8, Epi{ZSQ_QOUT_CODES, ZSQ_QRES_F32, Act::kRelu6, true, false, 4}, seed++);
    if (HasFatalFailure()) return;
  }
  ExpectMostlyExact(stats_);
}

TEST_P(QconvTier, BitWidths) {
  uint32_t seed = 100;
  for (int wb : {8, 4, 3, 2}) {
    for (int ab : {8, 4, 2}) {
      for (const Shape &s : {kShapes[0], kShapes[7], kShapes[9]}) {
        CheckBoth(s, wb, ab, Epi{ZSQ_QOUT_CODES, ZSQ_QRES_NONE, Act::kRelu, false, false, ab},
                  seed++);
        CheckBoth(s, wb, ab, Epi{ZSQ_QOUT_F32, ZSQ_QRES_NONE, Act::kNone}, seed++);
        if (HasFatalFailure()) return;
      }
    }
  }
  ExpectMostlyExact(stats_);
}

TEST_P(QconvTier, Epilogues) {
  uint32_t seed = 1000;
  for (zsq_qout_kind out : {ZSQ_QOUT_CODES, ZSQ_QOUT_F32}) {
    for (zsq_qres_kind res : {ZSQ_QRES_NONE, ZSQ_QRES_CODES, ZSQ_QRES_F32}) {
      for (Act act : {Act::kNone, Act::kRelu, Act::kRelu6}) {
        for (bool border : {false, true}) {
          for (int obits : {8, 4, 2}) {
            const Epi e{out, res, act, border, false, obits};
            CheckBoth(kShapes[5], 8, 8, e, seed++);
            CheckBoth(kShapes[2], 4, 8, e, seed++);
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
  // ReLU6 on a grid wider than [0, 6]: codes of y > 6 stay below qmax, the two-stage path.
  for (const Shape &s : {kShapes[0], kShapes[6]}) {
    CheckBoth(s, 8, 8, Epi{ZSQ_QOUT_CODES, ZSQ_QRES_NONE, Act::kRelu6, false, true, 8}, seed++);
  }
  ExpectMostlyExact(stats_);
}

// Code output that must not fold: a channel with qmult < 0 (a border slope b > 1), and a scale
// so large that the folded rounding could move a code by more than one.
TEST_P(QconvTier, Unfoldable) {
  for (int variant = 0; variant < 2; variant++) {
    Problem p(kShapes[6], 8, 8, Epi{ZSQ_QOUT_CODES, ZSQ_QRES_NONE, Act::kNone}, 77 + variant);
    if (variant == 0) {
      p.qmult[3] = -p.qmult[3];
    } else {
      for (auto &m : p.mult) m *= 4096.0f;
    }
    p.foldable = false;
    Check(p, GetParam(), pool_, &stats_);
    if (HasFatalFailure()) return;
  }
}

// The igemm path (not a 1x1 stride-1 unpadded conv): cin 4, 16, 20 and 64 with pads, strides,
// dilation, asymmetric windows, batches (the per-image pointer offset), windows wider than the
// input, and cout at and around the 16- and 32-column tiles; cin 1, 3 and 6 (weights padded per
// tap on KR = 4 tiers). Tiers with igemm kernels must name them (the scalar tier only for
// cin % 4 == 0), with the 16-column tile for cout <= 16 where the tier has one.
const std::vector<Shape> kIgemmShapes = {
    {4, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 7, 6},
    {4, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 9, 8},
    {16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 14, 14},
    {16, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 14, 14},
    {16, 17, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2, 9, 7},
    {20, 40, 3, 3, 1, 1, 1, 1, 0, 1, 2, 1, 2, 8, 9},
    {20, 3, 5, 3, 2, 1, 1, 2, 2, 0, 1, 3, 1, 7, 6},
    {64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 7, 7},
    {64, 64, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 2, 7, 7},
    {64, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2},
    {32, 33, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 4},
    {4, 80, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 5, 5},
    {1, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 9, 9},
    {3, 36, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 9, 8},
    {6, 12, 3, 3, 1, 1, 2, 1, 2, 1, 2, 1, 2, 7, 6},
};

TEST_P(QconvTier, IgemmShapes) {
  const zsq_gemm_config *cfg = nullptr;
  ASSERT_EQ(zsq_gemm_config_for_isa(GetParam(), ZSQ_GEMM_QC8W, &cfg), ZSQ_OK);
  uint32_t seed = 5000;
  for (const Shape &s : kIgemmShapes) {
    for (int wb : {8, 4}) {
      const Epi fold{ZSQ_QOUT_CODES, ZSQ_QRES_NONE, Act::kRelu, false, false, wb};
      const Epi two_stage{ZSQ_QOUT_F32, ZSQ_QRES_CODES, Act::kNone};
      for (const Epi &e : {fold, two_stage}) {
        Problem p(s, wb, wb, e, seed++);
        p.d.isa = GetParam();
        zsq_err err{};
        zsq_qconv *op = nullptr;
        ASSERT_EQ(zsq_qconv_create(&p.d, &op, &err), ZSQ_OK) << err.msg;
        const std::string name = zsq_qconv_kernel_name(op);
        zsq_qconv_destroy(op);
        if (cfg->igemm != nullptr && (s.cin % 4 == 0 || cfg->kr > 1)) {
          EXPECT_NE(name.find("_igemm_"), std::string::npos) << name;
        }
        if (cfg->narrow != nullptr) {
          const std::string tile = "_ukernel_" + std::to_string(cfg->narrow->mr) + "x" +
                                   std::to_string(cfg->narrow->nr) + "c";
          EXPECT_EQ(name.find(tile) != std::string::npos, s.cout <= 16) << name;
        }
        Check(p, GetParam(), nullptr, &stats_);
        Check(p, GetParam(), pool_, &stats_);
        if (HasFatalFailure()) return;
      }
    }
  }
  ExpectMostlyExact(stats_);
}

INSTANTIATE_TEST_SUITE_P(Tiers, QconvTier, testing::Values("scalar", "avx2", "avx512vnni"),
                         [](const testing::TestParamInfo<const char *> &i) {
                           return std::string(i.param);
                         });

// ---- run() arguments, scratch, empty outputs --------------------------------------------------

TEST(Qconv, DirectOneByOneNeedsNoScratch) {
  Problem p(kShapes[0], 8, 8, Epi{}, 7);
  zsq_err err{};
  zsq_qconv *op = nullptr;
  ASSERT_EQ(zsq_qconv_create(&p.d, &op, &err), ZSQ_OK) << err.msg;
  EXPECT_EQ(zsq_qconv_scratch_size(op, 2, 5, 7, 4), 0u);
  std::vector<uint8_t> out(p.outputs());
  EXPECT_EQ(zsq_qconv_run(op, 2, 5, 7, p.in.data(), nullptr, out.data(), nullptr, nullptr, &err),
            ZSQ_OK)
      << err.msg;
  zsq_qconv_destroy(op);
}

TEST(Qconv, RunArguments) {
  Problem p(kShapes[5], 8, 8, Epi{ZSQ_QOUT_F32, ZSQ_QRES_CODES, Act::kNone}, 8);
  zsq_qconv *op = nullptr;
  zsq_err err{};
  ASSERT_EQ(zsq_qconv_create(&p.d, &op, &err), ZSQ_OK) << err.msg;
  const size_t bytes = zsq_qconv_scratch_size(op, 2, 7, 5, 1);
  EXPECT_GE(bytes, size_t(27));  // im2col rows of K = 3*3*3
  std::vector<uint8_t> scratch(bytes);
  std::vector<float> out(p.outputs());
  const void *res = p.residual();
  auto run = [&](int64_t n, const uint8_t *in, const void *r, void *o, void *sc) {
    zsq_err e{};
    const zsq_status s = zsq_qconv_run(op, n, 7, 5, in, r, o, sc, nullptr, &e);
    if (s != ZSQ_OK) EXPECT_NE(e.msg[0], '\0');
    return s;
  };
  EXPECT_EQ(run(2, p.in.data(), res, out.data(), scratch.data()), ZSQ_OK);
  EXPECT_EQ(run(-1, p.in.data(), res, out.data(), scratch.data()), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(run(2, nullptr, res, out.data(), scratch.data()), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(run(2, p.in.data(), nullptr, out.data(), scratch.data()), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(run(2, p.in.data(), res, nullptr, scratch.data()), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(run(2, p.in.data(), res, out.data(), nullptr), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(run(0, nullptr, nullptr, nullptr, nullptr), ZSQ_OK);  // nothing to compute
  int64_t oh = -1, ow = -1;
  zsq_qconv_output_size(op, 1, 1, &oh, &ow);  // the 3x3 window with pad 1 fits a 1x1 input
  EXPECT_EQ(oh, 1);
  EXPECT_EQ(ow, 1);
  zsq_qconv_destroy(op);
  zsq_qconv_desc d = p.d;
  d.pads[0] = d.pads[1] = d.pads[2] = d.pads[3] = 0;
  ASSERT_EQ(zsq_qconv_create(&d, &op, &err), ZSQ_OK) << err.msg;
  zsq_qconv_output_size(op, 2, 9, &oh, &ow);  // 2 rows < 3: no output
  EXPECT_EQ(oh, 0);
  EXPECT_EQ(ow, 7);
  EXPECT_EQ(zsq_qconv_run(op, 1, 2, 9, p.in.data(), res, out.data(), nullptr, nullptr, &err),
            ZSQ_OK);
  zsq_qconv_destroy(op);
}

// ---- bad descs ------------------------------------------------------------------------------

TEST(Qconv, BadDescs) {
  Problem p(kShapes[5], 4, 4, Epi{}, 9);
  std::vector<int8_t> bad_w = p.w;
  bad_w[5] = 8;  // outside [-8, 7]
  std::vector<float> nan_mult = p.mult;
  nan_mult[2] = std::nanf("");
  struct Case {
    const char *what;
    void (*mutate)(zsq_qconv_desc *d);
    zsq_status want;
  };
  const Case cases[] = {
    {"cin 0", [](zsq_qconv_desc *d) { d->cin = 0; }, ZSQ_ERR_INVALID_ARG},
    {"cout -1", [](zsq_qconv_desc *d) { d->cout = -1; }, ZSQ_ERR_INVALID_ARG},
    {"groups 0", [](zsq_qconv_desc *d) { d->groups = 0; }, ZSQ_ERR_INVALID_ARG},
    {"groups not dividing", [](zsq_qconv_desc *d) { d->groups = 2; }, ZSQ_ERR_INVALID_ARG},
    {"kernel 0", [](zsq_qconv_desc *d) { d->kernel[1] = 0; }, ZSQ_ERR_INVALID_ARG},
    {"stride 0", [](zsq_qconv_desc *d) { d->stride[0] = 0; }, ZSQ_ERR_INVALID_ARG},
    {"dilation 0", [](zsq_qconv_desc *d) { d->dilation[1] = 0; }, ZSQ_ERR_INVALID_ARG},
    {"pad -1", [](zsq_qconv_desc *d) { d->pads[3] = -1; }, ZSQ_ERR_INVALID_ARG},
    {"wbits 5", [](zsq_qconv_desc *d) { d->wbits = 5; }, ZSQ_ERR_INVALID_ARG},
    {"abits 1", [](zsq_qconv_desc *d) { d->abits = 1; }, ZSQ_ERR_INVALID_ARG},
    {"abits 9", [](zsq_qconv_desc *d) { d->abits = 9; }, ZSQ_ERR_INVALID_ARG},
    {"za 2^abits", [](zsq_qconv_desc *d) { d->in_zero_point = 16; }, ZSQ_ERR_INVALID_ARG},
    {"za -1", [](zsq_qconv_desc *d) { d->in_zero_point = -1; }, ZSQ_ERR_INVALID_ARG},
    {"weights NULL", [](zsq_qconv_desc *d) { d->weights = nullptr; }, ZSQ_ERR_INVALID_ARG},
    {"mult NULL", [](zsq_qconv_desc *d) { d->mult = nullptr; }, ZSQ_ERR_INVALID_ARG},
    {"offset NULL", [](zsq_qconv_desc *d) { d->offset = nullptr; }, ZSQ_ERR_INVALID_ARG},
    {"qmult NULL", [](zsq_qconv_desc *d) { d->qmult = nullptr; }, ZSQ_ERR_INVALID_ARG},
    {"qmin > qmax", [](zsq_qconv_desc *d) { d->qmin = 9, d->qmax = 8; }, ZSQ_ERR_INVALID_ARG},
    {"qmax 256", [](zsq_qconv_desc *d) { d->qmax = 256; }, ZSQ_ERR_INVALID_ARG},
    {"qmin -1", [](zsq_qconv_desc *d) { d->qmin = -1; }, ZSQ_ERR_INVALID_ARG},
    {"act_min > act_max", [](zsq_qconv_desc *d) { d->act_min = 1, d->act_max = 0; },
     ZSQ_ERR_INVALID_ARG},
    {"residual kind", [](zsq_qconv_desc *d) { d->residual = zsq_qres_kind(7); },
     ZSQ_ERR_INVALID_ARG},
    {"res zero point",
     [](zsq_qconv_desc *d) { d->residual = ZSQ_QRES_CODES, d->res_zero_point = 300; },
     ZSQ_ERR_INVALID_ARG},
    {"out kind", [](zsq_qconv_desc *d) { d->out = zsq_qout_kind(5); }, ZSQ_ERR_INVALID_ARG},
    {"isa bogus", [](zsq_qconv_desc *d) { d->isa = "bogus"; }, ZSQ_ERR_INVALID_ARG},
    {"grouped", [](zsq_qconv_desc *d) { d->groups = 2, d->cin = 4, d->cout = 2; },
     ZSQ_ERR_UNSUPPORTED},
    {"K > 65536", [](zsq_qconv_desc *d) { d->cin = 8192, d->kernel[0] = d->kernel[1] = 3; },
     ZSQ_ERR_UNSUPPORTED},
#if defined(__x86_64__)
    {"isa of another arch", [](zsq_qconv_desc *d) { d->isa = "neon"; }, ZSQ_ERR_UNSUPPORTED},
#endif
  };
  for (const Case &c : cases) {
    zsq_qconv_desc d = p.d;
    c.mutate(&d);
    zsq_err err{};
    zsq_qconv *op = reinterpret_cast<zsq_qconv *>(&d);  // must be reset to NULL
    EXPECT_EQ(zsq_qconv_create(&d, &op, &err), c.want) << c.what;
    EXPECT_EQ(op, nullptr) << c.what;
    EXPECT_NE(err.msg[0], '\0') << c.what;
  }
  zsq_qconv_desc d = p.d;
  d.weights = bad_w.data();
  zsq_err err{};
  zsq_qconv *op = nullptr;
  EXPECT_EQ(zsq_qconv_create(&d, &op, &err), ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(err.msg).find("index 5"), std::string::npos) << err.msg;
  d = p.d;
  d.mult = nan_mult.data();
  err = zsq_err{};
  EXPECT_EQ(zsq_qconv_create(&d, &op, &err), ZSQ_ERR_INVALID_ARG);
  err = zsq_err{};
  EXPECT_EQ(zsq_qconv_create(nullptr, &op, &err), ZSQ_ERR_INVALID_ARG);
  EXPECT_EQ(zsq_qconv_create(&p.d, nullptr, &err), ZSQ_ERR_INVALID_ARG);
  err = zsq_err{};
  EXPECT_EQ(zsq_qconv_ref(&d, 1, 7, 5, p.in.data(), nullptr, nullptr, &err), ZSQ_ERR_INVALID_ARG);
}

// Depthwise descs reach qdwconv through the same entry points.
TEST(Qconv, DepthwiseDispatch) {
  Shape s{8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6, 5};
  Problem p(s, 8, 8, Epi{ZSQ_QOUT_F32, ZSQ_QRES_NONE, Act::kRelu}, 11);
  p.d.groups = 8;  // weights [8][1][3][3]: the first 72 codes of the dense draw
  zsq_err err{};
  zsq_qconv *op = nullptr;
  ASSERT_EQ(zsq_qconv_create(&p.d, &op, &err), ZSQ_OK) << err.msg;
  EXPECT_STRNE(zsq_qconv_kernel_name(op), "");
  std::vector<uint8_t> scratch(zsq_qconv_scratch_size(op, 1, 6, 5, 1));
  std::vector<float> got(p.outputs()), want(p.outputs());
  ASSERT_EQ(zsq_qconv_run(op, 1, 6, 5, p.in.data(), nullptr, got.data(),
                          scratch.empty() ? nullptr : scratch.data(), nullptr, &err),
            ZSQ_OK)
      << err.msg;
  ASSERT_EQ(zsq_qconv_ref(&p.d, 1, 6, 5, p.in.data(), nullptr, want.data(), &err), ZSQ_OK)
      << err.msg;
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
  zsq_qconv_destroy(op);
}

// ---- the gemm_acc ukernels (requant2: test_requant2.cc) ----------------------------------------

struct AccTier {
  const char *isa;
  zsq_gemm_wt wt;
};

class GemmAcc : public testing::TestWithParam<AccTier> {
 protected:
  void SetUp() override {
    const zsq_status s = zsq_gemm_config_for_isa(GetParam().isa, GetParam().wt, &cfg_);
    if (s == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << "host lacks " << GetParam().isa;
    ASSERT_EQ(s, ZSQ_OK);
    if (cfg_->acc == nullptr) GTEST_SKIP() << GetParam().isa << " has no gemm_acc kernel";
  }
  // Σ a·w of the kernel on its packing equals the exact sum (so the scalar oracle's too), the
  // columns past n of each row stay untouched.
  void Test(size_t m, size_t n, size_t k, int wb, bool extreme, uint32_t seed) {
    std::mt19937 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const int wlo = -(1 << (wb - 1)), whi = (1 << (wb - 1)) - 1;
    const size_t as = k + 3, cs = n + 5;
    std::vector<uint8_t> a((m - 1) * as + k);
    for (auto &x : a) x = extreme ? 255 : uint8_t(uni(0, 255));
    std::vector<int8_t> w(n * k);
    for (size_t i = 0; i < w.size(); i++)
      w[i] = int8_t(extreme ? (i / k % 2 ? whi : wlo) : uni(wlo, whi));
    std::vector<uint8_t> packed(zsq_gemm_packed_size(n, k, cfg_->nr, cfg_->kr, cfg_->wbits));
    cfg_->pack(n, k, cfg_->nr, cfg_->kr, w.data(), k, packed.data());
    std::vector<int32_t> c(m * cs, 0x5A5A5A5A);
    cfg_->acc(m, n, k, a.data(), as, packed.data(), c.data(), cs * sizeof(int32_t));
    for (size_t i = 0; i < m; i++) {
      for (size_t j = 0; j < cs; j++) {
        if (j >= n) {
          ASSERT_EQ(c[i * cs + j], 0x5A5A5A5A) << "wrote past n at " << i << "," << j;
          continue;
        }
        int64_t acc = 0;
        for (size_t kk = 0; kk < k; kk++) acc += int64_t(a[i * as + kk]) * w[j * k + kk];
        ASSERT_EQ(c[i * cs + j], acc) << "m=" << i << " n=" << j << " (m " << m << ", n " << n
                                      << ", k " << k << ", w" << wb << ")";
      }
    }
  }
  const zsq_gemm_config *cfg_ = nullptr;
};

TEST_P(GemmAcc, Sweep) {
  const size_t nr = size_t(cfg_->nr);
  uint32_t seed = 1;
  for (size_t m = 1; m <= size_t(cfg_->mr); m++) {
    for (size_t k : {1, 2, 3, 4, 5, 7, 9, 31, 64, 577}) {
      for (size_t n : {size_t(1), nr, nr + 1, 2 * nr + 3, size_t(3), size_t(70)}) {
        for (int wb : cfg_->wbits == 8 ? std::vector<int>{8} : std::vector<int>{4, 3, 2}) {
          Test(m, n, k, wb, false, seed++);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_P(GemmAcc, ExtremeCodesMaxK) {
  Test(size_t(cfg_->mr), size_t(cfg_->nr) + 3, 65536, cfg_->wbits, true, 1);
}

INSTANTIATE_TEST_SUITE_P(
    Tiers, GemmAcc,
    testing::Values(AccTier{"scalar", ZSQ_GEMM_QC8W}, AccTier{"scalar", ZSQ_GEMM_QC4W},
                    AccTier{"avx2", ZSQ_GEMM_QC8W}, AccTier{"avx2", ZSQ_GEMM_QC4W},
                    AccTier{"avx512vnni", ZSQ_GEMM_QC8W}, AccTier{"avx512vnni", ZSQ_GEMM_QC4W}),
    [](const testing::TestParamInfo<AccTier> &i) {
      return std::string(i.param.isa) + (i.param.wt == ZSQ_GEMM_QC8W ? "_qc8w" : "_qc4w");
    });

}  // namespace
