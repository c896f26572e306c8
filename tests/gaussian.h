// gaussian.h — test inputs: n standard-normal floats from a seeded std::mt19937.
#ifndef ZSQ_TESTS_GAUSSIAN_H
#define ZSQ_TESTS_GAUSSIAN_H

#include <random>
#include <vector>

inline std::vector<float> gaussian_vector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto &v : x) v = d(rng);
  return x;
}

#endif
