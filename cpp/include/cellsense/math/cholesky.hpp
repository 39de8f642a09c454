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

/// True when the symmetric N x N matrix given by its packed upper triangle (row by row:
/// a00 a01 .. a0n a11 .. ann) is numerically positive definite: every pivot of its LDL^T
/// factorisation is strictly positive and finite (Golub & Van Loan, 4th ed., sec. 4.1.2). No square
/// roots: a cheaper test than cholesky() where only the verdict is needed.
template <typename T, int N>
CELLSENSE_ALWAYS_INLINE bool positive_definite_packed(const T* upper) {
  // Unpack into the lower triangle of a (a[j][i] = A_ij, i <= j), then LDL^T in place:
  // a[j][j] <- d_j, a[i][j] <- l_ij d_j (i > j). Fixed trip counts, unrolled: straight-line code.
  T a[N][N];
  int m = 0;
  CELLSENSE_UNROLL
  for (int i = 0; i < N; ++i) {
    CELLSENSE_UNROLL
    for (int j = i; j < N; ++j) { a[j][i] = upper[m++]; }
  }
  bool ok = true;
  CELLSENSE_UNROLL
  for (int j = 0; j < N; ++j) {
    CELLSENSE_UNROLL
    for (int i = j; i < N; ++i) {
      T v = a[i][j];
      CELLSENSE_UNROLL
      for (int k = 0; k < j; ++k) { v = v - a[i][k] * (a[j][k] / a[k][k]); }  // l_ik d_k l_jk = (l_ik d_k)(l_jk d_k)/d_k
      a[i][j] = v;
    }
    ok = ok && a[j][j] > T(0) && a[j][j] <= T(3.0e38);
  }
  return ok;
}

}  // namespace math
}  // namespace cellsense
