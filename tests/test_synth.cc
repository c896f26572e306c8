// test_synth.cc — synthesis: loss gradients against finite differences, the crop's adjoint, the
// .zsd file, determinism, and that ZeroQ actually moves BN statistics toward their targets.
#include <gtest/gtest.h>
#include <pthreadpool.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "zsq.h"

extern "C" {
#include "io/calib_file.h"
#include "synth/augment.h"
#include "synth/bn_loss.h"
#include "synth/label_loss.h"
}

namespace {

std::vector<float> randn(size_t n, std::mt19937 &rng, float sd = 1.0f, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(n);
  for (auto &x : v) x = d(rng);
  return v;
}

// Central differences of f at a sample of elements of x against the analytic gradient g.
template <typename F>
void fd_check(std::vector<float> &x, const std::vector<float> &g, F f, double eps, double tol) {
  double seen = 0;
  for (size_t i = 0; i < x.size(); i += 1 + x.size() / 50) {
    const float keep = x[i];
    x[i] = keep + static_cast<float>(eps);
    const double lp = f();
    x[i] = keep - static_cast<float>(eps);
    const double lm = f();
    x[i] = keep;
    EXPECT_NEAR((lp - lm) / (2 * eps), g[i], tol * (1 + std::fabs(g[i]))) << "element " << i;
    seen += std::fabs(g[i]);
  }
  EXPECT_GT(seen, 1e-6) << "all sampled gradients are zero";
}

zsq_bn_hook make_hook(int64_t c, std::mt19937 &rng) {
  zsq_bn_hook h{};
  h.channels = c;
  h.mean = new float[c];
  h.std = new float[c];
  h.var = new float[c];
  std::uniform_real_distribution<float> u(0.3f, 2.0f);
  for (int64_t i = 0; i < c; i++) {
    h.mean[i] = u(rng) - 1.0f;
    h.var[i] = u(rng);
    h.std[i] = std::sqrt(h.var[i] + 1e-6f);
  }
  return h;
}

void free_hook(zsq_bn_hook &h) {
  delete[] h.mean;
  delete[] h.std;
  delete[] h.var;
}

TEST(SynthLoss, PerSampleWithSlackAndWeightsMatchesFiniteDifferences) {
  std::mt19937 rng(1);
  const int64_t n = 3, pixels = 7, c = 4;
  zsq_bn_hook h = make_hook(c, rng);
  std::vector<float> x = randn(static_cast<size_t>(n * pixels * c), rng, 1.5f, 0.3f),
                     g(x.size(), 0.0f);
  const float w[3] = {1.0f, 2.0f, 1.0f};
  for (float slack : {0.0f, 0.05f}) {
    std::fill(g.begin(), g.end(), 0.0f);
    zsq_bn_loss_per_sample(&h, x.data(), n, pixels, slack, slack, w, 1.0f, g.data());
    fd_check(
        x, g,
        [&] {
          return zsq_bn_loss_per_sample(&h, x.data(), n, pixels, slack, slack, w, 1.0f, nullptr);
        },
        1e-3, 2e-2);
  }
  free_hook(h);
}

TEST(SynthLoss, BatchMseMatchesFiniteDifferences) {
  std::mt19937 rng(2);
  const int64_t n = 4, pixels = 5, c = 3;
  zsq_bn_hook h = make_hook(c, rng);
  std::vector<float> x = randn(static_cast<size_t>(n * pixels * c), rng), g(x.size(), 0.0f);
  zsq_bn_loss_batch(&h, x.data(), n, pixels, 1.0f, g.data());
  fd_check(
      x, g, [&] { return zsq_bn_loss_batch(&h, x.data(), n, pixels, 1.0f, nullptr); }, 1e-3, 2e-2);
  free_hook(h);
}

TEST(SynthLoss, LabelLossesMatchFiniteDifferences) {
  std::mt19937 rng(3);
  const int64_t n = 5, k = 6;
  const int labels[5] = {0, 3, 5, 1, 3};
  for (zsq_label_loss kind : {ZSQ_LABEL_CE, ZSQ_LABEL_TARGET, ZSQ_LABEL_HAST}) {
    std::vector<float> z = randn(static_cast<size_t>(n * k), rng, 2.0f), g(z.size(), 0.0f);
    zsq_label_loss_apply(kind, z.data(), n, k, labels, 0.1f, 0.5f, 1.0f, g.data());
    fd_check(
        z, g,
        [&] {
          return zsq_label_loss_apply(kind, z.data(), n, k, labels, 0.1f, 0.5f, 1.0f, nullptr);
        },
        1e-3, 2e-2);
  }
}

// <A x, y> = <x, Aᵀ y> for random crops: the adjoint is exact.
TEST(SynthAugment, CropAdjointIsExact) {
  std::mt19937 rng(4);
  zsq_rng r;
  zsq_rng_seed(&r, 5);
  const int64_t h = 11, w = 9, ch = 3;
  for (int t = 0; t < 20; t++) {
    zsq_crop c;
    zsq_crop_sample(&r, h, w, 1.0, 0.3, &c);
    ASSERT_TRUE(c.active);
    std::vector<float> x = randn(static_cast<size_t>(h * w * ch), rng), y = randn(x.size(), rng),
                       ax(x.size()), aty(x.size(), 0.0f);
    zsq_crop_forward(&c, x.data(), ax.data(), h, w, ch);
    zsq_crop_adjoint(&c, y.data(), aty.data(), h, w, ch);
    double l = 0, rr = 0;
    for (size_t i = 0; i < x.size(); i++) {
      l += static_cast<double>(ax[i]) * y[i];
      rr += static_cast<double>(x[i]) * aty[i];
    }
    EXPECT_NEAR(l, rr, 1e-3 * (1 + std::fabs(l)));
  }
}

std::string model_path() {
  return std::string(ZSQ_SOURCE_DIR) + "/models/resnet20.onnx";
}

struct SynthRun {
  zsq_model *m = nullptr;
  zsq_calib *c = nullptr;
  zsq_synth_report r{};
  zsq_status st;
  SynthRun(const char *method, int64_t count, int64_t iters, uint64_t seed = 0) {
    zsq_model_create(&m);
    zsq_calib_create(&c);
    EXPECT_EQ(zsq_model_load_onnx(m, model_path().c_str()), ZSQ_OK) << zsq_model_last_error(m);
    zsq_synth_options o{};
    o.method = method;
    o.count = count;
    o.iters = iters;
    o.seed = seed;
    st = zsq_synthesize(m, &o, c, &r);
  }
  ~SynthRun() {
    zsq_calib_destroy(c);
    zsq_model_destroy(m);
  }
};

TEST(Synth, ZeroqBeatsNoiseOnBnDistance) {
  SynthRun noise("noise", 32, 0), zq("zeroq", 32, 80);
  ASSERT_EQ(noise.st, ZSQ_OK) << zsq_model_last_error(noise.m);
  ASSERT_EQ(zq.st, ZSQ_OK) << zsq_model_last_error(zq.m);
  EXPECT_LT(zq.r.bn_distance, 0.5 * noise.r.bn_distance)
      << "zeroq " << zq.r.bn_distance << " noise " << noise.r.bn_distance;
  EXPECT_EQ(zsq_calib_count(zq.c), 32);
  for (int64_t i = 0; i < 32; i++) {
    ASSERT_GE(zsq_calib_label(zq.c, i), 0);
    ASSERT_LT(zsq_calib_label(zq.c, i), 10);
  }
}

TEST(Synth, IntraqRaisesLabelAgreement) {
  SynthRun iq("intraq", 20, 40);
  ASSERT_EQ(iq.st, ZSQ_OK) << zsq_model_last_error(iq.m);
  EXPECT_GT(iq.r.label_agreement, 0.5)
      << "the target loss should make the teacher agree with the labels";
}

std::string slurp(const std::string &p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST(Synth, SameSeedSameBytesAndFileRoundTrip) {
  char dir[] = "/tmp/zsq-synth-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string a = std::string(dir) + "/a.zsd", b = std::string(dir) + "/b.zsd",
                    d = std::string(dir) + "/d.zsd";
  {
    SynthRun r1("zeroq", 6, 5, 7), r2("zeroq", 6, 5, 7), r3("zeroq", 6, 5, 8);
    ASSERT_EQ(zsq_calib_save(r1.c, a.c_str()), ZSQ_OK);
    ASSERT_EQ(zsq_calib_save(r2.c, b.c_str()), ZSQ_OK);
    ASSERT_EQ(zsq_calib_save(r3.c, d.c_str()), ZSQ_OK);
  }
  EXPECT_EQ(slurp(a), slurp(b));
  EXPECT_NE(slurp(a), slurp(d));
  zsq_calib *c;
  zsq_calib_create(&c);
  ASSERT_EQ(zsq_calib_load(c, a.c_str()), ZSQ_OK) << zsq_calib_last_error(c);
  EXPECT_EQ(zsq_calib_count(c), 6);
  EXPECT_STREQ(zsq_calib_method(c), "zeroq");
  EXPECT_EQ(zsq_calib_seed(c), 7u);
  // truncated and corrupted files
  std::string bytes = slurp(a);
  std::ofstream(b, std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  EXPECT_EQ(zsq_calib_load(c, b.c_str()), ZSQ_ERR_FORMAT);
  EXPECT_NE(std::string(zsq_calib_last_error(c)).find("truncated"), std::string::npos)
      << zsq_calib_last_error(c);
  bytes[200] ^= 0x40;
  std::ofstream(b, std::ios::binary) << bytes;
  EXPECT_EQ(zsq_calib_load(c, b.c_str()), ZSQ_ERR_FORMAT);
  EXPECT_NE(std::string(zsq_calib_last_error(c)).find("checksum"), std::string::npos)
      << zsq_calib_last_error(c);
  std::ofstream(b, std::ios::binary) << "not a calibration set";
  EXPECT_EQ(zsq_calib_load(c, b.c_str()), ZSQ_ERR_FORMAT);
  EXPECT_EQ(zsq_calib_load(c, "/nonexistent.zsd"), ZSQ_ERR_IO);
  zsq_calib_destroy(c);
  for (const auto &p : {a, b, d}) std::remove(p.c_str());
  rmdir(dir);
}

TEST(Synth, UnknownAndUnimplementedMethodsSaySo) {
  SynthRun bad("genie", 4, 1);
  EXPECT_EQ(bad.st, ZSQ_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(zsq_model_last_error(bad.m)).find("not yet"), std::string::npos)
      << zsq_model_last_error(bad.m);
}

}  // namespace
