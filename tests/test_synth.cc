// test_synth.cc — synthesis: loss gradients against finite differences, the crop's adjoint, the
// .zsd file, determinism, that ZeroQ actually moves BN statistics toward their targets, and the
// IntraQ MDC, centres and gzsq methods.
#include <gtest/gtest.h>
#include <pthreadpool.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "zsq.h"

extern "C" {
#include "api/internal.h"
#include "float/plan.h"
#include "graph/passes.h"
#include "io/calib_file.h"
#include "synth/augment.h"
#include "synth/bn_loss.h"
#include "synth/centres.h"
#include "synth/feature_loss.h"
#include "synth/generator.h"
#include "synth/label_loss.h"
#include "synth/synth.h"
#include "synth/weight_stats.h"
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
  zsq_bn_loss_batch(&h, x.data(), n, pixels, 1.0f, nullptr, g.data());
  fd_check(
      x, g, [&] { return zsq_bn_loss_batch(&h, x.data(), n, pixels, 1.0f, nullptr, nullptr); },
      1e-3, 2e-2);
  free_hook(h);
}

TEST(SynthLoss, LabelLossesMatchFiniteDifferences) {
  std::mt19937 rng(3);
  const int64_t n = 5, k = 6;
  const int labels[5] = {0, 3, 5, 1, 3};
  const float target[5] = {1.0f, 0.97f, 0.95f, 1.0f, 0.99f};
  for (zsq_label_loss kind : {ZSQ_LABEL_CE, ZSQ_LABEL_TARGET, ZSQ_LABEL_HAST}) {
    std::vector<float> z = randn(static_cast<size_t>(n * k), rng, 2.0f), g(z.size(), 0.0f);
    zsq_label_loss_apply(kind, z.data(), n, k, labels, target, 0.1f, 0.5f, 1.0f, g.data());
    fd_check(
        z, g,
        [&] {
          return zsq_label_loss_apply(kind, z.data(), n, k, labels, target, 0.1f, 0.5f, 1.0f,
                                      nullptr);
        },
        1e-3, 2e-2);
  }
}

TEST(SynthLoss, MdcMatchesFiniteDifferencesOnBothMargins) {
  std::mt19937 rng(6);
  const int64_t n = 6, dim = 5;
  std::vector<float> f = randn(static_cast<size_t>(n * dim), rng), g(f.size(), 0.0f);
  std::vector<float> centre = randn(f.size(), rng), noise = randn(f.size(), rng);
  for (int64_t d = 0; d < dim; d++) centre[d] = f[d] + 0.2f * noise[d];  // d small: lower side
  for (int64_t d = 0; d < dim; d++)
    centre[dim + d] = 0.2f * noise[dim + d] - f[dim + d];  // d ≈ 2: upper
  const float mask[6] = {1, 1, 1, 0, 1, 1};
  const double l = zsq_mdc_loss(f.data(), centre.data(), mask, n, dim, 0.05f, 0.8f, 1.0f, g.data());
  EXPECT_GT(l, 0.0);
  for (int64_t d = 0; d < dim; d++) EXPECT_EQ(g[3 * dim + d], 0.0f) << "masked image moved";
  fd_check(
      f, g,
      [&] {
        return zsq_mdc_loss(f.data(), centre.data(), mask, n, dim, 0.05f, 0.8f, 1.0f, nullptr);
      },
      1e-3, 2e-2);
}

TEST(SynthLoss, CentroidsAverageEachClassAndMaskUnseenOnes) {
  zsq_centroids c;
  ASSERT_TRUE(zsq_centroids_init(&c, 3, 2));
  const float f[6] = {1, 2, 3, 4, 5, 6};
  const int labels[3] = {0, 2, 0};
  zsq_centroids_add(&c, f, labels, 3);
  const int ask[3] = {0, 1, 2};
  float centre[6], mask[3];
  zsq_centroids_for(&c, ask, 3, centre, mask);
  EXPECT_EQ(mask[0], 1.0f);
  EXPECT_EQ(mask[1], 0.0f);
  EXPECT_EQ(mask[2], 1.0f);
  EXPECT_FLOAT_EQ(centre[0], 3.0f);
  EXPECT_FLOAT_EQ(centre[1], 4.0f);
  EXPECT_FLOAT_EQ(centre[4], 3.0f);
  zsq_centroids_free(&c);
}

