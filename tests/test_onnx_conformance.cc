// test_onnx_conformance.cc — runs ONNX's own backend node tests (Debian libonnx-testdata) for
// every case whose operators zsq supports, with the ONNX runner's tolerances (rtol 1e-3, atol
// 1e-7).
#include <dirent.h>
#include <pthreadpool.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "core/alloc.h"
#include "float/plan.h"
#include "io/file_map.h"
#include "io/onnx_import.h"
#include "io/onnx_tensor.h"
}

namespace {

const char kDataRoot[] = "/usr/share/libonnx-testdata/data";

std::vector<std::string> list_dir(const std::string &dir) {
  std::vector<std::string> out;
  DIR *d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent *e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool file_exists(const std::string &p) {
  return access(p.c_str(), R_OK) == 0;
}

// Cases whose every node is an operator of the foundation set (or Constant).
std::vector<std::string> discover_cases() {
  static const std::set<std::string> ops = {"Conv",
                                            "BatchNormalization",
                                            "Relu",
                                            "Clip",
                                            "Add",
                                            "Mul",
                                            "MaxPool",
                                            "AveragePool",
                                            "GlobalAveragePool",
                                            "Gemm",
                                            "MatMul",
                                            "Flatten",
                                            "Reshape",
                                            "Identity",
                                            "Concat",
                                            "Softmax",
                                            "Constant"};
  std::vector<std::string> cases;
  for (const char *suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    std::string sdir = std::string(kDataRoot) + "/" + suite;
    for (const std::string &c : list_dir(sdir)) {
      std::string model = sdir + "/" + c + "/model.onnx";
      zsq_file_view view;
      zsq_err err;
      zsq_err_clear(&err);
      if (zsq_file_map(model.c_str(), &view, &err) != ZSQ_OK) continue;
      Onnx__ModelProto *mp =
          onnx__model_proto__unpack(nullptr, view.size, static_cast<const uint8_t *>(view.data));
      zsq_file_unmap(&view);
      if (mp == nullptr || mp->graph == nullptr || mp->graph->n_node == 0) {
        if (mp) onnx__model_proto__free_unpacked(mp, nullptr);
        continue;
      }
      bool ok = true;
      for (size_t i = 0; i < mp->graph->n_node; i++)
        ok &= ops.count(mp->graph->node[i]->op_type) > 0;
      onnx__model_proto__free_unpacked(mp, nullptr);
      if (ok) cases.push_back(std::string(suite) + "/" + c);
    }
  }
  return cases;
}

struct OwnedTensor {
  zsq_tensor t{};
  ~OwnedTensor() { zsq_aligned_free(t.data); }
};

// Skips the case (with ONNX's reason) when zsq reports the feature as unsupported.
#define SKIP_IF_UNSUPPORTED(st, err)                            \
  do {                                                          \
    if ((st) == ZSQ_ERR_UNSUPPORTED) GTEST_SKIP() << (err).msg; \
  } while (0)

class OnnxNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxNodeTest, MatchesReferenceOutputs) {
  const std::string dir = std::string(kDataRoot) + "/" + GetParam();
  zsq_err err;
  zsq_err_clear(&err);
  zsq_graph *g = nullptr;
  zsq_status st = zsq_onnx_import_file((dir + "/model.onnx").c_str(), &g, &err);
  SKIP_IF_UNSUPPORTED(st, err);
  ASSERT_EQ(st, ZSQ_OK) << err.msg;
  int sets = 0;
  for (const std::string &ds : list_dir(dir)) {
    if (ds.rfind("test_data_set_", 0) != 0) continue;
    sets++;
    zsq_graph *gc = zsq_graph_clone(g);
    ASSERT_NE(gc, nullptr);
    // Bind inputs that must be constants (shapes, clip bounds, weights), keep the rest as data.
    std::vector<OwnedTensor> inputs(g->n_inputs);
    std::vector<const void *> data_ptrs;
    for (size_t i = 0; i < g->n_inputs; i++) {
      std::string p = dir + "/" + ds + "/input_" + std::to_string(i) + ".pb";
      st = zsq_onnx_read_tensor_file(p.c_str(), &inputs[i].t, &err);
      SKIP_IF_UNSUPPORTED(st, err);
      ASSERT_EQ(st, ZSQ_OK) << err.msg;
      int ti = g->inputs[i];
      bool is_static = inputs[i].t.dtype != ZSQ_F32;
      for (size_t n = 0; n < g->n_nodes; n++) {
        for (int k = 0; k < g->nodes[n].n_inputs; k++) {
          if (g->nodes[n].inputs[k] == ti && zsq_node_input_is_static(&g->nodes[n], k))
            is_static = true;
        }
      }
      if (is_static) {
        ASSERT_EQ(
            zsq_graph_bind_constant(gc, g->tensors[ti].name, inputs[i].t.dtype, inputs[i].t.rank,
                                    inputs[i].t.dims, inputs[i].t.data, &err),
            ZSQ_OK)
            << err.msg;
      } else {
        // Test data has concrete shapes: plan with exactly these.
        zsq_tensor *gt = &gc->tensors[zsq_graph_find(gc, g->tensors[ti].name)];
        gt->rank = inputs[i].t.rank;
        std::copy(inputs[i].t.dims, inputs[i].t.dims + ZSQ_MAX_RANK, gt->dims);
        data_ptrs.push_back(inputs[i].t.data);
      }
    }
    zsq_fplan *plan = nullptr;
    st = zsq_fplan_create(gc, 1, nullptr, &plan, &err);
    if (st == ZSQ_ERR_UNSUPPORTED) {
      zsq_graph_free(gc);
      zsq_graph_free(g);
      GTEST_SKIP() << err.msg;
    }
    ASSERT_EQ(st, ZSQ_OK) << err.msg;
    std::vector<OwnedTensor> expected(gc->n_outputs);
    std::vector<std::vector<float>> got(gc->n_outputs);
    std::vector<void *> out_ptrs;
    for (size_t o = 0; o < gc->n_outputs; o++) {
      std::string p = dir + "/" + ds + "/output_" + std::to_string(o) + ".pb";
      ASSERT_EQ(zsq_onnx_read_tensor_file(p.c_str(), &expected[o].t, &err), ZSQ_OK) << err.msg;
      const zsq_value *v = zsq_fplan_value(plan, gc->outputs[o]);
      ASSERT_EQ(v->rank, expected[o].t.rank) << "output " << o << " rank";
      for (int d = 0; d < v->rank; d++)
        ASSERT_EQ(v->dims[d], expected[o].t.dims[d]) << "output " << o << " dim " << d;
      got[o].resize(v->numel + 1);
      out_ptrs.push_back(got[o].data());
    }
    zsq_fplan_run(plan, data_ptrs.data(), out_ptrs.data());
    for (size_t o = 0; o < gc->n_outputs; o++) {
      const float *want = static_cast<const float *>(expected[o].t.data);
      size_t n = (size_t)zsq_tensor_numel(&expected[o].t), bad = 0;
      for (size_t i = 0; i < n; i++) {
        float a = got[o][i], b = want[i];
        bool ok = (std::isnan(a) && std::isnan(b)) || a == b ||
                  std::fabs(a - b) <= 1e-7f + 1e-3f * std::fabs(b);
        if (!ok && bad++ < 5)
          ADD_FAILURE() << ds << " output " << o << "[" << i << "]: got " << a << ", want " << b;
      }
      EXPECT_EQ(bad, 0u) << ds << " output " << o << ": " << bad << " of " << n
                         << " elements out of tolerance";
    }
    zsq_fplan_destroy(plan);
    zsq_graph_free(gc);
  }
  zsq_graph_free(g);
  EXPECT_GT(sets, 0) << "no test_data_set_* folder";
}

std::string case_name(const ::testing::TestParamInfo<std::string> &info) {
  std::string s = info.param;
  for (char &c : s) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxNodeTest, ::testing::ValuesIn(discover_cases()), case_name);

TEST(OnnxConformance, TestDataIsInstalled) {
  ASSERT_TRUE(
      file_exists(std::string(kDataRoot) + "/node/test_conv_with_strides_padding/model.onnx"))
      << "install libonnx-testdata (tools/install-deps.sh)";
  EXPECT_GE(discover_cases().size(), 150u);
}

}  // namespace
