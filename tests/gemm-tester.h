// gemm-tester.h — fluent tester for the qu8 x qc{8,4}w GEMM ukernels (XNNPACK style).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/gemm.h"

// Draws random operands and epilogue parameters for one M x N x K problem, runs the ukernel under
// test on weights packed for its (nr, kr) tile, runs the scalar oracle on the same codes, and
// requires (1) the oracle to equal an independent recomputation (the accumulator summed in
// double, exact at these sizes, then the docs/kernels.md epilogue) and (2) the ukernel to equal
// the oracle byte for byte, leaving the bytes between rows untouched.
class GemmTester {
 public:
  GemmTester &mr(size_t v) {
    mr_ = v;
    return *this;
  }
  GemmTester &nr(size_t v) {
    nr_ = v;
    return *this;
  }
  GemmTester &kr(size_t v) {
    kr_ = v;
    return *this;
  }
  GemmTester &m(size_t v) {
    m_ = v;
    return *this;
  }
  GemmTester &n(size_t v) {
    n_ = v;
    return *this;
  }
  GemmTester &k(size_t v) {
    k_ = v;
    return *this;
  }
  GemmTester &wbits(int v) {
    wbits_ = v;
    return *this;
  }  // 8, 4 or 3 (3 runs on 4-bit kernels)
  GemmTester &abits(int v) {
    abits_ = v;
    return *this;
  }  // 2..8
  GemmTester &a_stride(size_t v) {
    a_stride_ = v;
    return *this;
  }
  // The packing of the ukernel under test (default: the portable one of its width).
  GemmTester &pack(zsq_gemm_pack_fn v) {
    pack_ = v;
    return *this;
  }
  GemmTester &c_stride(size_t v) {
    c_stride_ = v;
    return *this;
  }
  GemmTester &qmin(int32_t v) {
    qmin_ = v;
    return *this;
  }
  GemmTester &qmax(int32_t v) {
    qmax_ = v;
    return *this;
  }
  GemmTester &asym_weights(bool v) {
    asym_ = v;
    return *this;
  }  // zw != 0, rowsum used
  GemmTester &seed(uint32_t v) {
    seed_ = v;
    return *this;
  }
  GemmTester &iterations(int v) {
    iterations_ = v;
    return *this;
  }

