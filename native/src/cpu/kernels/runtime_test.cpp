// ctest runtime: the runtime pieces: bf16/f16 conversions (bit patterns, every f16 round trip), the per-thread
// thread cap, and the OpenBLAS thread-count hand-over.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <thread>

#include "internal.h"
#include "asft/asft.h"
#include "check.h"

using check::poisoned;
using check::randn;
using check::rel_err;
using check::rng;

namespace {

// asft_blas_threads goes through the functions handed over (stand-ins here): -1 before,
// then it sets the count for n > 0 and returns the one before; n <= 0 only reads.
int g_blas_count = 4, g_blas_sets = 0;
void stand_in_set_threads(int n) {
  g_blas_count = n;
  g_blas_sets++;
}
int stand_in_get_threads() { return g_blas_count; }
void test_blas_threads() {
  CHECK(asft_blas_threads(1) == -1, "no functions handed over yet");
  CHECK(asft_set_blas_threads_fns(nullptr, reinterpret_cast<const void *>(&stand_in_get_threads)) == ASFT_EINVAL,
        "a null setter is refused");
  CHECK(asft_set_blas_threads_fns(reinterpret_cast<const void *>(&stand_in_set_threads),
                                  reinterpret_cast<const void *>(&stand_in_get_threads)) == 0, "hand-over");
  CHECK(asft_blas_threads(1) == 4 && g_blas_count == 1, "set 1, returns the 4 before");
  CHECK(asft_blas_threads(0) == 1 && g_blas_count == 1, "0 only reads");
  const int sets = g_blas_sets;
  CHECK(asft_blas_threads(1) == 1 && g_blas_sets == sets, "the same count is not set again");
  CHECK(asft_blas_threads(4) == 1 && g_blas_count == 4, "set back");
}

void test_conversions() {
  using namespace asft::cpu;
  // Known bit patterns.
  CHECK(bf16_to_f32(0x3f80) == 1.0f, "bf16 1.0");
  CHECK(bf16_to_f32(0xc000) == -2.0f, "bf16 -2.0");
  CHECK(f32_to_bf16(1.0f) == 0x3f80, "f32->bf16 1.0");
  CHECK(f32_to_bf16(1.00390625f) == 0x3f80, "bf16 ties to even (down)");
  CHECK(f32_to_bf16(1.01171875f) == 0x3f82, "bf16 ties to even (up)");
  CHECK(f16_to_f32(0x3c00) == 1.0f, "f16 1.0");
  CHECK(f16_to_f32(0x7bff) == 65504.0f, "f16 max");
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24), "f16 min subnormal");
  CHECK(std::isinf(f16_to_f32(0x7c00)), "f16 inf");
  CHECK(std::isnan(f16_to_f32(0x7e00)), "f16 nan");
  CHECK(f32_to_f16(65504.0f) == 0x7bff, "f32->f16 max");
  CHECK(f32_to_f16(70000.0f) == 0x7c00, "f32->f16 overflow");
  CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001, "f32->f16 min subnormal");
  CHECK(f32_to_f16(-0.0f) == 0x8000, "f32->f16 -0");
  // Every f16 bit pattern round-trips (NaNs stay NaN).
  for (uint32_t h = 0; h < 65536; h++) {
    float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    if (f32_to_f16(f) != h) { CHECK(false, "f16 round trip of 0x%04x", h); break; }
  }
}

// The thread cap is the calling thread's own: another thread still sees every thread.
void test_thread_cap() {
  asft_set_num_threads(3);
  CHECK(asft_get_num_threads() == 3, "3 threads set");
  asft_set_thread_cap(1);
  CHECK(asft_get_num_threads() == 1, "capped at 1 on this thread, got %d", asft_get_num_threads());
  int other = -1;
  std::thread t([&] { other = asft_get_num_threads(); });
  t.join();
  CHECK(other == 3, "another thread is not capped: %d", other);
  asft_set_thread_cap(5);
  CHECK(asft_get_num_threads() == 3, "a cap above the count changes nothing: %d", asft_get_num_threads());
  asft_set_thread_cap(0);
  asft_set_num_threads(0);
}

} // namespace

int main() {
  test_conversions();
  test_thread_cap();
  test_blas_threads();
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
