// fmnist-images.h — Fashion-MNIST test images normalised as the bundled teachers expect.
#ifndef ZSQ_TESTS_FMNIST_IMAGES_H
#define ZSQ_TESTS_FMNIST_IMAGES_H

#include <gtest/gtest.h>

#include <vector>

#include "zsq.h"

namespace zsqtest {

// Images [first, first + n) of the test split as NCHW floats, (p/255 − 0.2860) / 0.3530; their
// labels appended to *labels when it is not null.
inline std::vector<float> fmnist_images(int64_t first, int64_t n, std::vector<int> *labels) {
  zsq_dataset *d;
  zsq_dataset_create(&d);
  EXPECT_EQ(zsq_dataset_load_idx(d, "/usr/share/datasets/fashion-mnist", ZSQ_SPLIT_TEST), ZSQ_OK);
  std::vector<float> x(static_cast<size_t>(n * 784));
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *px = zsq_dataset_image(d, static_cast<size_t>(first + i));
    for (int k = 0; k < 784; k++)
      x[static_cast<size_t>(i * 784 + k)] = (px[k] / 255.0f - 0.2860f) / 0.3530f;
    if (labels) labels->push_back(zsq_dataset_label(d, static_cast<size_t>(first + i)));
  }
  zsq_dataset_destroy(d);
  return x;
}

}  // namespace zsqtest

#endif
