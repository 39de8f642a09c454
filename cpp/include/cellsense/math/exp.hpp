// SPDX-License-Identifier: Apache-2.0
// Exponential written in the library, so host and Cortex-M run the same arithmetic.
//
// libm's exp/expf differ between glibc and newlib in the last bit; a filter step that calls them
// cannot be bit-identical across targets (docs/mcu.md, "Parity"). This implementation uses
// only +, -, *, comparisons, an integer conversion and a bit-pattern scale, all exactly
// specified by IEEE 754, so every conforming target with -ffp-contract=off gets the same bits.
//
// Method (Cody & Waite, "Software Manual for the Elementary Functions", 1980, ch. 6; Muller,
// "Elementary Functions", 3rd ed., sec. 11.3):
//   x = n ln2 + r, n = round(x / ln2), |r| <= ln2/2, with ln2 split into hi + lo parts so that
//   n*ln2_hi is exact; exp(r) by its Taylor polynomial in Horner form; exp(x) = 2^n exp(r).
// Accuracy: within 2 ulp of the correctly rounded result for float (degree 8) and double
// (degree 13) over the full range (checked in tests/cpp/test_math.cpp against std::exp).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace math {
namespace detail {

/// 1/k! for k = 0..13, correctly rounded doubles (converted to T at compile time).
constexpr double kInverseFactorial[14] = {
    1.0, 1.0, 0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0,
    1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0, 1.0 / 39916800.0, 1.0 / 479001600.0,
    1.0 / 6227020800.0};

/// The same coefficients converted to T once, at compile time. Converting inside the Horner loop
/// would run a double -> float conversion per term, which on Cortex-M is a call to the soft-double
/// helper __aeabi_d2f (slow, and it drags double-precision library code into the image).
/// Compile-time conversion rounds to nearest exactly as the run-time one did: same bits.
template <typename T>
struct InverseFactorialAs {
  static constexpr T value[14] = {
      static_cast<T>(kInverseFactorial[0]), static_cast<T>(kInverseFactorial[1]),
      static_cast<T>(kInverseFactorial[2]), static_cast<T>(kInverseFactorial[3]),
      static_cast<T>(kInverseFactorial[4]), static_cast<T>(kInverseFactorial[5]),
      static_cast<T>(kInverseFactorial[6]), static_cast<T>(kInverseFactorial[7]),
      static_cast<T>(kInverseFactorial[8]), static_cast<T>(kInverseFactorial[9]),
      static_cast<T>(kInverseFactorial[10]), static_cast<T>(kInverseFactorial[11]),
      static_cast<T>(kInverseFactorial[12]), static_cast<T>(kInverseFactorial[13])};
};

template <typename T>
struct ExpConstants;

template <>
struct ExpConstants<float> {
  static constexpr float kInvLn2 = 1.44269502163f;
  static constexpr float kLn2Hi = 0.693359375f;        // 8 significant bits: n*kLn2Hi is exact
  static constexpr float kLn2Lo = -2.12194440e-4f;     // ln2 - kLn2Hi
  static constexpr float kMaxArg = 88.0f;              // exp(88) < FLT_MAX
  static constexpr float kMinArg = -87.0f;             // exp(-87) > FLT_MIN (no denormals)
  static constexpr int kDegree = 8;
  static float pow2(int n) {                           // 2^n for n in [-126, 127]
    const std::uint32_t word = static_cast<std::uint32_t>(n + 127) << 23u;
    float out = 0.0f;
    std::memcpy(&out, &word, sizeof out);
    return out;
  }
};

template <>
struct ExpConstants<double> {
  static constexpr double kInvLn2 = 1.4426950408889634074;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;  // fdlibm's split of ln2
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kMaxArg = 709.0;
  static constexpr double kMinArg = -708.0;
  static constexpr int kDegree = 13;
  static double pow2(int n) {                          // 2^n for n in [-1022, 1023]
    const std::uint64_t word = static_cast<std::uint64_t>(n + 1023) << 52u;
    double out = 0.0;
    std::memcpy(&out, &word, sizeof out);
    return out;
  }
};

}  // namespace detail

/// e^x. NaN in gives NaN out; below the smallest normal result it returns 0; above the largest
/// finite result it returns +Inf.
template <typename T>
T exp(T x) {
  using C = detail::ExpConstants<T>;
  const T* const coeff = detail::InverseFactorialAs<T>::value;
  // The comparison pair is false only for NaN (not a tautology): no <cmath> classification call.
  // cppcheck-suppress [incorrectLogicOperator, oppositeExpression]
  if (!(x <= C::kMaxArg || x > C::kMaxArg)) { return x; }  // NaN propagates
  if (x > C::kMaxArg) { return std::numeric_limits<T>::infinity(); }
  if (x < C::kMinArg) { return T(0); }
  const T scaled = x * C::kInvLn2;
  const int n = static_cast<int>(scaled < T(0) ? scaled - T(0.5) : scaled + T(0.5));
  const T nf = static_cast<T>(n);
  const T r = (x - nf * C::kLn2Hi) - nf * C::kLn2Lo;
  // exp(r) = sum_{k=0}^{D} r^k / k!, evaluated in Horner form from the highest degree down.
  T p = coeff[C::kDegree];
  CELLSENSE_UNROLL
  for (int k = C::kDegree - 1; k >= 0; --k) { p = p * r + coeff[k]; }
  return p * C::pow2(n);
}

}  // namespace math
}  // namespace cellsense
