// GEMMs with a frozen weight packed once, in OpenBLAS's own layout, through OpenBLAS's own
// kernels. A single-threaded cblas_sgemm packs both operands on every call; for a LoRA step's
// projections (512 tokens x 512 x 512 on one core) packing the weight was ~6% of the step
// (perf: sgemm_incopy forward, sgemm_itcopy backward), paid again on every call although the
// weight never changes. Here the weight's blocks are packed once (asft_pack_weight) and each
// call packs only the activations, then runs OpenBLAS's kernel over exactly the blocks its
// level-3 driver (driver/level3/level3.c) would use: the same kernel calls on the same data in
// the same order, so the result is the single-threaded cblas_sgemm's bit for bit. Measured on
// the 2-core Zen 3 VM, one core, same process, alternating: 1.05-1.07x at every shape of the
// benchmark model (512 x 512, 1376 x 512, 512 x 1376, 8000 x 512; forward and backward).
//
// The kernels are OpenBLAS internals, found beside the cblas_sgemm the JVM side handed over
// (dladdr, then dlsym of sgemm_kernel_<CORE> etc. for openblas_get_corename()), and the blocking
// parameters are read from its `gotoblas` table. Nothing of this is a stable interface, so it is
// checked before use: the table's function pointers must be the ones found by name, and a probe
// of every blocking case must equal cblas_sgemm bit for bit; otherwise (another BLAS, another
// OpenBLAS layout, an AVX-512 core whose interface takes other paths for small products) packed
// GEMMs are unavailable and callers keep plain ones. When OpenBLAS runs multi-threaded, whose
// results differ from its single-threaded ones, asft_sgemm_packed falls back to asft_sgemm.
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

