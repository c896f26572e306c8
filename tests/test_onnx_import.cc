// test_onnx_import.cc — ONNX import through the public API: valid graphs, and every kind of broken
// or hostile file ending in a clear error (never a crash).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "onnx_builder.h"
#include "zsq.h"

using namespace zsqtest;

namespace {

struct Loaded {
  zsq_model *m = nullptr;
  zsq_status st;
  explicit Loaded(const std::string &bytes) {
    zsq_model_create(&m);
    st = zsq_model_load_onnx_buffer(m, bytes.data(), bytes.size());
  }
  ~Loaded() { zsq_model_destroy(m); }
  std::string error() const { return zsq_model_last_error(m); }
};

std::vector<float> ramp(size_t n, float scale, float offset = 0.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++)
    v[i] = offset + scale * static_cast<float>((i * 7919) % 23) / 23.0f;
  return v;
}

// Conv(3x3, pad 1) → BN → Relu → Conv 1x1 stride 2 → Add(skip via MaxPool) → Clip → GAP → Flatten →
// Gemm.
Model small_cnn(bool with_meta = true) {
  Model m(13);
  m.input("x", {-1, 2, 6, 6}).output("logits");
  m.init(tensor("w1", {4, 2, 3, 3}, ramp(72, 0.5f, -0.25f)));
  m.init(tensor("g", {4}, {1.0f, 0.5f, 2.0f, 1.5f}));
  m.init(tensor("b", {4}, {0.1f, -0.2f, 0.0f, 0.3f}));
  m.init(tensor("mu", {4}, {0.05f, -0.1f, 0.2f, 0.0f}));
  m.init(tensor("var", {4}, {1.0f, 0.25f, 4.0f, 0.5f}));
  m.init(tensor("w2", {4, 4, 1, 1}, ramp(16, 0.6f, -0.3f)));
  m.init(tensor("fc", {3, 4}, ramp(12, 1.0f, -0.5f)));
  m.init(tensor("fcb", {3}, {0.0f, 0.1f, -0.1f}));
  m.init(tensor("lo", {}, {0.0f}));
  m.init(tensor("hi", {}, {6.0f}));
  m.node(Node("Conv", {"x", "w1"}, {"c1"}, "conv1")
             .attr_ints("pads", {1, 1, 1, 1})
             .attr_ints("kernel_shape", {3, 3}));
  m.node(Node("BatchNormalization", {"c1", "g", "b", "mu", "var"}, {"bn1"}, "bn1")
             .attr_f("epsilon", 1e-5f));
  m.node(Node("Relu", {"bn1"}, {"r1"}, "relu1"));
  m.node(Node("Conv", {"r1", "w2"}, {"c2"}, "conv2").attr_ints("strides", {2, 2}));
  m.node(Node("MaxPool", {"r1"}, {"p1"}, "pool")
             .attr_ints("kernel_shape", {2, 2})
             .attr_ints("strides", {2, 2}));
  m.node(Node("Add", {"c2", "p1"}, {"a1"}, "add"));
  m.node(Node("Clip", {"a1", "lo", "hi"}, {"k1"}, "relu6"));
  m.node(Node("GlobalAveragePool", {"k1"}, {"gp"}, "gap"));
  m.node(Node("Flatten", {"gp"}, {"fl"}, "flatten"));
  m.node(Node("Gemm", {"fl", "fc", "fcb"}, {"logits"}, "fc").attr_i("transB", 1));
  if (with_meta) m.meta("zsq.input_mean", "0.5").meta("zsq.input_std", "0.25");
  return m;
}

std::vector<float> run(zsq_model *m, int fold, const std::vector<float> &x, int64_t batch) {
  zsq_session_options o = {batch, nullptr, 1, fold, 0, nullptr};
  zsq_session *s = nullptr;
  EXPECT_EQ(zsq_session_create(m, &o, &s), ZSQ_OK) << zsq_model_last_error(m);
  std::vector<float> y(static_cast<size_t>(batch * zsq_model_output_size(m)));
  if (s) EXPECT_EQ(zsq_session_run(s, x.data(), y.data()), ZSQ_OK);
  zsq_session_destroy(s);
  return y;
}

