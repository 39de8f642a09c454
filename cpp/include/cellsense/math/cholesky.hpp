// SPDX-License-Identifier: Apache-2.0
// Cholesky factorisation that reports failure instead of producing NaN.
#pragma once

#include <cmath>
#include <limits>

#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace math {

/// Smallest accepted pivot relative to its diagonal entry, d_j > kPivotFloor * A_jj. A pivot
/// d_j / A_jj is the share of state j's variance not explained by the states before it (1 - R^2);
/// rounding in T perturbs it by about n * eps (Golub & Van Loan, 4th ed., sec. 4.2.6), so a
/// pivot below 64 eps says "singular within rounding": its sign is noise, and a matrix accepted
/// on it may be indefinite when evaluated exactly (libFuzzer found such a float32 covariance
/// passing the plain d_j > 0 test and failing Cholesky in double). In operation the smallest
/// ratio seen on real drive cycles is about 0.5 (docs/hardening.md), five orders above the floor.
template <typename T>
constexpr T pivot_floor() {
  return T(64) * std::numeric_limits<T>::epsilon();
}

/// Lower-triangular L with A = L L^T (Cholesky-Banachiewicz; Golub & Van Loan, Matrix
/// Computations, 4th ed., Alg. 4.2.1). Only the lower triangle of `a` is read.
/// Returns false (and leaves `l` unspecified) when a pivot is not finite or not above
/// pivot_floor<T>() times its diagonal entry, i.e. when A is not numerically positive definite;
/// never takes sqrt of a negative.
/// sqrt is IEEE correctly rounded on x86-64 SSE and on Cortex-M (VSQRT or newlib), so it is
/// safe for bit-exact host/MCU parity (docs/mcu.md, "Parity").
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
    if (!(d > pivot_floor<T>() * a.data[j][j]) || !(d > T(0)) || !is_finite(d)) { return false; }
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
/// factorisation is finite and above pivot_floor<T>() times its diagonal entry (the same verdict
/// as cholesky(); Golub & Van Loan, 4th ed., sec. 4.1.2). No square
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
  T diag[N];
  CELLSENSE_UNROLL
  for (int j = 0; j < N; ++j) { diag[j] = a[j][j]; }
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
    ok = ok && a[j][j] > pivot_floor<T>() * diag[j] && a[j][j] > T(0) && a[j][j] <= T(3.0e38);
  }
  return ok;
}

}  // namespace math
}  // namespace cellsense
