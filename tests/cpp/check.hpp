// Minimal test harness for the core's unit tests: no dependencies, prints a closing
// "N passed, N failed" line, exits non-zero on any failure.
#pragma once

#include <cstdio>
#include <cstring>

namespace cstest {

struct Counter {
  int passed = 0;
  int failed = 0;
};

inline Counter& counter() {
  static Counter c;
  return c;
}

inline void record(bool ok, const char* expr, const char* file, int line, const char* ctx) {
  if (ok) {
    ++counter().passed;
  } else {
    ++counter().failed;
    std::printf("FAIL %s:%d [%s] %s\n", file, line, ctx, expr);
  }
}

inline int finish(const char* name) {
  std::printf("%s: %d passed, %d failed\n", name, counter().passed, counter().failed);
  return counter().failed == 0 ? 0 : 1;
}

template <typename T>
const char* type_name();
template <>
inline const char* type_name<float>() { return "float"; }
template <>
inline const char* type_name<double>() { return "double"; }

}  // namespace cstest

#define CHECK_CTX(cond, ctx) ::cstest::record(static_cast<bool>(cond), #cond, __FILE__, __LINE__, ctx)
#define CHECK(cond) CHECK_CTX(cond, "")
#define CHECK_T(cond) CHECK_CTX(cond, ::cstest::type_name<T>())
