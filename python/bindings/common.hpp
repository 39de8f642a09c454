// Conversions shared by the binding units (core.cpp, soh.cpp, spme.cpp): fixed-size core vectors
// and matrices to and from numpy, and raw bytes of core objects for bit-for-bit comparisons.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <string>

namespace cellsense_py {

namespace py = pybind11;
using Arr = py::array_t<double, py::array::c_style | py::array::forcecast>;

/// A core column vector (math::Matrix<T, N, 1>) as a 1-D float64 array.
template <class V>
py::array_t<double> to_numpy_vector(const V& v) {
  py::array_t<double> a(V::rows());
  for (int k = 0; k < V::rows(); ++k) { a.mutable_at(k) = static_cast<double>(v(k, 0)); }
  return a;
}

/// A core matrix as a 2-D float64 array.
template <class M>
py::array_t<double> to_numpy_matrix(const M& m) {
  py::array_t<double> a({M::rows(), M::cols()});
  for (int r = 0; r < M::rows(); ++r)
    for (int c = 0; c < M::cols(); ++c) a.mutable_at(r, c) = static_cast<double>(m(r, c));
  return a;
}

/// A 1-D array into a core column vector; ValueError naming the expected shape.
template <class V>
void from_numpy_vector(const Arr& a, V& v) {
  constexpr int n = V::rows();
  if (a.ndim() != 1 || a.shape(0) != n) { throw py::value_error("state must have shape (" + std::to_string(n) + ",)"); }
  for (int k = 0; k < n; ++k) { v(k, 0) = static_cast<typename std::decay<decltype(v(0, 0))>::type>(a.at(k)); }
}

/// A 2-D square array into a core matrix; ValueError naming the expected shape.
template <class M>
void from_numpy_matrix(const Arr& a, M& m) {
  constexpr int n = M::rows();
  if (a.ndim() != 2 || a.shape(0) != n || a.shape(1) != M::cols()) {
    throw py::value_error("covariance must have shape (" + std::to_string(n) + ", " + std::to_string(M::cols()) + ")");
  }
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < M::cols(); ++c) m(r, c) = static_cast<typename std::decay<decltype(m(0, 0))>::type>(a.at(r, c));
}

/// The raw bytes of the given objects, concatenated (bit-for-bit comparisons in tests).
template <class... Objs>
py::bytes raw_bytes(const Objs&... objs) {
  std::string s;
  (s.append(reinterpret_cast<const char*>(&objs), sizeof(objs)), ...);
  return py::bytes(s);
}

}  // namespace cellsense_py
