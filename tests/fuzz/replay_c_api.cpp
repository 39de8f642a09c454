// Deterministic replay of the C API fuzz target (tests/fuzz/fuzz_c_api.cpp) without libFuzzer: the
// committed seed corpus (paths on the command line) and then N pseudo-random inputs from a fixed
// seed, each through LLVMFuzzerTestOneInput with its invariants (it aborts on a violation). Built
// with gcc by scripts/coverage.sh so that the coverage report includes the C API's guard paths the
// fuzzer reaches; exits 0 when every input passed.
//   replay_c_api [-n N] [corpus files...]
// verifies: CS-CAPI-007
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::uint64_t g_state = 0x9E3779B97F4A7C15ull;  // test driver state (the library has no globals)
std::uint64_t next_random() {  // xorshift64*
  g_state ^= g_state >> 12u;
  g_state ^= g_state << 25u;
  g_state ^= g_state >> 27u;
  return g_state * 0x2545F4914F6CDD1Dull;
}

}  // namespace

int main(int argc, char** argv) {
  long n_random = 100000;
  int files = 0;
  for (int a = 1; a < argc; ++a) {
    if (std::strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
      n_random = std::strtol(argv[++a], nullptr, 10);
      continue;
    }
    std::FILE* f = std::fopen(argv[a], "rb");
    if (f == nullptr) {
      std::fprintf(stderr, "replay_c_api: cannot open %s\n", argv[a]);
      return 2;
    }
    std::vector<uint8_t> buf;
    int c = 0;
    while ((c = std::fgetc(f)) != EOF) { buf.push_back(static_cast<uint8_t>(c)); }
    std::fclose(f);
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
    ++files;
  }
  std::vector<uint8_t> buf;
  for (long k = 0; k < n_random; ++k) {
    const std::size_t size = 9 + static_cast<std::size_t>(next_random() % 600u);
    buf.resize(size);
    for (std::size_t i = 0; i < size; ++i) { buf[i] = static_cast<uint8_t>(next_random() >> 56u); }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("replay_c_api: %d corpus files and %ld random inputs, every invariant held\n", files, n_random);
  return 0;
}