  void Test(zsq_gemm_requant_ukernel_fn ukernel) const {
    ASSERT_LE(m_, mr_);
    ASSERT_LE(qmin_, qmax_);
    const size_t as = std::max(a_stride_, k_), cs = std::max(c_stride_, n_);
    const int wmin = -(1 << (wbits_ - 1)), wmax = (1 << (wbits_ - 1)) - 1;
    const int amax = (1 << abits_) - 1;
    std::mt19937 rng(seed_ ^ static_cast<uint32_t>(m_ * 131 + n_ * 17 + k_));
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto real = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    for (int it = 0; it < iterations_; it++) {
      // Sized to end at the last code: a read past row m-1's kc codes is out of bounds (ASan).
      std::vector<uint8_t> a((m_ - 1) * as + k_);
      for (auto &x : a) x = static_cast<uint8_t>(uniform(0, amax));
      std::vector<int8_t> w(n_ * k_);
      for (auto &x : w) x = static_cast<int8_t>(uniform(wmin, wmax));
      std::vector<int32_t> rowsum(m_, 0), zw(n_, 0), bias(n_);
      for (size_t i = 0; i < m_; i++)
        for (size_t kk = 0; kk < k_; kk++) rowsum[i] += a[i * as + kk];
      const int32_t za = uniform(0, amax);
      for (size_t j = 0; j < n_; j++) {
        if (asym_) zw[j] = uniform(wmin, wmax);
        int32_t wsum = 0;
        for (size_t kk = 0; kk < k_; kk++) wsum += w[j * k_ + kk];
        bias[j] = -za * wsum + static_cast<int32_t>(k_) * za * zw[j] + uniform(-300, 300);
      }
      // Exact accumulators and the integer pre-activation t of the epilogue.
      std::vector<int64_t> t(m_ * n_);
      for (size_t i = 0; i < m_; i++) {
        for (size_t j = 0; j < n_; j++) {
          double acc = 0.0;
          for (size_t kk = 0; kk < k_; kk++) acc += double(a[i * as + kk]) * double(w[j * k_ + kk]);
          t[i * n_ + j] = static_cast<int64_t>(acc) + bias[j] - int64_t(zw[j]) * rowsum[i];
        }
      }
      // mult in [1e-4, 1e-1] scaled to the column's spread; offset centres it with a random
      // fraction, so floor() lands on varied codes and both clamps are hit.
      std::vector<float> mult(n_), offset(n_);
      for (size_t j = 0; j < n_; j++) {
        int64_t lo = t[j], hi = t[j];
        for (size_t i = 0; i < m_; i++) {
          lo = std::min(lo, t[i * n_ + j]);
          hi = std::max(hi, t[i * n_ + j]);
        }
        const double want = (qmax_ - qmin_ + 1) * real(0.5, 2.0) / double(hi - lo + 1);
        mult[j] = static_cast<float>(std::clamp(want, 1e-4, 1e-1));
        offset[j] = static_cast<float>(0.5 * (qmin_ + qmax_) - 0.5 * double(lo + hi) * mult[j] +
                                       real(-2.0, 2.0));
        if (j % 2 == 1) {  // one row lands within an ulp of a code boundary: fma vs mul+add shows
          const int64_t ti = t[uniform(0, static_cast<int>(m_) - 1) * n_ + j];
          offset[j] = static_cast<float>(uniform(qmin_, qmax_) - double(ti) * mult[j]);
        }
      }
      zsq_gemm_requant_params p{bias.data(),
                                mult.data(),
                                offset.data(),
                                asym_ ? zw.data() : nullptr,
                                asym_ ? rowsum.data() : nullptr,
                                qmin_,
                                qmax_};

      std::vector<uint8_t> expect(m_ * n_);
      for (size_t i = 0; i < m_; i++) {
        for (size_t j = 0; j < n_; j++) {
          float v = std::fmaf(static_cast<float>(t[i * n_ + j]), mult[j], offset[j]);
          const double q = std::floor(double(v));
          expect[i * n_ + j] = static_cast<uint8_t>(std::clamp(q, double(qmin_), double(qmax_)));
        }
      }
      const std::vector<uint8_t> oracle =
          Run(OracleUkernel(), OracleNr(), 1, nullptr, a, as, w, cs, p);
      const std::vector<uint8_t> got = Run(ukernel, nr_, kr_, pack_, a, as, w, cs, p);
      for (size_t i = 0; i < m_; i++) {
        for (size_t j = 0; j < cs; j++) {
          const size_t at = i * cs + j;
          if (j >= n_) {
            ASSERT_EQ(got[at], kCanary) << "wrote past n at m=" << i << " n=" << j;
            continue;
          }
          ASSERT_EQ(oracle[at], expect[i * n_ + j])
              << "oracle vs exact recomputation at m=" << i << " n=" << j << Shape();
          ASSERT_EQ(got[at], oracle[at]) << "ukernel vs oracle at m=" << i << " n=" << j << Shape();
        }
      }
    }
  }

 private:
  static constexpr uint8_t kCanary = 0xA5;

  zsq_gemm_requant_ukernel_fn OracleUkernel() const {
    return wbits_ == 8 ? zsq_qu8_qc8w_gemm_requant_ukernel_1x1c1__scalar
                       : zsq_qu8_qc4w_gemm_requant_ukernel_1x2c1__scalar;
  }
  size_t OracleNr() const { return wbits_ == 8 ? 1 : 2; }

  std::vector<uint8_t> Run(zsq_gemm_requant_ukernel_fn fn, size_t nr, size_t kr,
                           zsq_gemm_pack_fn pack, const std::vector<uint8_t> &a, size_t as,
                           const std::vector<int8_t> &w, size_t cs,
                           const zsq_gemm_requant_params &p) const {
    const int packed_bits = wbits_ == 8 ? 8 : 4;
    std::vector<uint8_t> packed(zsq_gemm_packed_size(n_, k_, nr, kr, packed_bits));
    if (pack == nullptr) pack = packed_bits == 8 ? zsq_gemm_pack_qc8w : zsq_gemm_pack_qc4w;
    pack(n_, k_, nr, kr, w.data(), k_, packed.data());
    std::vector<uint8_t> c(m_ * cs, kCanary);
    fn(m_, n_, k_, a.data(), as, packed.data(), c.data(), cs, &p);
    return c;
  }

  std::string Shape() const {
    return " (m=" + std::to_string(m_) + " n=" + std::to_string(n_) + " k=" + std::to_string(k_) +
           " w" + std::to_string(wbits_) + "a" + std::to_string(abits_) + ")";
  }

  size_t mr_ = 1, nr_ = 1, kr_ = 1, m_ = 1, n_ = 1, k_ = 1;
  int wbits_ = 8, abits_ = 8;
  size_t a_stride_ = 0, c_stride_ = 0;
  int32_t qmin_ = 0, qmax_ = 255;
  bool asym_ = false;
  uint32_t seed_ = 1;
  zsq_gemm_pack_fn pack_ = nullptr;
  int iterations_ = 1;
};