namespace {
typedef long blaslong; // OpenBLAS's BLASLONG on LP64
typedef int (*kernel_fn)(blaslong, blaslong, blaslong, float, float *, float *, float *, blaslong);
typedef int (*beta_fn)(blaslong, blaslong, blaslong, float, float *, blaslong, float *, blaslong, float *, blaslong);
typedef int (*copy_fn)(blaslong, blaslong, float *, blaslong, float *);
typedef char *(*corename_fn)(void);

struct Blas {
  kernel_fn kernel = nullptr;
  beta_fn beta = nullptr;
  copy_fn incopy = nullptr, itcopy = nullptr, oncopy = nullptr;
  blaslong p = 0, q = 0, r = 0, um = 0, un = 0; // GEMM_P, GEMM_Q, GEMM_R, GEMM_UNROLL_M, GEMM_UNROLL_N
};
Blas g_blas;                 // written once, before g_state turns 1
std::atomic<int> g_state{0}; // 0 not yet checked, 1 available, -1 unavailable
std::mutex g_mutex;          // one check at a time

// level3.c's block sizes: K in blocks of Q (the last two shared evenly), M in blocks of P.
blaslong k_block(const Blas &b, blaslong rest) {
  if (rest >= 2 * b.q) return b.q;
  if (rest > b.q) return ((rest / 2 + b.um - 1) / b.um) * b.um;
  return rest;
}
blaslong m_block(const Blas &b, blaslong rest) {
  if (rest >= 2 * b.p) return b.p;
  if (rest > b.p) return ((rest / 2 + b.um - 1) / b.um) * b.um;
  return rest;
}
blaslong round_up(blaslong x, blaslong u) { return (x + u - 1) / u * u; }

// The column-major problem OpenBLAS solves for our row-major ops. Forward, c[n x rows] = x W^T:
// "TN" with M = rows, K = cols, A = W (lda = cols), B = x^T. Backward, c[n x cols] = x W: "NN"
// with M = cols, K = rows, A = W^T (lda = cols), B = x^T.
struct Shape {
  blaslong m, k, lda;
  bool trans_a;
};
Shape shape_of(int op, int64_t rows, int64_t cols) {
  return op == ASFT_PACK_FORWARD ? Shape{rows, cols, cols, true} : Shape{cols, rows, cols, false};
}

// Calls f(ls, ml, is, mi) for every (K block, M block) of A in the order the driver packs and the
// GEMM reads them: K blocks outermost, M blocks within.
template <typename F>
void for_each_block(const Blas &b, const Shape &s, F f) {
  for (blaslong ls = 0; ls < s.k;) {
    const blaslong ml = k_block(b, s.k - ls);
    for (blaslong is = 0; is < s.m;) {
      const blaslong mi = m_block(b, s.m - is);
      f(ls, ml, is, mi);
      is += mi;
    }
    ls += ml;
  }
}

// Floats of one packed block (the copy routines fill whole UNROLL_M rows).
size_t block_floats(const Blas &b, blaslong ml, blaslong mi) { return size_t(round_up(mi, b.um) * ml); }

size_t packed_floats(const Blas &b, const Shape &s) {
  size_t total = 0;
  for_each_block(b, s, [&](blaslong, blaslong ml, blaslong, blaslong mi) { total += block_floats(b, ml, mi); });
  return total;
}

// Every (K block, M block) of A as the driver's ICOPY packs it, one after another.
void pack(const Blas &b, const Shape &s, const float *w, float *out) {
  float *a = const_cast<float *>(w);
  for_each_block(b, s, [&](blaslong ls, blaslong ml, blaslong is, blaslong mi) {
    if (s.trans_a) b.incopy(ml, mi, a + ls + is * s.lda, s.lda, out);
    else b.itcopy(ml, mi, a + is + ls * s.lda, s.lda, out);
    out += block_floats(b, ml, mi);
  });
}

// The B panel buffer (Q x min(n, R) floats), per thread; page-aligned as OpenBLAS's own.
float *panel(size_t n) {
  struct Buf {
    float *p = nullptr;
    size_t cap = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf buf;
  if (buf.cap < n) {
    std::free(buf.p);
    buf.p = static_cast<float *>(std::aligned_alloc(4096, (n * sizeof(float) + 4095) / 4096 * 4096));
    buf.cap = buf.p ? n : 0;
  }
  return buf.p;
}

// C (column-major M x N, ldc) = alpha A B + beta C with A packed, B column-major K x N (ldb):
// level3.c's loops (js over N by R, ls over K, the first M block with the B panel packed in
// kernel-wide column chunks, then the other M blocks against the whole panel), single-threaded.
bool run(const Blas &b, const Shape &s, const float *packed, blaslong n, float alpha, const float *x, blaslong ldb,
         float beta, float *c, blaslong ldc) {
  float *sb = panel(size_t((b.q + b.um) * std::min(n, b.r) + 64)); // a K block is at most Q (+ rounding)
  if (!sb) return false;
  if (beta != 1.f) b.beta(s.m, n, 0, beta, nullptr, 0, nullptr, 0, c, ldc);
  if (alpha == 0.f) return true;
  float *bx = const_cast<float *>(x);
  for (blaslong js = 0; js < n; js += b.r) {
    const blaslong mj = std::min(n - js, b.r);
    size_t o = 0; // the packed blocks follow the (ls, is) order
    for (blaslong ls = 0; ls < s.k;) {
      const blaslong ml = k_block(b, s.k - ls);
      const blaslong mi = m_block(b, s.m), l1stride = s.m > b.p ? 1 : 0; // one M block: the chunks share a place
      float *sa = const_cast<float *>(packed) + o;
      o += block_floats(b, ml, mi);
      for (blaslong jjs = js; jjs < js + mj;) {
        blaslong mjj = js + mj - jjs;
        if (mjj >= 3 * b.un) mjj = 3 * b.un;
        else if (mjj > b.un) mjj = b.un;
        float *sbj = sb + ml * (jjs - js) * l1stride;
        b.oncopy(ml, mjj, bx + ls + jjs * ldb, ldb, sbj);
        b.kernel(mi, mjj, ml, alpha, sa, sbj, c + jjs * ldc, ldc);
        jjs += mjj;
      }
      for (blaslong is = mi; is < s.m;) {
        const blaslong m2 = m_block(b, s.m - is);
        float *sa2 = const_cast<float *>(packed) + o;
        o += block_floats(b, ml, m2);
        b.kernel(m2, mj, ml, alpha, sa2, sb, c + is + js * ldc, ldc);
        is += m2;
      }
      ls += ml;
    }
  }
  return true;
}

// The kernels and blocking of the OpenBLAS that cblas_sgemm belongs to, or false.
bool resolve(Blas &b) {
  const void *sgemm = blas_sgemm_address();
  Dl_info info;
  if (!sgemm || !dladdr(sgemm, &info) || !info.dli_fname) return false;
  void *lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (!lib) return false;
  bool ok = false;
  auto corename = reinterpret_cast<corename_fn>(dlsym(lib, "openblas_get_corename"));
  void **table = static_cast<void **>(dlsym(lib, "gotoblas"));
  if (corename && table && *table) {
    std::string core = corename();
    for (char &ch : core) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    // AVX-512 cores take other paths inside cblas_sgemm (direct and small-matrix kernels, wider
    // column chunks) that this driver does not follow.
    const bool avx512 = core == "SKYLAKEX" || core == "COOPERLAKE" || core == "SAPPHIRERAPIDS";
    auto sym = [&](const char *base) { return dlsym(lib, (std::string(base) + "_" + core).c_str()); };
    b.kernel = reinterpret_cast<kernel_fn>(sym("sgemm_kernel"));
    b.beta = reinterpret_cast<beta_fn>(sym("sgemm_beta"));
    b.incopy = reinterpret_cast<copy_fn>(sym("sgemm_incopy"));
    b.itcopy = reinterpret_cast<copy_fn>(sym("sgemm_itcopy"));
    b.oncopy = reinterpret_cast<copy_fn>(sym("sgemm_oncopy"));
    if (!avx512 && b.kernel && b.beta && b.incopy && b.itcopy && b.oncopy) {
      // The table (common_param.h): dtb_entries, switch_ratio, offsetA, offsetB, align, then
      // sgemm_p, q, r, unroll_m, unroll_n (builds without BUILD_BFLOAT16); later, the function
      // pointers kernel, beta, incopy, itcopy, oncopy in a row. Both are checked.
      const int *ints = static_cast<const int *>(*table);
      void *const *words = static_cast<void *const *>(*table);
      bool pointers = false;
      for (int i = 0; i < 512 && !pointers; i++)
        pointers = words[i] == reinterpret_cast<void *>(b.kernel) && words[i + 1] == reinterpret_cast<void *>(b.beta) &&
                   words[i + 2] == reinterpret_cast<void *>(b.incopy) &&
                   words[i + 3] == reinterpret_cast<void *>(b.itcopy) &&
                   words[i + 4] == reinterpret_cast<void *>(b.oncopy);
      b.p = ints[5], b.q = ints[6], b.r = ints[7], b.um = ints[8], b.un = ints[9];
      ok = pointers && b.p >= 8 && b.p <= 65536 && b.q >= 8 && b.q <= 65536 && b.r >= b.q && b.um >= 1 && b.um <= 64 &&
           b.un >= 1 && b.un <= 64 && b.p % b.um == 0;
    }
  }
  dlclose(lib); // drops the reference dlopen took; the library stays loaded (the JVM holds it)
  return ok;
}

// The same product without packing: what asft_sgemm gives (OpenBLAS, or for at most 16 columns
// of c the skinny kernel).
int plain(int op, const float *w, int64_t rows, int64_t cols, int64_t n, float alpha, const float *x, float beta,
          float *c) {
  return op == ASFT_PACK_FORWARD ? asft_sgemm(0, 1, n, rows, cols, alpha, x, cols, w, cols, beta, c, rows)
                                 : asft_sgemm(0, 0, n, cols, rows, alpha, x, rows, w, cols, beta, c, cols);
}

// Every blocking case (K in one, two shared and several blocks; M in one, two shared and
// several; N in one chunk and ragged chunks; beta 0, 1 and other), forward and backward,
// against the plain route (OpenBLAS: every c here is wider than 16) on one thread, bit for bit.
bool probe(const Blas &b) {
  std::mt19937 gen(20261129);
  std::normal_distribution<float> nd;
  const blaslong ks[] = {b.q / 2 + 3, b.q + 40, 2 * b.q + 24}, ms[] = {b.p / 2 + 8, b.p + 56, 2 * b.p + 16};
  const blaslong ns[] = {3 * b.un * 5 + b.un + 1, 2};
  int c = 0;
  for (int op = 0; op < 2; op++)
    for (blaslong k : ks)
      for (blaslong m : ms)
        for (blaslong n : ns) {
          c++;
          const float beta = c % 3 == 0 ? 0.f : c % 3 == 1 ? 1.f : 0.5f, alpha = c % 2 ? 1.f : -0.75f;
          // W [rows x cols]: forward M = rows, K = cols; backward M = cols, K = rows.
          const int64_t rows = op == ASFT_PACK_FORWARD ? m : k, cols = op == ASFT_PACK_FORWARD ? k : m;
          const Shape s = shape_of(op, rows, cols);
          std::vector<float> w(size_t(rows * cols)), x(size_t(n * (op == ASFT_PACK_FORWARD ? cols : rows)));
          std::vector<float> want(size_t(n * s.m)), got, packed(packed_floats(b, s));
          for (float &v : w) v = nd(gen);
          for (float &v : x) v = nd(gen);
          for (float &v : want) v = nd(gen);
          got = want;
          if (plain(op, w.data(), rows, cols, n, alpha, x.data(), beta, want.data()) != ASFT_OK) return false;
          pack(b, s, w.data(), packed.data());
          if (!run(b, s, packed.data(), n, alpha, x.data(), op == ASFT_PACK_FORWARD ? cols : rows, beta, got.data(), s.m))
            return false;
          if (std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0) return false;
        }
  return true;
}

// Resolves and probes once (OpenBLAS single-threaded meanwhile); true when packed GEMMs match.
bool available() {
  const int state = g_state.load(std::memory_order_acquire);
  if (state != 0) return state == 1;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_state.load(std::memory_order_relaxed) == 0) {
    Blas b;
    bool ok = false;
    if (asft_blas_threads(0) > 0 && resolve(b)) {
      const int before = asft_blas_threads(1);
      ok = probe(b);
      asft_blas_threads(before);
    }
    if (ok) g_blas = b;
    g_state.store(ok ? 1 : -1, std::memory_order_release);
  }
  return g_state.load(std::memory_order_relaxed) == 1;
}

bool valid(int op, int64_t rows, int64_t cols) {
  return (op == ASFT_PACK_FORWARD || op == ASFT_PACK_BACKWARD) && rows > 0 && cols > 0 && rows <= INT32_MAX &&
         cols <= INT32_MAX;
}
} // namespace

