// Rotary position embedding of the training step, in place, Hugging Face's rotate-half
// convention. Compiled without FMA contraction (CMakeLists.txt): every element is the same
// rounded products and sum as the Java loops of the model's Rope class, so moving it here kept
// the results bit for bit; the compiler still vectorizes along the head's half.
#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

extern "C" int asft_rope(float *x, int64_t tokens, int64_t len, int64_t heads, int64_t dim, const float *cos,
                         const float *sin, int64_t positions, int inverse) {
  if (!x || !cos || !sin || tokens < 0 || len <= 0 || heads <= 0 || dim <= 0 || dim % 2 != 0 || positions < len)
    return ASFT_EINVAL;
  const int64_t half = dim / 2;
  const int nt = threads_for_step(16.0 * double(tokens) * double(heads) * double(dim));
  for_ranges(tokens, nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const float *c = cos + (t % len) * half, *s = sin + (t % len) * half;
      for (int64_t h = 0; h < heads; h++) {
        float *a = x + (t * heads + h) * dim, *b = a + half;
        if (!inverse)
          for (int64_t i = 0; i < half; i++) {
            const float ai = a[i], bi = b[i];
            a[i] = ai * c[i] - bi * s[i];
            b[i] = bi * c[i] + ai * s[i];
          }
        else
          for (int64_t i = 0; i < half; i++) {
            const float ai = a[i], bi = b[i];
            a[i] = ai * c[i] + bi * s[i];
            b[i] = bi * c[i] - ai * s[i];
          }
      }
    }
  });
  return ASFT_OK;
}
