// test_runtime.cc — the integer runtime against the float simulation (DESIGN.md §1's contract):
// every stored tensor within one code layer by layer, top-1 agreement on the test set, ISA tiers
// identical, unsupported graphs refused by name.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "api/internal.h"
#include "float/plan.h"
#include "runtime/memplan.h"
#include "runtime/rt_ops.h"
#include "runtime/runtime.h"
#include "float/layout.h"
}
#include "fmnist-images.h"
#include "onnx_builder.h"

namespace {

using zsqtest::fmnist_images;

// A small network with the operators the teachers lack: a max-pooled stem (ResNet-18's), a
// 1×1 projection and a second pooling path; random weights, BatchNorm kept.
std::string stem_model() {
  using namespace zsqtest;
  uint32_t r = 1;
  auto rnd = [&r](size_t n, float scale, float shift) {
    std::vector<float> v(n);
    for (float &x : v) {
      r = r * 1664525u + 1013904223u;
      x = shift + scale * (static_cast<float>(r >> 8) / 16777216.0f - 0.5f);
    }
    return v;
  };
  Model m;
  m.input("x", {-1, 1, 28, 28}).output("y");
  auto conv_bn_relu = [&](const std::string &p, const std::string &in, int64_t cin, int64_t cout,
                          int64_t k, int64_t stride) {
    const int64_t pad = k / 2;
    m.init(
         tensor(p + "w", {cout, cin, k, k}, rnd(static_cast<size_t>(cout * cin * k * k), 1.0f, 0)))
        .init(tensor(p + "g", {cout}, rnd(static_cast<size_t>(cout), 0.5f, 1.0f)))
        .init(tensor(p + "b", {cout}, rnd(static_cast<size_t>(cout), 0.5f, 0.1f)))
        .init(tensor(p + "m", {cout}, rnd(static_cast<size_t>(cout), 0.2f, 0.0f)))
        .init(tensor(p + "v", {cout}, rnd(static_cast<size_t>(cout), 0.5f, 1.0f)))
        .node(Node("Conv", {in, p + "w"}, {p + "c"}, p + "conv")
                  .attr_ints("kernel_shape", {k, k})
                  .attr_ints("strides", {stride, stride})
                  .attr_ints("pads", {pad, pad, pad, pad}))
        .node(Node("BatchNormalization", {p + "c", p + "g", p + "b", p + "m", p + "v"}, {p + "n"},
                   p + "bn"))
        .node(Node("Relu", {p + "n"}, {p + "r"}, p + "relu"));
    return p + "r";
  };
  const std::string a = conv_bn_relu("s", "x", 1, 8, 3, 1);
  m.node(Node("MaxPool", {a}, {"p"}, "pool")
             .attr_ints("kernel_shape", {3, 3})
             .attr_ints("strides", {2, 2})
             .attr_ints("pads", {1, 1, 1, 1}));
  const std::string b = conv_bn_relu("t", "p", 8, 16, 3, 1);
  const std::string c = conv_bn_relu("u", b, 16, 12, 1, 2);
  m.node(Node("MaxPool", {c}, {"q"}, "pool2")
             .attr_ints("kernel_shape", {2, 2})
             .attr_ints("strides", {2, 2}))
      .node(Node("GlobalAveragePool", {"q"}, {"g"}, "gap"))
      .node(Node("Flatten", {"g"}, {"f"}, "flat"))
      .init(tensor("fw", {10, 12}, rnd(120, 1.0f, 0)))
      .init(tensor("fb", {10}, rnd(10, 0.2f, 0)))
      .node(Node("Gemm", {"f", "fw", "fb"}, {"y"}, "fc").attr_i("transB", 1))
      .meta("zsq.input_mean", "0.2860")
      .meta("zsq.input_std", "0.3530");
  return m.bytes();
}

struct QModel {
  zsq_model *f = nullptr, *q = nullptr;
  QModel(const char *name, int wbits, int abits, int all = 0, int learned_steps = 0, int asym = 0) {
    zsq_model_create(&f);
    zsq_model_create(&q);
    if (std::string(name) == "stem") {
      const std::string b = stem_model();
      EXPECT_EQ(zsq_model_load_onnx_buffer(f, b.data(), b.size()), ZSQ_OK)
          << zsq_model_last_error(f);
    } else {
      const std::string path = std::string(ZSQ_SOURCE_DIR) + "/models/" + name;
      EXPECT_EQ(zsq_model_load_onnx(f, path.c_str()), ZSQ_OK);
    }
    std::vector<int> lab;
    std::vector<float> x = fmnist_images(9000, 64, &lab);
    zsq_calib *c;
    zsq_calib_create(&c);
    EXPECT_EQ(zsq_calib_set(c, 64, 1, 28, 28, x.data(), lab.data(), "fmnist", 0), ZSQ_OK);
    zsq_quant_options o{};
    o.wbits = wbits;
    o.abits = abits;
    o.quantize_all = all;
    o.threads = 2;
    o.weight_scheme = asym ? "asym" : "sym";
    if (learned_steps) {  // BRECQ + QDrop with LSQ and GENIE-M steps
      o.recon = "brecq";
      o.recon_iters = 20;
      o.qdrop = 0.5f;
      o.learn_act_steps = o.learn_weight_steps = 1;
    }
    EXPECT_EQ(zsq_quantize(f, &o, c, q), ZSQ_OK) << zsq_model_last_error(f);
    zsq_calib_destroy(c);
  }
  ~QModel() {
    zsq_model_destroy(q);
    zsq_model_destroy(f);
  }
};

// The simulation's value of tensor t in the runtime's form (NHWC; codes on the tensor's grid).
void sim_to_rt(const zsq_graph *g, zsq_fplan *p, int t, void *dst, int kind) {
  const zsq_value *v = zsq_fplan_value(p, t);
  const float *x = zsq_value_f32(v);
  if (kind == 1) {
    std::memcpy(dst, x, v->numel * sizeof(float));
    return;
  }
  const zsq_node *fq = &g->nodes[g->tensors[t].producer];
  ASSERT_EQ(fq->op, ZSQ_OP_FAKEQUANT);
  for (size_t i = 0; i < v->numel; i++)
    static_cast<uint8_t *>(dst)[i] =
        static_cast<uint8_t>(std::lrint(x[i] / fq->a.fq.scale + fq->a.fq.zero_point));
}

struct StepStats {
  int64_t codes = 0, off_by_one = 0, worse = 0;
  double max_rel_f32 = 0.0;
};

// Each step fed the simulation's inputs, compared with the simulation's output.
StepStats compare_layer_by_layer(zsq_model *q, int64_t batch, const char *isa) {
  StepStats s;
  const zsq_graph *g = q->graph;
  zsq_err err;
  zsq_err_clear(&err);
  zsq_fplan *p = nullptr;
  EXPECT_EQ(zsq_fplan_create(g, batch, nullptr, &p, &err), ZSQ_OK) << err.msg;
  zsq_rt *rt = nullptr;
  EXPECT_EQ(zsq_rt_create(g, q->qlayers, q->n_qlayers, batch, isa, nullptr, &rt, &err), ZSQ_OK)
      << err.msg;
  if (p == nullptr || rt == nullptr) return s;
  std::vector<float> x = fmnist_images(0, batch, nullptr);
  const void *in[1] = {x.data()};
  std::vector<float> logits(static_cast<size_t>(batch * 10));
  void *out[1] = {logits.data()};
  zsq_fplan_run(p, in, out);
  for (int i = 0; i < zsq_rt_step_count(rt); i++) {
    int a, b, o, ka, kb, ko;
    zsq_rt_step_io(rt, i, &a, &b, &o);
    sim_to_rt(g, p, a, zsq_rt_data(rt, a, &ka), ka);
    if (b >= 0) sim_to_rt(g, p, b, zsq_rt_data(rt, b, &kb), kb);
    if (zsq_rt_run_steps(rt, i, i + 1, &err) != ZSQ_OK) {
      ADD_FAILURE() << err.msg;
      break;
    }
    const void *got = zsq_rt_data(rt, o, &ko);
    const zsq_value *v = zsq_fplan_value(p, o);
    std::vector<uint8_t> want(v->numel * sizeof(float));
    sim_to_rt(g, p, o, want.data(), ko);
    if (ko == 2) {
      for (size_t e = 0; e < v->numel; e++) {
        const int d = std::abs(static_cast<const uint8_t *>(got)[e] - want[e]);
        s.codes++;
        s.off_by_one += d == 1;
        s.worse += d > 1;
      }
    } else {
      const float *gf = static_cast<const float *>(got);
      const float *wf = reinterpret_cast<const float *>(want.data());
      float mx = 1e-6f, err_max = 0.0f;
      for (size_t e = 0; e < v->numel; e++) {
        mx = std::fmax(mx, std::fabs(wf[e]));
        err_max = std::fmax(err_max, std::fabs(gf[e] - wf[e]));
      }
      s.max_rel_f32 = std::fmax(s.max_rel_f32, err_max / mx);
    }
  }
  zsq_rt_destroy(rt);
  zsq_fplan_destroy(p);
  return s;
}

struct Case {
  const char *model;
  int wbits, abits, all, learned_steps, asym;
};

class RuntimeContract : public ::testing::TestWithParam<Case> {};

TEST_P(RuntimeContract, EveryStoredTensorWithinOneCodeOfTheSimulation) {
  const Case c = GetParam();
  QModel m(c.model, c.wbits, c.abits, c.all, c.learned_steps, c.asym);
  ASSERT_TRUE(zsq_model_is_quantized(m.q));
  int asym_layers = 0;  // asym: every layer below 8 bits has zero points, none spans a 0-only row
  for (size_t i = 0; i < zsq_model_quant_layer_count(m.q); i++) {
    zsq_quant_layer l;
    zsq_model_quant_layer(m.q, i, &l);
    EXPECT_EQ(l.weight_asym, c.asym && l.wbits < 8) << l.name;
    asym_layers += l.weight_asym && l.wzero_max > 0;
    // the second layer reads the first one's output: at 8 bits unless everything is quantized
    if (i == 1) EXPECT_EQ(l.abits, c.all ? c.abits : 8) << l.name;
  }
  if (c.asym) EXPECT_GT(asym_layers, 0);
  const StepStats s = compare_layer_by_layer(m.q, 8, nullptr);
  EXPECT_GT(s.codes, 0);
  EXPECT_EQ(s.worse, 0) << "codes more than one step from the simulation";
  // Off-by-one codes come only from float rounding-order differences at exact ties: rare.
  EXPECT_LT(static_cast<double>(s.off_by_one), 1e-3 * static_cast<double>(s.codes))
      << s.off_by_one << " of " << s.codes;
  EXPECT_LT(s.max_rel_f32, 1e-4);
  std::printf("%s W%dA%d%s: %lld codes, %lld off by one, float outputs within %.2g relative\n",
              c.model, c.wbits, c.abits, c.asym ? " asym" : "", static_cast<long long>(s.codes),
              static_cast<long long>(s.off_by_one), s.max_rel_f32);
}

INSTANTIATE_TEST_SUITE_P(
    Bits, RuntimeContract,
    ::testing::Values(Case{"resnet20.onnx", 8, 8, 0, 0, 0}, Case{"resnet20.onnx", 4, 8, 0, 0, 0},
                      Case{"resnet20.onnx", 4, 4, 0, 0, 0}, Case{"resnet20.onnx", 3, 3, 0, 0, 0},
                      Case{"resnet20.onnx", 2, 4, 0, 0, 0}, Case{"resnet20.onnx", 2, 2, 1, 0, 0},
                      Case{"mobilenetv2.onnx", 8, 8, 0, 0, 0},
                      Case{"mobilenetv2.onnx", 4, 4, 0, 0, 0},
                      Case{"mobilenetv2.onnx", 2, 2, 1, 0, 0}, Case{"stem", 8, 8, 0, 0, 0},
                      Case{"stem", 4, 4, 1, 0, 0}, Case{"resnet20.onnx", 2, 4, 0, 1, 0},
                      Case{"mobilenetv2.onnx", 4, 4, 0, 1, 0},
                      // zero points (docs/quantization.md): dense and depthwise on the 8-bit-weight
                      // kernels, and with BRECQ + QDrop + LSQ + GENIE-M steps on top
                      Case{"resnet20.onnx", 4, 4, 0, 0, 1}, Case{"resnet20.onnx", 2, 4, 0, 0, 1},
                      Case{"resnet20.onnx", 2, 2, 1, 0, 1}, Case{"mobilenetv2.onnx", 4, 4, 0, 0, 1},
                      Case{"resnet20.onnx", 2, 4, 0, 1, 1},
                      // the first layer's output at 8 bits through the stem model's max pool
                      // (ResNet-20's feeds a conv and an Add, MobileNetV2's a depthwise conv)
                      Case{"stem", 4, 4, 0, 0, 0}));

// Top-1 of the integer runtime and of the simulation on the whole test set.
void agreement(const char *model, int wbits, int abits, int asym = 0) {
  QModel m(model, wbits, abits, 0, 0, asym);
  const int64_t total = 10000, batch = 500;
  zsq_session *sim = nullptr, *integer = nullptr;
  zsq_session_options so{batch, nullptr, 2, 1, 1, nullptr};
  zsq_session_options io{batch, nullptr, 2, 1, 0, nullptr};
  ASSERT_EQ(zsq_session_create(m.q, &so, &sim), ZSQ_OK) << zsq_model_last_error(m.q);
  ASSERT_EQ(zsq_session_create(m.q, &io, &integer), ZSQ_OK) << zsq_model_last_error(m.q);
  EXPECT_STREQ(zsq_session_engine(sim), "float simulation");
  EXPECT_EQ(std::string(zsq_session_engine(integer)).rfind("integer runtime (", 0), 0u);
  int64_t agree = 0, right_sim = 0, right_int = 0;
  std::vector<float> ys(static_cast<size_t>(batch * 10)), yi(ys.size());
  for (int64_t first = 0; first < total; first += batch) {
    std::vector<int> lab;
    std::vector<float> x = fmnist_images(first, batch, &lab);
    zsq_session_run(sim, x.data(), ys.data());
    zsq_session_run(integer, x.data(), yi.data());
    for (int64_t i = 0; i < batch; i++) {
      int bs = 0, bi = 0;
      for (int k = 1; k < 10; k++) {
        bs = ys[static_cast<size_t>(i * 10 + k)] > ys[static_cast<size_t>(i * 10 + bs)] ? k : bs;
        bi = yi[static_cast<size_t>(i * 10 + k)] > yi[static_cast<size_t>(i * 10 + bi)] ? k : bi;
      }
      agree += bs == bi;
      right_sim += bs == lab[static_cast<size_t>(i)];
      right_int += bi == lab[static_cast<size_t>(i)];
    }
  }
  zsq_session_destroy(sim);
  zsq_session_destroy(integer);
  EXPECT_GE(agree, total - total / 1000) << "agreement " << agree << " of " << total;
  EXPECT_GT(right_int, 8000) << "integer accuracy";
  std::printf("%s W%dA%d%s: simulation %.2f %%, integer %.2f %%, agreement %.2f %%\n", model, wbits,
              abits, asym ? " asym" : "", right_sim / 100.0, right_int / 100.0, agree / 100.0);
}

TEST(RuntimeAgreement, ResNet20W4A4TopOneOnTheTestSet) {
  agreement("resnet20.onnx", 4, 4);
}

TEST(RuntimeAgreement, ResNet20W4A4AsymmetricWeightsTopOneOnTheTestSet) {
  agreement("resnet20.onnx", 4, 4, 1);
}

TEST(RuntimeAgreement, MobileNetV2W4A8TopOneOnTheTestSet) {
  agreement("mobilenetv2.onnx", 4, 8);
}

TEST(Runtime, EveryIsaTierGivesTheSameOutputs) {
  QModel m("resnet20.onnx", 4, 4);
  std::vector<float> x = fmnist_images(0, 16, nullptr);
  std::vector<float> best(160), ref(160);
  zsq_err err;
  zsq_err_clear(&err);
  zsq_rt *a = nullptr, *b = nullptr;
  ASSERT_EQ(zsq_rt_create(m.q->graph, m.q->qlayers, m.q->n_qlayers, 16, nullptr, nullptr, &a, &err),
            ZSQ_OK)
      << err.msg;
  ASSERT_EQ(
      zsq_rt_create(m.q->graph, m.q->qlayers, m.q->n_qlayers, 16, "scalar", nullptr, &b, &err),
      ZSQ_OK)
      << err.msg;
  ASSERT_EQ(zsq_rt_run(a, x.data(), best.data(), &err), ZSQ_OK) << err.msg;
  ASSERT_EQ(zsq_rt_run(b, x.data(), ref.data(), &err), ZSQ_OK) << err.msg;
  EXPECT_EQ(std::memcmp(best.data(), ref.data(), best.size() * sizeof(float)), 0)
      << zsq_rt_kernel_name(a) << " vs " << zsq_rt_kernel_name(b);
  // Threads change nothing either.
  pthreadpool_t tp = pthreadpool_create(2);
  zsq_rt *c = nullptr;
  ASSERT_EQ(zsq_rt_create(m.q->graph, m.q->qlayers, m.q->n_qlayers, 16, nullptr, tp, &c, &err),
            ZSQ_OK);
  std::vector<float> threaded(160);
  ASSERT_EQ(zsq_rt_run(c, x.data(), threaded.data(), &err), ZSQ_OK) << err.msg;
  EXPECT_EQ(std::memcmp(best.data(), threaded.data(), best.size() * sizeof(float)), 0);
  zsq_rt_destroy(c);
  pthreadpool_destroy(tp);
  zsq_rt_destroy(a);
  zsq_rt_destroy(b);
}

TEST(Runtime, RefusesWhatItCannotRunByName) {
  QModel m("resnet20.onnx", 8, 8);
  zsq_err err;
  zsq_err_clear(&err);
  zsq_rt *rt = nullptr;
  // The float model: its first Conv reads an unquantized tensor.
  EXPECT_EQ(zsq_rt_create(m.f->graph, nullptr, 0, 1, nullptr, nullptr, &rt, &err),
            ZSQ_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(err.msg).find("Conv"), std::string::npos) << err.msg;
  EXPECT_EQ(rt, nullptr);
  // An unknown ISA tier.
  zsq_err_clear(&err);
  EXPECT_NE(zsq_rt_create(m.q->graph, m.q->qlayers, m.q->n_qlayers, 1, "sse9", nullptr, &rt, &err),
            ZSQ_OK);
  EXPECT_NE(std::string(err.msg).find("sse9"), std::string::npos) << err.msg;
}

TEST(RuntimeOps, MaxPoolOnCodesEqualsMaxPoolOnTheirValues) {
  const int64_t n = 2, h = 7, w = 6, c = 5;
  std::vector<uint8_t> q(static_cast<size_t>(n * h * w * c));
  std::vector<float> f(q.size());
  uint32_t r = 3;
  for (size_t i = 0; i < q.size(); i++) {
    r = r * 1664525u + 1013904223u;
    q[i] = static_cast<uint8_t>(r >> 28);
    f[i] = (static_cast<float>(q[i]) - 3.0f) * 0.25f;
  }
  zsq_window win{};
  win.kernel[0] = win.kernel[1] = 3;
  win.strides[0] = win.strides[1] = 2;
  win.dilations[0] = win.dilations[1] = 1;
  for (int k = 0; k < 4; k++) win.pads[k] = 1;
  zsq_geom g;
  ASSERT_TRUE(zsq_window_resolve(&win, h, w, 3, 3, 1, &g));
  const size_t out = static_cast<size_t>(n * g.out_h * g.out_w * c);
  std::vector<uint8_t> yq(out);
  std::vector<float> yf(out);
  rt_val xq{RT_CODES, 4, n, h, w, c, 0.25f, 3, 4, q.data()};
  rt_val xf{RT_F32, 4, n, h, w, c, 0.0f, 0, 0, f.data()};
  rt_val oq{RT_CODES, 4, n, g.out_h, g.out_w, c, 0.25f, 3, 4, yq.data()};
  rt_val of{RT_F32, 4, n, g.out_h, g.out_w, c, 0.0f, 0, 0, yf.data()};
  rt_maxpool(&xq, &oq, &g, 0, oq.n * oq.h);
  rt_maxpool(&xf, &of, &g, 0, of.n * of.h);
  for (size_t i = 0; i < out; i++) ASSERT_EQ(rt_get(&oq, static_cast<int64_t>(i)), yf[i]) << i;
  // The corner window (oy = ox = 0) covers input rows and columns 0..1 only.
  float m = -1e9f;
  for (int64_t y = 0; y < 2; y++)
    for (int64_t x = 0; x < 2; x++) m = std::fmax(m, f[static_cast<size_t>((y * w + x) * c)]);
  EXPECT_EQ(yf[0], m);
}

TEST(MemPlan, LiveBuffersNeverOverlapAndDeadOnesShare) {
  uint32_t r = 7;
  auto next = [&r](uint32_t n) {
    r = r * 1664525u + 1013904223u;
    return (r >> 8) % n;
  };
  for (int trial = 0; trial < 50; trial++) {
    std::vector<zsq_buf_life> b(1 + next(40));
    size_t sum = 0;
    for (auto &x : b) {
      x.first = static_cast<int>(next(30));
      x.last = x.first + static_cast<int>(next(5));
      x.bytes = 1 + next(5000);
      sum += (x.bytes + 63) / 64 * 64;
    }
    const size_t total = zsq_memplan(b.data(), static_cast<int>(b.size()));
    ASSERT_LE(total, sum);
    for (size_t i = 0; i < b.size(); i++) {
      EXPECT_EQ(b[i].offset % 64, 0u);
      EXPECT_LE(b[i].offset + b[i].bytes, total);
      for (size_t j = 0; j < i; j++) {
        const bool live = b[i].first <= b[j].last && b[j].first <= b[i].last;
        const bool apart =
            b[i].offset + b[i].bytes <= b[j].offset || b[j].offset + b[j].bytes <= b[i].offset;
        EXPECT_TRUE(!live || apart) << "trial " << trial << ": buffers " << i << ", " << j;
      }
    }
  }
  // A chain a -> b -> c: a and c are never live together, so they share.
  std::vector<zsq_buf_life> chain = {{1000, 0, 1, 0}, {1000, 1, 2, 0}, {1000, 2, 3, 0}};
  EXPECT_EQ(zsq_memplan(chain.data(), 3), 2048u);
}

}  // namespace
