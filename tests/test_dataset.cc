// test_dataset.cc — the IDX loader: Fashion-MNIST geometry and labels, and clear errors for a
// missing or malformed dataset.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <string>

#include "zsq.h"

namespace {

struct Ds {
  zsq_dataset *d = nullptr;
  Ds() { zsq_dataset_create(&d); }
  ~Ds() { zsq_dataset_destroy(d); }
  std::string error() const { return zsq_dataset_last_error(d); }
};

TEST(Dataset, FashionMnistTestSplit) {
  Ds ds;
  ASSERT_EQ(zsq_dataset_load_idx(ds.d, "/usr/share/datasets/fashion-mnist", ZSQ_SPLIT_TEST), ZSQ_OK)
      << ds.error();
  ASSERT_EQ(zsq_dataset_count(ds.d), 10000u);
  int c, h, w;
  zsq_dataset_geometry(ds.d, &c, &h, &w);
  EXPECT_EQ(c, 1);
  EXPECT_EQ(h, 28);
  EXPECT_EQ(w, 28);
  int counts[10] = {0};
  for (size_t i = 0; i < 10000; i++) {
    int l = zsq_dataset_label(ds.d, i);
    ASSERT_GE(l, 0);
    ASSERT_LT(l, 10);
    counts[l]++;
  }
  for (int k = 0; k < 10; k++) EXPECT_EQ(counts[k], 1000) << "class " << k;
  EXPECT_EQ(zsq_dataset_label(ds.d, 0), 9);  // the first test image is an ankle boot
  EXPECT_EQ(zsq_dataset_image(ds.d, 10000), nullptr);
}

TEST(Dataset, MissingDirectory) {
  Ds ds;
  EXPECT_EQ(zsq_dataset_load_idx(ds.d, "/nonexistent/fmnist", ZSQ_SPLIT_TEST), ZSQ_ERR_IO);
  EXPECT_NE(ds.error().find("/nonexistent/fmnist"), std::string::npos) << ds.error();
}

void write_gz(const std::string &path, const std::string &bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

std::string be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

class BadDataset : public ::testing::Test {
 protected:
  std::string dir;
  void SetUp() override {
    char tmpl[] = "/tmp/zsq-idx-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override {
    std::remove((dir + "/t10k-images-idx3-ubyte.gz").c_str());
    std::remove((dir + "/t10k-labels-idx1-ubyte.gz").c_str());
    std::remove(dir.c_str());
  }
  zsq_status load(const std::string &images, const std::string &labels, std::string *msg) {
    write_gz(dir + "/t10k-images-idx3-ubyte.gz", images);
    write_gz(dir + "/t10k-labels-idx1-ubyte.gz", labels);
    Ds ds;
    zsq_status st = zsq_dataset_load_idx(ds.d, dir.c_str(), ZSQ_SPLIT_TEST);
    *msg = ds.error();
    return st;
  }
};

TEST_F(BadDataset, ValidTinyFileLoads) {
  std::string msg;
  EXPECT_EQ(load(be32(0x803) + be32(2) + be32(2) + be32(2) + std::string(8, '\x7f'),
                 be32(0x801) + be32(2) + "\x03\x04", &msg),
            ZSQ_OK)
      << msg;
}

TEST_F(BadDataset, WrongMagic) {
  std::string msg;
  EXPECT_EQ(
      load(be32(0x801) + be32(1) + be32(1) + be32(1) + "x", be32(0x801) + be32(1) + "\x01", &msg),
      ZSQ_ERR_FORMAT);
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
}

TEST_F(BadDataset, TruncatedPixels) {
  std::string msg;
  EXPECT_EQ(load(be32(0x803) + be32(3) + be32(28) + be32(28) + std::string(100, '\0'),
                 be32(0x801) + be32(3) + "abc", &msg),
            ZSQ_ERR_FORMAT);
  EXPECT_NE(msg.find("holds"), std::string::npos) << msg;
}

TEST_F(BadDataset, LabelCountDiffers) {
  std::string msg;
  EXPECT_EQ(
      load(be32(0x803) + be32(2) + be32(1) + be32(1) + "ab", be32(0x801) + be32(3) + "abc", &msg),
      ZSQ_ERR_FORMAT);
  EXPECT_NE(msg.find("labels"), std::string::npos) << msg;
}

TEST_F(BadDataset, CorruptGzip) {
  std::string msg;
  write_gz(dir + "/t10k-labels-idx1-ubyte.gz", be32(0x801) + be32(1) + "a");
  FILE *f = std::fopen((dir + "/t10k-images-idx3-ubyte.gz").c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite("\x1f\x8b\x08\x00garbage-that-is-not-deflate", 1, 31, f);
  std::fclose(f);
  Ds ds;
  EXPECT_NE(zsq_dataset_load_idx(ds.d, dir.c_str(), ZSQ_SPLIT_TEST), ZSQ_OK);
  EXPECT_FALSE(ds.error().empty());
}

}  // namespace
