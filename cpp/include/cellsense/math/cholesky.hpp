// SPDX-License-Identifier: Apache-2.0
// Cholesky factorisation that reports failure instead of producing NaN.
#pragma once

#include <cmath>

#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace math {

/// Lower-triangular L with A = L L^T (Cholesky-Banachiewicz; Golub & Van Loan, Matrix
/// Computations, 4th ed., Alg. 4.2.1). Only the lower triangle of `a` is read.
/// Returns false (and leaves `l` unspecified) when a pivot is not strictly positive or not
/// finite, i.e. when A is not numerically positive definite; never takes sqrt of a negative.
/// sqrt is IEEE correctly rounded on x86-64 SSE and on Cortex-M (VSQRT or newlib), so it is
/// safe for bit-exact host/MCU parity (shared/notes/embedded.md).
template <typename T, int N>
bool cholesky(const Matrix<T, N, N>& a, Matrix<T, N, N>& l) {
  CELLSENSE_UNROLL
  for (int r = 0; r < N; ++r) {
    CELLSENSE_UNROLL
    for (int c = 0; c < N; ++c) { l.data[r][c] = T(0); }
  }
  CELLSENSE_UNROLL
  for (int j = 0; j < N; ++j) {
    T d = a.data[j][j];
    CELLSENSE_UNROLL
    for (int k = 0; k < j; ++k) { d = d - l.data[j][k] * l.data[j][k]; }
    if (!(d > T(0)) || !is_finite(d)) { return false; }
    const T ljj = std::sqrt(d);
    l.data[j][j] = ljj;
    CELLSENSE_UNROLL
    for (int i = j + 1; i < N; ++i) {
      T s = a.data[i][j];
      CELLSENSE_UNROLL
      for (int k = 0; k < j; ++k) { s = s - l.data[i][k] * l.data[j][k]; }
      l.data[i][j] = s / ljj;
    }
  }
  return true;
}

}  // namespace math
}  // namespace cellsense