TEST(OnnxImport, SmallCnnLoadsAndDescribesItself) {
  Loaded l(small_cnn().bytes());
  ASSERT_EQ(l.st, ZSQ_OK) << l.error();
  int64_t dims[4];
  ASSERT_EQ(zsq_model_input_shape(l.m, dims), ZSQ_OK);
  EXPECT_EQ(dims[0], -1);
  EXPECT_EQ(dims[1], 2);
  EXPECT_EQ(zsq_model_output_size(l.m), 3);
  EXPECT_STREQ(zsq_model_metadata(l.m, "zsq.input_std"), "0.25");
  EXPECT_EQ(zsq_model_metadata(l.m, "absent"), nullptr);
  ASSERT_EQ(zsq_model_layer_count(l.m), 10u);
  zsq_layer_info li;
  ASSERT_EQ(zsq_model_layer(l.m, 0, &li), ZSQ_OK);
  EXPECT_STREQ(li.op, "Conv");
  EXPECT_EQ(li.macs, 4 * 6 * 6 * (2 * 3 * 3));
  EXPECT_EQ(li.params, 72);
  ASSERT_EQ(zsq_model_layer(l.m, 1, &li), ZSQ_OK);
  EXPECT_TRUE(li.is_batchnorm);
  EXPECT_EQ(zsq_model_layer(l.m, 99, &li), ZSQ_ERR_INVALID_ARG);
}

TEST(OnnxImport, FoldedAndUnfoldedGraphsAgree) {
  Loaded l(small_cnn().bytes());
  ASSERT_EQ(l.st, ZSQ_OK) << l.error();
  const int64_t batch = 3;
  std::vector<float> x = ramp(static_cast<size_t>(batch * 2 * 6 * 6), 4.0f, -2.0f);
  std::vector<float> plain = run(l.m, 0, x, batch), folded = run(l.m, 1, x, batch);
  ASSERT_EQ(plain.size(), folded.size());
  float spread = 0.0f;
  for (size_t i = 0; i < plain.size(); i++) {
    EXPECT_NEAR(plain[i], folded[i], 1e-4f * (1.0f + std::fabs(plain[i]))) << i;
    spread += std::fabs(plain[i] - plain[0]);
  }
  EXPECT_GT(spread, 1e-3f) << "outputs are constant: the test would not notice a broken graph";
}

TEST(OnnxImport, BatchOfOneEqualsEachImageOfABatch) {
  Loaded l(small_cnn().bytes());
  ASSERT_EQ(l.st, ZSQ_OK) << l.error();
  std::vector<float> x = ramp(2 * 2 * 6 * 6, 3.0f, -1.0f);
  std::vector<float> both = run(l.m, 1, x, 2);
  std::vector<float> second(x.begin() + 72, x.end());
  std::vector<float> one = run(l.m, 1, second, 1);
  for (size_t i = 0; i < 3; i++) EXPECT_FLOAT_EQ(one[i], both[3 + i]);
}

void expect_error(const std::string &bytes, zsq_status want, const std::string &needle) {
  Loaded l(bytes);
  EXPECT_EQ(l.st, want) << l.error();
  EXPECT_NE(l.error().find(needle), std::string::npos) << "message: " << l.error();
}

TEST(OnnxImportErrors, TruncatedFile) {
  std::string b = small_cnn().bytes();
  expect_error(b.substr(0, b.size() / 2), ZSQ_ERR_FORMAT, "truncated");
}

TEST(OnnxImportErrors, EmptyFile) {
  expect_error("", ZSQ_ERR_FORMAT, "empty");
}

TEST(OnnxImportErrors, WrongMagic) {
  expect_error(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), ZSQ_ERR_FORMAT, "ONNX");
  expect_error("this is plainly a text file, not a model\n", ZSQ_ERR_FORMAT, "ONNX");
}

TEST(OnnxImportErrors, TensorLargerThanItsData) {
  Model m = small_cnn();
  Pb t;
  t.varint(1, 1000).varint(1, 1000).varint(2, kFloat).bytes(8, "huge").bytes(9,
                                                                             std::string(16, '\0'));
  m.init(t);
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "huge");
}

TEST(OnnxImportErrors, TypedTensorCountMismatch) {
  Model m = small_cnn();
  Pb t;
  t.varint(1, 4).varint(2, kFloat).bytes(8, "short").f32(4, 1.0f);
  m.init(t);
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "short");
}

TEST(OnnxImportErrors, UnknownOperatorNamesOpNodeAndOpset) {
  Model m = small_cnn();
  m.node(Node("Sigmoid", {"logits"}, {"s"}, "squash"));
  Loaded l(m.bytes());
  EXPECT_EQ(l.st, ZSQ_ERR_UNSUPPORTED);
  EXPECT_NE(l.error().find("Sigmoid"), std::string::npos) << l.error();
  EXPECT_NE(l.error().find("squash"), std::string::npos) << l.error();
  EXPECT_NE(l.error().find("opset 13"), std::string::npos) << l.error();
}

TEST(OnnxImportErrors, GraphCycle) {
  Model m(13);
  m.input("x", {1, 4}).output("b");
  m.node(Node("Add", {"x", "b"}, {"a"}, "first"));
  m.node(Node("Relu", {"a"}, {"b"}, "second"));
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "cycle");
}