// Two layers, four images, three classes with centres: the centring + separation loss's gradient.
TEST(SynthLoss, CentresLossMatchesFiniteDifferencesAndEmaMoves) {
  std::mt19937 rng(7);
  const int64_t n = 4, classes = 3, P[2] = {6, 4}, C[2] = {3, 2};
  const int labels[4] = {0, 1, 2, 1};
  zsq_centres c;
  ASSERT_TRUE(zsq_centres_init(&c, 2, classes, n));
  std::vector<std::vector<float>> x(2), gx(2);
  for (int l = 0; l < 2; l++) {
    x[l] = randn(static_cast<size_t>(n * P[l] * C[l]), rng, 1.2f, 0.2f);
    gx[l].assign(x[l].size(), 0.0f);
    c.layers[l].x = x[l].data();
    c.layers[l].gx = gx[l].data();
    c.layers[l].pixels = P[l];
    c.layers[l].channels = C[l];
  }
  ASSERT_TRUE(zsq_centres_alloc(&c));
  c.weight = 0.3f;
  c.sep = 0.7f;
  c.ratio = 0.9f;
  c.decay = 0.2f;
  const unsigned char agree[4] = {1, 1, 1, 0};
  for (int b = 0; b < n; b++) zsq_centres_image(&c, b, labels[b], n);  // statistics only
  zsq_centres_update(&c, labels, agree, n);
  for (int k = 0; k < classes; k++) ASSERT_TRUE(c.seen[k]);
  // the first update copies the agreeing images' statistics: class 1 is image 1 alone
  EXPECT_FLOAT_EQ(c.layers[0].mean[1 * C[0]], c.layers[0].img_mean[1 * C[0]]);
  for (int l = 0; l < 2; l++) {  // spread the centres so the separation hinge is active
    for (auto &v : x[l]) v += 0.5f * std::normal_distribution<float>(0, 1)(rng);
  }
  auto total = [&] {
    double s = 0;
    for (int b = 0; b < n; b++) s += zsq_centres_image(&c, b, labels[b], n);
    return s;
  };
  for (int l = 0; l < 2; l++) std::fill(gx[l].begin(), gx[l].end(), 0.0f);
  EXPECT_GT(total(), 0.0);
  std::vector<float> g0 = gx[0], g1 = gx[1];
  fd_check(x[0], g0, total, 1e-3, 3e-2);
  fd_check(x[1], g1, total, 1e-3, 3e-2);
  // the EMA moves a centre by `decay` of the way toward the new statistics
  const float before = c.layers[0].mean[0], now = c.layers[0].img_mean[0];
  zsq_centres_update(&c, labels, agree, n);
  EXPECT_NEAR(c.layers[0].mean[0], before + 0.2f * (now - before), 1e-5f);
  zsq_centres_free(&c);
}

TEST(SynthLoss, BatchStdMatchesFiniteDifferences) {
  std::mt19937 rng(9);
  const int64_t n = 3, pixels = 5, c = 3;
  zsq_bn_hook h = make_hook(c, rng);
  std::vector<float> x = randn(static_cast<size_t>(n * pixels * c), rng), g(x.size(), 0.0f);
  zsq_bn_loss_batch_std(&h, x.data(), n, pixels, 1.0f, nullptr, g.data());
  fd_check(
      x, g, [&] { return zsq_bn_loss_batch_std(&h, x.data(), n, pixels, 1.0f, nullptr, nullptr); },
      1e-3, 2e-2);
  free_hook(h);
}

