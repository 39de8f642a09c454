// SPDX-License-Identifier: Apache-2.0
// Natural logarithm, log(1 + x), asinh and sinh written in the library, so host and Cortex-M run
// the same arithmetic (as math/exp.hpp: libm's logf/asinhf differ between glibc and newlib).
//
// log (Cody & Waite, "Software Manual for the Elementary Functions", Prentice-Hall 1980, ch. 5;
// Muller, "Elementary Functions", 3rd ed., sec. 11.2):
//   x = 2^k m with m in [sqrt(1/2), sqrt(2)) (exponent and mantissa read from the bit pattern);
//   log(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1)/(m + 1), |s| <= 0.1716,
//   evaluated as f - hfsq + s (hfsq + R), f = m - 1 (fdlibm's e_log.c arrangement, below);
//   log(x) = k ln2_hi + (log(m) + k ln2_lo), ln2 split so that k ln2_hi is exact.
//   Series truncated after s^9 (float) / s^23 (double): the next term is below 2^-28 / 2^-55
//   relative to log(m).
// log1p (Goldberg, "What every computer scientist should know about floating-point arithmetic",
// ACM Computing Surveys 23 (1991), Theorem 4): u = 1 + x rounded; log1p(x) = x when u == 1, else
//   log(u) x / (u - 1), which cancels the rounding error of 1 + x.
// asinh(x) = sign(x) log1p(|x| + x^2 / (1 + sqrt(1 + x^2)))  (the identity
//   |x| + sqrt(1 + x^2) = 1 + |x| + x^2/(1 + sqrt(1 + x^2)), exact in real arithmetic, written so
//   that small |x| keeps its relative accuracy); for |x| > 2^12 (float) / 2^28 (double),
//   asinh(x) = sign(x) (log|x| + ln2) to within rounding (x^2 + 1 == x^2 there).
// sinh(x): Taylor series x + x^3/3! + ... for |x| < 1/2 (no cancellation), else
//   (e^x - e^-x)/2 with the library's math::exp.
// Only +, -, *, /, sqrt, comparisons, integer conversions and bit-pattern access are used (all
// exactly specified by IEEE 754): with -ffp-contract=off every target gets the same bits.
// Accuracy (tests/cpp/test_spme.cpp, against std::): log within 2 ulp, log1p within 4 ulp, asinh
// and sinh within 4 ulp over the tested ranges, in float and double.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cellsense/math/exp.hpp"
#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace math {
namespace detail {

/// 1/(2k+1) for k = 0..14 (the atanh series), correctly rounded doubles.
constexpr double kInverseOdd[15] = {1.0,        1.0 / 3.0,  1.0 / 5.0,  1.0 / 7.0,  1.0 / 9.0,
                                    1.0 / 11.0, 1.0 / 13.0, 1.0 / 15.0, 1.0 / 17.0, 1.0 / 19.0,
                                    1.0 / 21.0, 1.0 / 23.0, 1.0 / 25.0, 1.0 / 27.0, 1.0 / 29.0};

/// The same coefficients converted to T at compile time (see exp.hpp, InverseFactorialAs).
template <typename T>
struct InverseOddAs {
  static constexpr T value[15] = {
      static_cast<T>(kInverseOdd[0]),  static_cast<T>(kInverseOdd[1]),  static_cast<T>(kInverseOdd[2]),
      static_cast<T>(kInverseOdd[3]),  static_cast<T>(kInverseOdd[4]),  static_cast<T>(kInverseOdd[5]),
      static_cast<T>(kInverseOdd[6]),  static_cast<T>(kInverseOdd[7]),  static_cast<T>(kInverseOdd[8]),
      static_cast<T>(kInverseOdd[9]),  static_cast<T>(kInverseOdd[10]), static_cast<T>(kInverseOdd[11]),
      static_cast<T>(kInverseOdd[12]), static_cast<T>(kInverseOdd[13]), static_cast<T>(kInverseOdd[14])};
};

template <typename T>
struct LogConstants;

template <>
struct LogConstants<float> {
  static constexpr float kLn2Hi = 0.693359375f;     // as ExpConstants<float>
  static constexpr float kLn2Lo = -2.12194440e-4f;
  static constexpr float kSqrtHalf = 0.707106781f;
  static constexpr int kTerms = 5;                  // R up to s^8
  static constexpr float kAsinhLarge = 4096.0f;     // 2^12
  static constexpr float kSmallestNormal = 1.17549435e-38f;
  static constexpr float kSubnormalScale = 16777216.0f;  // 2^24: lifts every subnormal
  static constexpr int kSubnormalBits = 24;
  /// x = 2^k m, m in [1, 2), for finite normal x > 0.
  static float split(float x, int& k) {
    std::uint32_t word = 0u;
    std::memcpy(&word, &x, sizeof word);
    k = static_cast<int>((word >> 23u) & 0xFFu) - 127;
    word = (word & 0x007FFFFFu) | 0x3F800000u;
    float m = 0.0f;
    std::memcpy(&m, &word, sizeof m);
    return m;
  }
};

template <>
struct LogConstants<double> {
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;  // as ExpConstants<double>
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kSqrtHalf = 0.70710678118654752440;
  static constexpr int kTerms = 12;                               // R up to s^22
  static constexpr double kAsinhLarge = 268435456.0;             // 2^28
  static constexpr double kSmallestNormal = 2.2250738585072014e-308;
  static constexpr double kSubnormalScale = 18014398509481984.0;  // 2^54: lifts every subnormal
  static constexpr int kSubnormalBits = 54;
  static double split(double x, int& k) {
    std::uint64_t word = 0u;
    std::memcpy(&word, &x, sizeof word);
    k = static_cast<int>((word >> 52u) & 0x7FFu) - 1023;
    word = (word & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    double m = 0.0;
    std::memcpy(&m, &word, sizeof m);
    return m;
  }
};

}  // namespace detail

/// Natural logarithm. NaN or x < 0 gives NaN, 0 gives -Inf, +Inf gives +Inf.
template <typename T>
T log(T x) {
  using C = detail::LogConstants<T>;
  const T* const coeff = detail::InverseOddAs<T>::value;
  if (!(x > T(0))) {
    if (x < T(0) || !(x <= T(0))) { return std::numeric_limits<T>::quiet_NaN(); }  // x < 0 or NaN
    return -std::numeric_limits<T>::infinity();
  }
  if (!(x <= std::numeric_limits<T>::max())) { return x; }  // +Inf
  int bias = 0;
  if (x < C::kSmallestNormal) {  // subnormal: scale into the normal range first (exact)
    x = x * C::kSubnormalScale;
    bias = -C::kSubnormalBits;
  }
  int k = 0;
  T m = C::split(x, k);
  if (m > T(2) * C::kSqrtHalf) {  // m in [sqrt(2), 2): use m/2 in [sqrt(1/2), 1) (exact)
    m = m * T(0.5);
    ++k;
  }
  k += bias;
  // f = m - 1 is exact; s = f / (2 + f); 2 atanh(s) = f - hfsq + s (hfsq + R) with hfsq = f^2/2 and
  // R = 2 (s^2/3 + s^4/5 + ...), the arrangement of fdlibm's e_log.c (Sun Microsystems, 1993),
  // which keeps the leading term f exact and the error below one ulp.
  const T f = m - T(1);
  const T s = f / (T(2) + f);
  const T s2 = s * s;
  T p = coeff[C::kTerms - 1];
  CELLSENSE_UNROLL
  for (int j = C::kTerms - 2; j >= 1; --j) { p = p * s2 + coeff[j]; }
  const T r = T(2) * s2 * p;
  const T hfsq = T(0.5) * f * f;
  const T kf = static_cast<T>(k);
  return kf * C::kLn2Hi - ((hfsq - (s * (hfsq + r) + kf * C::kLn2Lo)) - f);
}

/// log(1 + x) with full relative accuracy for small |x|. x < -1 gives NaN, x = -1 gives -Inf.
template <typename T>
T log1p(T x) {
  const T u = T(1) + x;
  if (!(u > T(1) || u < T(1))) {            // u == 1 (or NaN): log1p(x) = x to rounding
    return x;
  }
  if (!(u <= std::numeric_limits<T>::max())) { return math::log(u); }  // +Inf or huge
  return math::log(u) * (x / (u - T(1)));   // Goldberg 1991, Theorem 4
}

/// Inverse hyperbolic sine. NaN propagates; odd: asinh(-x) = -asinh(x) exactly.
template <typename T>
T asinh(T x) {
  using C = detail::LogConstants<T>;
  const bool negative = x < T(0);
  const T a = negative ? -x : x;
  if (!(a <= std::numeric_limits<T>::max())) { return x; }  // NaN or +-Inf
  T r;
  if (a > C::kAsinhLarge) {
    r = math::log(a) + (C::kLn2Hi + C::kLn2Lo);
  } else {
    const T a2 = a * a;
    r = math::log1p(a + a2 / (T(1) + std::sqrt(T(1) + a2)));
  }
  return negative ? -r : r;
}

/// Hyperbolic sine. NaN propagates; odd.
template <typename T>
T sinh(T x) {
  const bool negative = x < T(0);
  const T a = negative ? -x : x;
  if (!(a <= std::numeric_limits<T>::max())) { return x; }  // NaN or +-Inf
  T r;
  if (a < T(0.5)) {
    // a + a^3/3! + ... + a^13/13! (the next term is below 2^-54 relative for a < 1/2)
    const T* const coeff = detail::InverseFactorialAs<T>::value;  // 1/k!, k <= 13
    const T a2 = a * a;
    T p = coeff[13];
    p = p * a2 + coeff[11];
    p = p * a2 + coeff[9];
    p = p * a2 + coeff[7];
    p = p * a2 + coeff[5];
    p = p * a2 + coeff[3];
    r = a + a * a2 * p;
  } else {
    const T e = math::exp(a);
    r = T(0.5) * (e - T(1) / e);
  }
  return negative ? -r : r;
}

}  // namespace math
}  // namespace cellsense
