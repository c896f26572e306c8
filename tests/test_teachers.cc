// test_teachers.cc — the bundled Fashion-MNIST teachers reproduce PyTorch: golden logits of the
// first 64 test images (BN folded and unfolded), and the number of correct test predictions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "zsq.h"

namespace {

const char kData[] = "/usr/share/datasets/fashion-mnist";

struct Teacher {
  zsq_model *m = nullptr;
  zsq_dataset *d = nullptr;
  float mean = 0, std = 1;
  explicit Teacher(const std::string &name) {
    zsq_model_create(&m);
    zsq_dataset_create(&d);
    std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/" + name + ".onnx";
    EXPECT_EQ(zsq_model_load_onnx(m, path.c_str()), ZSQ_OK) << zsq_model_last_error(m);
    EXPECT_EQ(zsq_dataset_load_idx(d, kData, ZSQ_SPLIT_TEST), ZSQ_OK) << zsq_dataset_last_error(d);
    const char *ms = zsq_model_metadata(m, "zsq.input_mean"),
               *ss = zsq_model_metadata(m, "zsq.input_std");
    EXPECT_NE(ms, nullptr);
    EXPECT_NE(ss, nullptr);
    if (ms && ss) {
      mean = std::strtof(ms, nullptr);
      std = std::strtof(ss, nullptr);
    }
  }
  ~Teacher() {
    zsq_model_destroy(m);
    zsq_dataset_destroy(d);
  }
  // Logits of images [first, first + n), in one batch.
  std::vector<float> logits(size_t first, size_t n, int fold) {
    zsq_session_options o = {static_cast<int64_t>(n), nullptr, 1, fold, 0, nullptr};
    zsq_session *s = nullptr;
    EXPECT_EQ(zsq_session_create(m, &o, &s), ZSQ_OK) << zsq_model_last_error(m);
    std::vector<float> x(n * 784), y(n * 10);
    for (size_t i = 0; i < n; i++) {
      const uint8_t *px = zsq_dataset_image(d, first + i);
      for (size_t k = 0; k < 784; k++) x[i * 784 + k] = (px[k] / 255.0f - mean) / std;
    }
    if (s) zsq_session_run(s, x.data(), y.data());
    zsq_session_destroy(s);
    return y;
  }
};

std::vector<float> read_golden(const std::string &name) {
  std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/" + name + ".logits64.f32";
  std::vector<float> v(64 * 10);
  FILE *f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  if (f) {
    EXPECT_EQ(std::fread(v.data(), sizeof(float), v.size(), f), v.size());
    std::fclose(f);
  }
  return v;
}

class TeacherTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TeacherTest, GoldenLogitsMatchPyTorch) {
  Teacher t(GetParam());
  std::vector<float> want = read_golden(GetParam());
  for (int fold : {0, 1}) {
    std::vector<float> got = t.logits(0, 64, fold);
    for (size_t i = 0; i < want.size(); i++) {
      ASSERT_NEAR(got[i], want[i], 1e-3f * (1.0f + std::fabs(want[i])))
          << "fold=" << fold << " element " << i;
    }
  }
}

TEST_P(TeacherTest, TestAccuracyMatchesPyTorch) {
  Teacher t(GetParam());
  const char *c = zsq_model_metadata(t.m, "zsq.torch_test_correct");
  ASSERT_NE(c, nullptr) << "the model lacks zsq.torch_test_correct metadata";
  const long want = std::strtol(c, nullptr, 10);
  const size_t n = zsq_dataset_count(t.d), batch = 500;
  ASSERT_EQ(n, 10000u);
  long correct = 0;
  for (size_t first = 0; first < n; first += batch) {
    std::vector<float> y = t.logits(first, batch, 1);
    for (size_t i = 0; i < batch; i++) {
      int best = 0;
      for (int k = 1; k < 10; k++) best = y[i * 10 + k] > y[i * 10 + best] ? k : best;
      correct += best == zsq_dataset_label(t.d, first + i);
    }
  }
  EXPECT_LE(std::labs(correct - want), 2) << "zsq " << correct << " vs PyTorch " << want;
}

INSTANTIATE_TEST_SUITE_P(Teachers, TeacherTest, ::testing::Values("resnet20", "mobilenetv2"));

}  // namespace