// The generator's backward against finite differences of L = Σ out·R along random directions of
// its parameters and latents (directional: BN over few rows and LeakyReLU kinks make single
// elements too curved for central differences).
TEST(SynthGenerator, BackwardMatchesDirectionalFiniteDifferences) {
  std::mt19937 rng(10);
  zsq_rng r;
  zsq_rng_seed(&r, 11);
  zsq_gen g;
  const int64_t n = 4, z = 4, c = 2;
  ASSERT_TRUE(zsq_gen_init(&g, n, z, 4, 4, c, 3, 3, &r, nullptr));
  std::vector<float> zs = randn(static_cast<size_t>(n * z), rng), gz(zs.size());
  const std::vector<float> R = randn(static_cast<size_t>(n * 12 * 12 * c), rng);
  const std::vector<float> p0(g.params, g.params + g.n_params), z0 = zs;
  zsq_gen_forward(&g, zs.data());
  zsq_gen_backward(&g, zs.data(), R.data(), gz.data());
  const std::vector<float> gp(g.grads, g.grads + g.n_params);
  auto loss_at = [&](const std::vector<float> &dp, const std::vector<float> &dz, double e) {
    for (size_t i = 0; i < p0.size(); i++) g.params[i] = p0[i] + static_cast<float>(e) * dp[i];
    for (size_t i = 0; i < z0.size(); i++) zs[i] = z0[i] + static_cast<float>(e) * dz[i];
    zsq_gen_forward(&g, zs.data());
    double l = 0;
    for (size_t i = 0; i < R.size(); i++) l += static_cast<double>(g.out[i]) * R[i];
    return l;
  };
  for (int t = 0; t < 4; t++) {
    const std::vector<float> dp = randn(p0.size(), rng), dz = randn(z0.size(), rng);
    double analytic = 0;
    for (size_t i = 0; i < dp.size(); i++) analytic += static_cast<double>(gp[i]) * dp[i];
    for (size_t i = 0; i < dz.size(); i++) analytic += static_cast<double>(gz[i]) * dz[i];
    const double e = 1e-4, fd = (loss_at(dp, dz, e) - loss_at(dp, dz, -e)) / (2 * e);
    EXPECT_NEAR(fd, analytic, 0.02 * (1 + std::fabs(analytic))) << "direction " << t;
  }
  zsq_gen_free(&g);
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

zsq_synth_options options(const char *method, int64_t count, int64_t iters, uint64_t seed = 0) {
  zsq_synth_options o{};
  o.method = method;
  o.count = count;
  o.iters = iters;
  o.seed = seed;
  return o;
}

struct SynthRun {
  zsq_model *m = nullptr;
  zsq_calib *c = nullptr;
  zsq_synth_report r{};
  zsq_status st;
  std::vector<double> losses;  // of the first batch, per step
  SynthRun(const char *method, int64_t count, int64_t iters, uint64_t seed = 0)
      : SynthRun(options(method, count, iters, seed)) {}
  explicit SynthRun(zsq_synth_options o) {
    zsq_model_create(&m);
    zsq_calib_create(&c);
    EXPECT_EQ(zsq_model_load_onnx(m, model_path().c_str()), ZSQ_OK) << zsq_model_last_error(m);
    o.progress = [](void *ctx, int64_t batch, int64_t, int64_t, int64_t, double loss) {
      if (batch == 0) static_cast<SynthRun *>(ctx)->losses.push_back(loss);
    };
    o.progress_ctx = this;
    st = zsq_synthesize(m, &o, c, &r);
  }
  std::vector<float> images() const {
    int ch, h, w;
    zsq_calib_geometry(c, &ch, &h, &w);
    const size_t img = static_cast<size_t>(ch * h * w);
    std::vector<float> v;
    for (int64_t i = 0; i < zsq_calib_count(c); i++) {
      v.insert(v.end(), zsq_calib_image(c, i), zsq_calib_image(c, i) + img);
    }
    return v;
  }
  // mean of the last five steps' loss over the mean of the first five
  double loss_ratio() const {
    double a = 0, b = 0;
    for (size_t i = 0; i < 5; i++) a += losses[i], b += losses[losses.size() - 1 - i];
    return b / a;
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

// The same seed gives the same images with 1 and 2 threads (batch 8 of 16: two batches).
void expect_thread_independent(zsq_synth_options o) {
  o.threads = 1;
  SynthRun one(o);
  o.threads = 2;
  SynthRun two(o);
  ASSERT_EQ(one.st, ZSQ_OK) << zsq_model_last_error(one.m);
  ASSERT_EQ(two.st, ZSQ_OK) << zsq_model_last_error(two.m);
  EXPECT_TRUE(one.images() == two.images()) << o.method << ": threads changed the images";
}

TEST(Synth, IntraqMdcAndSoftTargetsChangeLaterBatchesAndKeepAgreement) {
  zsq_synth_options o = options("intraq", 40, 20, 3);
  o.batch = 20;  // MDC needs centroids of an earlier batch
  SynthRun with(o);
  o.mdc_lower = o.mdc_upper = -1;
  o.target_lo = -1;
  SynthRun without(o);
  ASSERT_EQ(with.st, ZSQ_OK) << zsq_model_last_error(with.m);
  ASSERT_EQ(without.st, ZSQ_OK) << zsq_model_last_error(without.m);
  EXPECT_GT(with.r.label_agreement, 0.5);
  EXPECT_LT(with.loss_ratio(), 0.7) << "the loss should fall";
  const std::vector<float> a = with.images(), b = without.images();
  EXPECT_FALSE(std::equal(a.begin() + a.size() / 2, a.end(), b.begin() + b.size() / 2))
      << "MDC made no difference to the second batch";
}

TEST(Synth, IntraqIsThreadIndependent) {
  zsq_synth_options o = options("intraq", 16, 6, 9);
  o.batch = 8;
  expect_thread_independent(o);
}

TEST(Synth, CentresBeatNoiseOnAgreementAndBalance) {
  SynthRun noise("noise", 40, 0), cen("centres", 40, 40, 4);
  ASSERT_EQ(cen.st, ZSQ_OK) << zsq_model_last_error(cen.m);
  EXPECT_LT(cen.loss_ratio(), 0.7) << "the loss should fall";
  EXPECT_GT(cen.r.label_agreement, 0.5);
  EXPECT_GT(cen.r.class_entropy, noise.r.class_entropy);
  EXPECT_LT(cen.r.bn_distance, 0.5 * noise.r.bn_distance);
}

TEST(Synth, CentresAreThreadIndependentAndTheirTermsMatter) {
  zsq_synth_options o = options("centres", 16, 6, 9);
  o.batch = 8;
  expect_thread_independent(o);
  o.centre_weight = o.centre_sep = -1;
  SynthRun off(o);
  o.centre_weight = o.centre_sep = 0;
  SynthRun on(o);
  EXPECT_FALSE(on.images() == off.images()) << "the centre terms changed nothing";
}

// The first conv sees exactly the N(0, 1) input the moments start from: prediction = measurement
// up to the zero padding at the border.
TEST(SynthWeightStats, FirstConvMomentsMatchGaussianInput) {
  zsq_model *m;
  zsq_model_create(&m);
  ASSERT_EQ(zsq_model_load_onnx(m, model_path().c_str()), ZSQ_OK);
  zsq_graph *g = zsq_graph_clone(m->graph);
  zsq_err err{};
  ASSERT_EQ(zsq_graph_fold_batchnorm(g, &err), ZSQ_OK);
  zsq_bn_hook *hooks;
  const int n = zsq_weight_hooks_find(g, &hooks);
  int convs = 0;
  for (size_t i = 0; i < g->n_nodes; i++) convs += g->nodes[i].op == ZSQ_OP_CONV;
  EXPECT_EQ(n, convs);
  zsq_fplan *p;
  const int64_t batch = 64;
  ASSERT_EQ(zsq_fplan_create(g, batch, nullptr, &p, &err), ZSQ_OK);
  std::mt19937 rng(8);
  zsq_value *in = zsq_fplan_value(p, g->inputs[0]);
  std::vector<float> x = randn(in->numel, rng);
  std::copy(x.begin(), x.end(), static_cast<float *>(in->data));
  zsq_fplan_forward(p);
  const zsq_value *v = zsq_fplan_value(p, hooks[0].tensor);
  const int64_t C = hooks[0].channels;
  std::vector<double> mu(C), sd(C);
  zsq_channel_stats(static_cast<const float *>(v->data), static_cast<int64_t>(v->numel) / C, C,
                    nullptr, mu.data(), sd.data());
  for (int64_t c = 0; c < C; c++) {
    EXPECT_NEAR(sd[c] * sd[c], hooks[0].var[c], 0.2 * hooks[0].var[c]) << "channel " << c;
    EXPECT_NEAR(mu[c], hooks[0].mean[c], 0.1 * hooks[0].std[c] + 0.02) << "channel " << c;
  }
  zsq_fplan_destroy(p);
  zsq_bn_hooks_free(hooks, n);
  zsq_graph_free(g);
  zsq_model_destroy(m);
}

TEST(Synth, GzsqOnFoldedTeacherLowersItsLossAndFollowsLabels) {
  zsq_synth_options o = options("gzsq", 40, 40, 5);
  o.fold_batchnorm = 1;
  SynthRun gz(o);
  ASSERT_EQ(gz.st, ZSQ_OK) << zsq_model_last_error(gz.m);
  EXPECT_EQ(gz.r.bn_layers, 0);
  EXPECT_LT(gz.loss_ratio(), 0.7) << "the loss should fall";
  EXPECT_GT(gz.r.label_agreement, 0.5);
  SynthRun noise("noise", 40, 0);
  EXPECT_GT(gz.r.class_entropy, noise.r.class_entropy);
}

TEST(Synth, GzsqIsThreadIndependent) {
  zsq_synth_options o = options("gzsq", 16, 6, 9);
  o.batch = 8;
  o.fold_batchnorm = 1;
  expect_thread_independent(o);
}

TEST(Synth, BnMethodsOnBnFreeModelSayUseGzsq) {
  for (const char *method : {"zeroq", "intraq", "centres"}) {
    zsq_synth_options o = options(method, 4, 2);
    o.fold_batchnorm = 1;
    SynthRun r(o);
    EXPECT_EQ(r.st, ZSQ_ERR_UNSUPPORTED) << method;
    EXPECT_NE(std::string(zsq_model_last_error(r.m)).find("gzsq"), std::string::npos)
        << zsq_model_last_error(r.m);
  }
}

// GENIE through the internal API with a small generator, so that it runs in seconds.
struct GenieRun {
  std::vector<float> images;
  std::vector<int> labels;
  std::vector<double> losses;
  zsq_synth_report r{};
  zsq_status st;
  GenieRun(const zsq_graph *g, int64_t count, int64_t iters, pthreadpool_t tp) {
    zsq_synth_cfg cfg{};
    cfg.count = count;
    cfg.seed = 6;
    zsq_err err{};
    EXPECT_EQ(zsq_synth_cfg_for("genie", &cfg, &err), ZSQ_OK);
    cfg.iters = iters;
    cfg.batch = count;
    cfg.gen_latent = 32;
    cfg.gen_c0 = 16;
    cfg.gen_c1 = 8;
    cfg.threadpool = tp;
    cfg.progress = [](void *ctx, int64_t, int64_t, int64_t, int64_t, double loss) {
      static_cast<GenieRun *>(ctx)->losses.push_back(loss);
    };
    cfg.progress_ctx = this;
    images.resize(static_cast<size_t>(count * 28 * 28));
    labels.resize(static_cast<size_t>(count));
    st = zsq_synth_run(g, &cfg, images.data(), labels.data(), &r, &err);
    EXPECT_EQ(st, ZSQ_OK) << err.msg;
  }
};

TEST(Synth, GenieLowersItsLossAndBeatsNoiseOnBnDistance) {
  SynthRun noise("noise", 16, 0);
  GenieRun ge(noise.m->graph, 16, 30, nullptr);
  ASSERT_EQ(ge.st, ZSQ_OK);
  double first = 0, last = 0;
  for (size_t i = 0; i < 5; i++) first += ge.losses[i], last += ge.losses[ge.losses.size() - 1 - i];
  EXPECT_LT(last, 0.7 * first) << "the loss should fall";
  EXPECT_LT(ge.r.bn_distance, 0.5 * noise.r.bn_distance)
      << "genie " << ge.r.bn_distance << " noise " << noise.r.bn_distance;
}

TEST(Synth, GenieIsThreadIndependentAndRunsThroughTheApi) {
  SynthRun api("genie", 4, 2);  // the published widths, through zsq_synthesize
  ASSERT_EQ(api.st, ZSQ_OK) << zsq_model_last_error(api.m);
  pthreadpool_t tp = pthreadpool_create(2);
  GenieRun one(api.m->graph, 8, 4, nullptr), two(api.m->graph, 8, 4, tp);
  pthreadpool_destroy(tp);
  EXPECT_TRUE(one.images == two.images) << "threads changed the images";
}

// The smallest and largest pixel of a set.
std::pair<float, float> pixel_range(const SynthRun &r) {
  const std::vector<float> v = r.images();
  const auto mm = std::minmax_element(v.begin(), v.end());
  return {*mm.first, *mm.second};
}

// genie's generator output is left as it is (clipping it broke GENIE, docs/synthesis.md).
TEST(Synth, InputRangeKeepsEveryPixelMethodsImagesInside) {
  const float lo = -0.81f, hi = 2.02f;  // the teacher's normalised pixel range
  for (const char *method : {"noise", "zeroq", "intraq"}) {
    zsq_synth_options o = options(method, 8, 6, 2);
    SynthRun free_run(o);
    o.input_lo = &lo;
    o.input_hi = &hi;
    SynthRun kept(o);
    ASSERT_EQ(kept.st, ZSQ_OK) << method << ": " << zsq_model_last_error(kept.m);
    const auto f = pixel_range(free_run), k = pixel_range(kept);
    EXPECT_TRUE(f.first < lo || f.second > hi) << method << ": nothing to clamp in this test";
    EXPECT_GE(k.first, lo) << method;
    EXPECT_LE(k.second, hi) << method;
    EXPECT_LT(k.first, 0.0f) << method << ": the images collapsed onto one bound";
    EXPECT_GT(k.second, 0.0f) << method << ": the images collapsed onto one bound";
  }
}

TEST(Synth, InputRangeMustBeComplete) {
  const float lo = 1.0f, hi = 0.5f;
  zsq_synth_options o = options("zeroq", 2, 1, 0);
  o.input_lo = &lo;
  SynthRun half(o);
  EXPECT_EQ(half.st, ZSQ_ERR_INVALID_ARG);
  o.input_hi = &hi;
  SynthRun empty(o);
  EXPECT_EQ(empty.st, ZSQ_ERR_INVALID_ARG);
  EXPECT_NE(std::string(zsq_model_last_error(empty.m)).find("empty input range"), std::string::npos)
      << zsq_model_last_error(empty.m);
}

TEST(Synth, UnknownMethodsSaySo) {
  SynthRun bad("deepinversion", 4, 1);
  EXPECT_EQ(bad.st, ZSQ_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(zsq_model_last_error(bad.m)).find("unknown"), std::string::npos)
      << zsq_model_last_error(bad.m);
}

}  // namespace