extern "C" int asft_packed_gemm_available(void) { return available() ? 1 : 0; }

extern "C" int64_t asft_packed_weight_floats(int op, int64_t rows, int64_t cols) {
  if (!valid(op, rows, cols)) return -ASFT_EINVAL;
  if (!available()) return -ASFT_EUNSUPPORTED;
  return int64_t(packed_floats(g_blas, shape_of(op, rows, cols)));
}

extern "C" int asft_pack_weight(int op, const float *w, int64_t rows, int64_t cols, float *packed) {
  if (!w || !packed || !valid(op, rows, cols)) return ASFT_EINVAL;
  if (!available()) return ASFT_EUNSUPPORTED;
  pack(g_blas, shape_of(op, rows, cols), w, packed);
  return ASFT_OK;
}

extern "C" int asft_sgemm_packed(int op, const float *packed, const float *w, int64_t rows, int64_t cols, int64_t n,
                                 float alpha, const float *x, float beta, float *c) {
  if (!w || !x || !c || !valid(op, rows, cols) || n < 0 || n > INT32_MAX) return ASFT_EINVAL;
  if (n == 0) return ASFT_OK;
  const bool forward = op == ASFT_PACK_FORWARD;
  // Multi-threaded OpenBLAS rounds differently from its single-threaded self, and asft_sgemm
  // gives products with at most 16 columns of c to the skinny kernel: take its path then. So do
  // small products, where packing the weight costs little and some OpenBLAS builds route
  // cblas_sgemm to small-matrix kernels this driver does not follow.
  const int64_t c_cols = forward ? rows : cols, inner = forward ? cols : rows;
  const bool small = double(rows) * double(cols) * double(n) < double(1 << 21);
  if (!packed || small || asft_blas_threads(0) != 1 || skinny_product(c_cols, inner, beta) || !available())
    return plain(op, w, rows, cols, n, alpha, x, beta, c);
  const Shape s = shape_of(op, rows, cols);
  return run(g_blas, s, packed, n, alpha, x, forward ? cols : rows, beta, c, s.m) ? ASFT_OK : ASFT_ENOMEM;
}
