// SPDX-License-Identifier: Apache-2.0
// Fixed-size matrix value type for the cellsense core.
//
// Sizes are compile-time; storage is an in-place array; nothing allocates. Only the operations
// the filters need are provided. The layout follows PX4's `matrix` library habit: a plain
// `T data[R][C]` inside a value type, free functions for products.
#pragma once

/// Full unrolling of the core's short fixed-trip loops (state dimension, RC pairs, polynomial
/// degree). GCC at -O2 keeps them as loops, and for 4 x 4 work the loop control costs as many
/// instructions as the arithmetic. Only the instruction order changes, never the arithmetic.
/// (A build may define it itself: the coverage build, scripts/coverage.sh, defines it empty.)
#if !defined(CELLSENSE_UNROLL)
#if defined(__GNUC__) && !defined(__clang__)
#define CELLSENSE_UNROLL _Pragma("GCC unroll 16")
#else
#define CELLSENSE_UNROLL
#endif
#endif

/// Inline small per-step helpers (table reads) that GCC at -O2 would otherwise call out of line
/// once per table: their call overhead and the reloading of the grid point are as large as the
/// interpolation itself, and inlined, the index arithmetic is shared between the tables.
/// (The coverage build defines it as plain `inline`, so that a helper's branches are counted once,
/// not once per call site it was forced into.)
#if !defined(CELLSENSE_ALWAYS_INLINE)
#if defined(__GNUC__)
#define CELLSENSE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define CELLSENSE_ALWAYS_INLINE inline
#endif
#endif

namespace cellsense {
namespace math {

template <typename T, int R, int C>
struct Matrix {
  static_assert(R > 0 && C > 0, "matrix dimensions must be positive");
  T data[R][C];

  T& operator()(int r, int c) { return data[r][c]; }
  const T& operator()(int r, int c) const { return data[r][c]; }

  static constexpr int rows() { return R; }
  static constexpr int cols() { return C; }

  static Matrix zero() {
    Matrix m{};
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) { m.data[r][c] = T(0); }
    }
    return m;
  }

  static Matrix identity() {
    static_assert(R == C, "identity needs a square matrix");
    Matrix m = zero();
    for (int i = 0; i < R; ++i) { m.data[i][i] = T(1); }
    return m;
  }
};

/// Column vector.
template <typename T, int N>
using Vector = Matrix<T, N, 1>;

template <typename T, int R, int K, int C>
Matrix<T, R, C> operator*(const Matrix<T, R, K>& a, const Matrix<T, K, C>& b) {
  Matrix<T, R, C> out;
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      T acc = T(0);
      for (int k = 0; k < K; ++k) { acc = acc + a.data[r][k] * b.data[k][c]; }
      out.data[r][c] = acc;
    }
  }
  return out;
}

template <typename T, int R, int C>
Matrix<T, R, C> operator+(const Matrix<T, R, C>& a, const Matrix<T, R, C>& b) {
  Matrix<T, R, C> out;
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) { out.data[r][c] = a.data[r][c] + b.data[r][c]; }
  }
  return out;
}

template <typename T, int R, int C>
Matrix<T, R, C> operator-(const Matrix<T, R, C>& a, const Matrix<T, R, C>& b) {
  Matrix<T, R, C> out;
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) { out.data[r][c] = a.data[r][c] - b.data[r][c]; }
  }
  return out;
}

template <typename T, int R, int C>
Matrix<T, R, C> operator*(const Matrix<T, R, C>& a, T s) {
  Matrix<T, R, C> out;
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) { out.data[r][c] = a.data[r][c] * s; }
  }
  return out;
}

template <typename T, int R, int C>
Matrix<T, C, R> transpose(const Matrix<T, R, C>& a) {
  Matrix<T, C, R> out;
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) { out.data[c][r] = a.data[r][c]; }
  }
  return out;
}

/// P = (P + P^T) / 2, removing the asymmetry rounding leaves after an update.
template <typename T, int N>
void symmetrise(Matrix<T, N, N>& p) {
  for (int r = 0; r < N; ++r) {
    for (int c = r + 1; c < N; ++c) {
      const T mean = (p.data[r][c] + p.data[c][r]) * T(0.5);
      p.data[r][c] = mean;
      p.data[c][r] = mean;
    }
  }
}

/// True when v is neither NaN nor +-Inf (written without <cmath> and without float ==).
template <typename T>
constexpr bool is_finite(T v) {
  // NaN fails both comparisons; +-Inf fails one. 1e38 is near float's max and far inside double's.
  return v >= T(-3.0e38) && v <= T(3.0e38);
}

template <typename T, int R, int C>
bool all_finite(const Matrix<T, R, C>& a) {
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      if (!is_finite(a.data[r][c])) { return false; }
    }
  }
  return true;
}

template <typename T>
constexpr T clamp(T v, T lo, T hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

}  // namespace math
}  // namespace cellsense