TEST(OnnxImportErrors, MissingInput) {
  Model m(13);
  m.input("x", {1, 4}).output("y");
  m.node(Node("Add", {"x", "ghost"}, {"y"}, "adder"));
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "ghost");
}

TEST(OnnxImportErrors, OutputNeverComputed) {
  Model m(13);
  m.input("x", {1, 4}).output("nowhere");
  m.node(Node("Relu", {"x"}, {"y"}));
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "nowhere");
}

TEST(OnnxImportErrors, TensorProducedTwice) {
  Model m(13);
  m.input("x", {1, 4}).output("y");
  m.node(Node("Relu", {"x"}, {"y"}, "one"));
  m.node(Node("Relu", {"x"}, {"y"}, "two"));
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "more than once");
}

TEST(OnnxImportErrors, AttributeOfTheWrongType) {
  Model m(13);
  m.input("x", {1, 1, 4, 4}).output("y");
  m.node(Node("MaxPool", {"x"}, {"y"}, "pool").attr_s("kernel_shape", "2x2"));
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "kernel_shape");
}

TEST(OnnxImportErrors, ImpossibleAttributeValues) {
  Model m(13);
  m.input("x", {1, 1, 4, 4}).output("y");
  m.node(Node("MaxPool", {"x"}, {"y"}, "pool")
             .attr_ints("kernel_shape", {2, 2})
             .attr_ints("strides", {0, 1}));
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "strides");
}

TEST(OnnxImportErrors, ShapeMismatchIsReportedAtLoad) {
  Model m(13);
  m.input("x", {1, 3, 8, 8}).output("y");
  m.init(tensor("w", {4, 2, 3, 3}, ramp(72, 1.0f)));
  m.node(Node("Conv", {"x", "w"}, {"y"}, "conv"));
  expect_error(m.bytes(), ZSQ_ERR_FORMAT, "conv");
}

TEST(OnnxImportErrors, UnsupportedOpsetAndDtype) {
  Model m(3);
  m.input("x", {1, 4}).output("y");
  m.node(Node("Relu", {"x"}, {"y"}));
  expect_error(m.bytes(), ZSQ_ERR_UNSUPPORTED, "opset 3");
  Model d(13);
  d.input("x", {1, 4}, kDouble).output("y");
  d.node(Node("Relu", {"x"}, {"y"}));
  expect_error(d.bytes(), ZSQ_ERR_UNSUPPORTED, "'x'");
}

// Subgraphs nested through attributes 60k levels deep: protobuf-c alone would overflow the stack.
// Built back to front (reversed bytes) so the test stays linear in the file size.
TEST(OnnxImportErrors, DeeplyNestedMessages) {
  std::string rev;
  size_t payload = 0;  // bytes of the current innermost-to-here message
  auto wrap = [&](int field) {
    std::string head = Pb().header(field, payload).str();
    rev.append(head.rbegin(), head.rend());
    payload += head.size();
  };
  for (int i = 0; i < 20000; i++) {
    wrap(6);  // AttributeProto.g
    wrap(5);  // NodeProto.attribute
    wrap(1);  // GraphProto.node
  }
  wrap(7);  // ModelProto.graph
  std::string model(rev.rbegin(), rev.rend());
  model = Pb().varint(1, 8).msg(8, Pb().bytes(1, "").varint(2, 13)).str() + model;
  expect_error(model, ZSQ_ERR_FORMAT, "nest");
}

TEST(OnnxImportErrors, MissingFile) {
  zsq_model *m;
  zsq_model_create(&m);
  EXPECT_EQ(zsq_model_load_onnx(m, "/nonexistent/model.onnx"), ZSQ_ERR_IO);
  EXPECT_NE(std::string(zsq_model_last_error(m)).find("/nonexistent/model.onnx"),
            std::string::npos);
  zsq_model_destroy(m);
}

// Every prefix and many random corruptions of a valid model must load or fail cleanly.
TEST(OnnxImportErrors, CorruptedFilesNeverCrash) {
  const std::string good = small_cnn(false).bytes();  // the graph is the last field
  for (size_t n = 0; n < good.size(); n++) EXPECT_NE(Loaded(good.substr(0, n)).st, ZSQ_OK) << n;
  std::mt19937 rng(1234);
  for (int i = 0; i < 3000; i++) {
    std::string b = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; f++) b[rng() % b.size()] = static_cast<char>(rng());
    Loaded l(b);
    if (l.st != ZSQ_OK) EXPECT_FALSE(l.error().empty());
  }
}

}  // namespace
