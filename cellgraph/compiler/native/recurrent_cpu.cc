// Fused LSTM and GRU layers for the CPU, called from JAX through the XLA FFI
// (cellgraph.compiler.native).
//
// XLA:CPU runs a recurrent loop body as a sequence of small kernels on one thread: for a 64-cell
// LSTM about twenty kernels per time step, and the two per-step matmuls never use a second core.
// This file does what oneDNN's and cuDNN's RNN primitives do instead: each worker thread takes a
// block of batch rows through every time step (rows of a batch are independent), and one step is
// one register-blocked matmul followed by the gate arithmetic on the matmul's output while it is
// still in cache. The weight gradients, whole-sequence matmuls, stay in XLA, which runs them on
// all cores.
//
// Layouts (all float32, row-major): X: (B, T, F), the layer's input as the model holds it;
// W: (F, g·n), b: (g·n), U: (n, g·n), UT = Uᵀ: (g·n, n), with g gate blocks of n columns (LSTM:
// input, forget, cell, output; GRU: update, reset, candidate, the reset gate scaling h U_h as
// cuDNN and PyTorch do); H: (T + 1, B, n) with H[0] = 0, the initial state (so h_{t-1} of every
// step is one contiguous block, for dU after the loop); the output gradient DH: (B, T, n) for a
// sequence output, (B, n) when only the last step is output. Saved per step, time-major:
// LSTM S: (T, B, 4n) gate activations and C: (T, B, n) cell states; GRU S: (T, B, 4n) update,
// reset, candidate and h U_h. Gradients, time-major: LSTM D: (T, B, 4n) of the gate
// pre-activations; GRU DP: (T, B, 3n) of the input projection, DR: (T, B, 3n) of h U.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#else
constexpr int kLanes = 8;
#endif

// GCC/Clang vector extensions: the compiler maps them onto the widest SIMD unit it targets.
typedef float vf __attribute__((vector_size(kLanes * 4), aligned(4)));
typedef int32_t vi __attribute__((vector_size(kLanes * 4), aligned(4)));

inline vf splat(float x) { return vf{} + x; }
inline vf load(const float* p) { vf v; std::memcpy(&v, p, sizeof v); return v; }
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }

// exp(x) by range reduction x = k ln2 + r, |r| <= ln2 / 2, and the Taylor polynomial of e^r to
// degree 6 (relative error below 2e-7), scaled by 2^k built in the exponent bits.
inline vf vexp(vf x) {
  x = x < splat(-87.0f) ? splat(-87.0f) : x;
  x = x > splat(88.0f) ? splat(88.0f) : x;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  vf t = x * splat(1.44269504f) + splat(magic);
  vf k = t - splat(magic);
  vi ki = (vi)t - (vi)splat(magic);
  vf r = x - k * splat(0.693145752f) - k * splat(1.42860677e-6f);
  vf p = splat(1.0f / 720);
  p = p * r + splat(1.0f / 120);
  p = p * r + splat(1.0f / 24);
  p = p * r + splat(1.0f / 6);
  p = p * r + splat(0.5f);
  p = p * r + splat(1.0f);
  p = p * r + splat(1.0f);
  vf scale = (vf)((ki + 127) << 23);
  return p * scale;
}

inline vf vsigmoid(vf x) { return splat(1.0f) / (splat(1.0f) + vexp(-x)); }

// tanh to within 2 ulp of the float64 value, relative, down to the smallest inputs: a gate
// pre-activation or cell state near zero has a tanh near zero, and the gradients of the weights
// scale with it. (2 sigmoid(2x) - 1 cancels there: at |x| = 1e-4 its relative error was 100%.)
// For |x| < 0.625, x + x^3 p(x^2), p of degree 4 fitted for the relative error (below 8e-8 in
// float32); above, 1 - 2 / (e^{2|x|} + 1), where the result exceeds 0.55 and nothing cancels. The
// sign is put back by its bit, so tanh is exactly odd; NaN stays NaN.
inline vf vtanh(vf x) {
  const vi sign_bit = vi{} + INT32_MIN;  // not (vi)splat(-0.0f): splat adds to +0, giving +0
  vi sign = (vi)x & sign_bit;
  vf ax = (vf)((vi)x & ~sign_bit);
  vf z = ax * ax;
  vf p = splat(-5.71704237e-3f);
  p = p * z + splat(2.06505843e-2f);
  p = p * z + splat(-5.37434965e-2f);
  p = p * z + splat(1.33314908e-1f);
  p = p * z + splat(-3.33332837e-1f);
  vf small = ax + ax * z * p;
  vf large = splat(1.0f) - splat(2.0f) / (vexp(splat(2.0f) * ax) + splat(1.0f));
  vf t = ax < splat(0.625f) ? small : large;
  return (vf)((vi)t | sign);
}

inline float sigmoid1(float x) { vf v = vsigmoid(splat(x)); return v[0]; }
inline float tanh1(float x) { vf v = vtanh(splat(x)); return v[0]; }

// C[m, :n] += A[m, :k] @ B[:k, :n] for m rows; leading dimensions in floats. Register blocking:
// 4 rows x 4 vectors of accumulators, one column panel of B at a time (it stays in L1 across the
// row blocks), a vector-at-a-time and a scalar tail for widths that are not multiples of it.
void gemm_acc(int m, int n, int k, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  constexpr int MR = 4, NV = 4, NB = NV * kLanes;
  int j = 0;
  for (; j + NB <= n; j += NB) {
    int i = 0;
    for (; i + MR <= m; i += MR) {
      vf acc[MR][NV];
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = load(C + (i + r) * ldc + j + v * kLanes);
      for (int q = 0; q < k; ++q) {
        const float* b = B + q * ldb + j;
        vf bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = load(b + v * kLanes);
        for (int r = 0; r < MR; ++r) {
          vf a = splat(A[(i + r) * lda + q]);
          for (int v = 0; v < NV; ++v) acc[r][v] += a * bv[v];
        }
      }
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) store(C + (i + r) * ldc + j + v * kLanes, acc[r][v]);
    }
    for (; i < m; ++i) {
      vf acc[NV];
      for (int v = 0; v < NV; ++v) acc[v] = load(C + i * ldc + j + v * kLanes);
      for (int q = 0; q < k; ++q) {
        vf a = splat(A[i * lda + q]);
        for (int v = 0; v < NV; ++v) acc[v] += a * load(B + q * ldb + j + v * kLanes);
      }
      for (int v = 0; v < NV; ++v) store(C + i * ldc + j + v * kLanes, acc[v]);
    }
  }
  for (; j + kLanes <= n; j += kLanes) {
    for (int i = 0; i < m; ++i) {
      vf acc = load(C + i * ldc + j);
      for (int q = 0; q < k; ++q) acc += splat(A[i * lda + q]) * load(B + q * ldb + j);
      store(C + i * ldc + j, acc);
    }
  }
  for (; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      float acc = C[i * ldc + j];
      for (int q = 0; q < k; ++q) acc += A[i * lda + q] * B[q * ldb + j];
      C[i * ldc + j] = acc;
    }
  }
}

// Runs work(0) ... work(chunks - 1) on the caller and on the pool's threads. The caller claims
// chunks too and waits only for chunks another thread has already claimed, so a busy or
// single-threaded pool can never deadlock it: a helper task that starts late finds nothing left.
template <typename F>
void parallel_chunks(ffi::ThreadPool& pool, int chunks, F work) {
  if (chunks <= 1) {
    if (chunks == 1) work(0);
    return;
  }
  struct Shared {
    std::atomic<int> next{0};
    std::atomic<int> done{0};
    int total = 0;
    F* work = nullptr;
    std::mutex mu;
    std::condition_variable cv;
  };
  auto shared = std::make_shared<Shared>();
  shared->total = chunks;
  shared->work = &work;
  auto run = [](Shared& s) {
    for (int c; (c = s.next.fetch_add(1)) < s.total;) {
      (*s.work)(c);
      if (s.done.fetch_add(1) + 1 == s.total) {
        std::lock_guard<std::mutex> lock(s.mu);
        s.cv.notify_all();
      }
    }
  };
  for (int h = 1; h < chunks; ++h) pool.Schedule([shared, run] { run(*shared); });
  run(*shared);
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->cv.wait(lock, [&] { return shared->done.load() == shared->total; });
}

// Calls rows(r0, r1) for blocks of batch rows that cover [0, batch), in parallel: one block per
// thread of the pool, at least 8 rows each (smaller blocks lose more to the matmul's row tail
// than the extra thread gains).
template <typename F>
void for_row_blocks(ffi::ThreadPool& pool, int64_t batch, F rows) {
  int64_t threads = std::max<int64_t>(1, pool.num_threads());
  int chunks = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, batch / 8)));
  parallel_chunks(pool, chunks, [&](int chunk) { rows(batch * chunk / chunks, batch * (chunk + 1) / chunks); });
}

// ---------------------------------------------------------------------------------------- LSTM

// One block of rows forward through every step: S[t] = act(b + X[:, t] W + h_{t-1} U), then c and
// h. The input projection is computed here, step by step, rather than for the whole sequence
// before the loop: writing and re-reading a (T, B, 4n) projection cost more than it saved.
void forward_rows(int64_t T, int64_t B, int64_t F, int64_t n, int64_t r0, int64_t r1, const float* X,
                  const float* W, const float* bias, const float* U, float* S, float* Cs, float* H) {
  const int64_t g = 4 * n, rows = r1 - r0;
  std::memset(H + r0 * n, 0, sizeof(float) * rows * n);
  for (int64_t t = 0; t < T; ++t) {
    float* s = S + (t * B + r0) * g;
    for (int64_t r = 0; r < rows; ++r) std::memcpy(s + r * g, bias, sizeof(float) * g);
    gemm_acc(rows, g, F, X + (r0 * T + t) * F, T * F, W, g, s, g);
    if (t > 0) gemm_acc(rows, g, n, H + (t * B + r0) * n, n, U, g, s, g);
    float* c = Cs + (t * B + r0) * n;
    float* h = H + ((t + 1) * B + r0) * n;
    const float* c_prev = t > 0 ? Cs + ((t - 1) * B + r0) * n : nullptr;
    for (int64_t r = 0; r < rows; ++r) {
      float* z = s + r * g;
      int64_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        vf i = vsigmoid(load(z + j)), f = vsigmoid(load(z + n + j));
        vf gg = vtanh(load(z + 2 * n + j)), o = vsigmoid(load(z + 3 * n + j));
        vf cp = c_prev ? load(c_prev + r * n + j) : splat(0.0f);
        vf cv = f * cp + i * gg;
        store(z + j, i), store(z + n + j, f), store(z + 2 * n + j, gg), store(z + 3 * n + j, o);
        store(c + r * n + j, cv);
        store(h + r * n + j, o * vtanh(cv));
      }
      for (; j < n; ++j) {
        float i = sigmoid1(z[j]), f = sigmoid1(z[n + j]), gg = tanh1(z[2 * n + j]), o = sigmoid1(z[3 * n + j]);
        float cv = f * (c_prev ? c_prev[r * n + j] : 0.0f) + i * gg;
        z[j] = i, z[n + j] = f, z[2 * n + j] = gg, z[3 * n + j] = o;
        c[r * n + j] = cv;
        h[r * n + j] = o * tanh1(cv);
      }
    }
  }
}

// One block of rows back through time. dh enters each step from the output gradient (DH) and
// from the next step through Uᵀ; dc from the next step through the forget gate.
void backward_rows(int64_t T, int64_t B, int64_t n, int64_t r0, int64_t r1, const float* S, const float* Cs,
                   const float* UT, const float* DH, bool dh_every_step, float* D) {
  const int64_t g = 4 * n, rows = r1 - r0;
  std::vector<float> dh(rows * n, 0.0f), dc(rows * n, 0.0f);
  if (!dh_every_step) std::memcpy(dh.data(), DH + r0 * n, sizeof(float) * rows * n);
  for (int64_t t = T - 1; t >= 0; --t) {
    if (dh_every_step) {  // DH is (B, T, n), the layer's output layout
      for (int64_t r = 0; r < rows; ++r) {
        const float* d = DH + ((r0 + r) * T + t) * n;
        for (int64_t j = 0; j < n; ++j) dh[r * n + j] += d[j];
      }
    }
    const float* s = S + (t * B + r0) * g;
    const float* c = Cs + (t * B + r0) * n;
    const float* c_prev = t > 0 ? Cs + ((t - 1) * B + r0) * n : nullptr;
    float* dz = D + (t * B + r0) * g;
    for (int64_t r = 0; r < rows; ++r) {
      const float* z = s + r * g;
      float* out = dz + r * g;
      float* dhr = dh.data() + r * n;
      float* dcr = dc.data() + r * n;
      int64_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        vf i = load(z + j), f = load(z + n + j), gg = load(z + 2 * n + j), o = load(z + 3 * n + j);
        vf cv = load(c + r * n + j), tc = vtanh(cv), hgrad = load(dhr + j);
        vf cp = c_prev ? load(c_prev + r * n + j) : splat(0.0f);
        vf dcv = load(dcr + j) + hgrad * o * (splat(1.0f) - tc * tc);
        store(out + j, dcv * gg * i * (splat(1.0f) - i));
        store(out + n + j, dcv * cp * f * (splat(1.0f) - f));
        store(out + 2 * n + j, dcv * i * (splat(1.0f) - gg * gg));
        store(out + 3 * n + j, hgrad * tc * o * (splat(1.0f) - o));
        store(dcr + j, dcv * f);
      }
      for (; j < n; ++j) {
        float i = z[j], f = z[n + j], gg = z[2 * n + j], o = z[3 * n + j];
        float tc = tanh1(c[r * n + j]), hgrad = dhr[j];
        float cp = c_prev ? c_prev[r * n + j] : 0.0f;
        float dcv = dcr[j] + hgrad * o * (1.0f - tc * tc);
        out[j] = dcv * gg * i * (1.0f - i);
        out[n + j] = dcv * cp * f * (1.0f - f);
        out[2 * n + j] = dcv * i * (1.0f - gg * gg);
        out[3 * n + j] = hgrad * tc * o * (1.0f - o);
        dcr[j] = dcv * f;
      }
    }
    if (t > 0) {
      std::fill(dh.begin(), dh.end(), 0.0f);
      gemm_acc(rows, n, g, dz, g, UT, n, dh.data(), n);
    }
  }
}

bool same(ffi::Span<const int64_t> dims, std::initializer_list<int64_t> want) {
  return dims.size() == want.size() && std::equal(want.begin(), want.end(), dims.begin());
}

ffi::Error LstmForward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> X, ffi::Buffer<ffi::F32> W,
                       ffi::Buffer<ffi::F32> bias, ffi::Buffer<ffi::F32> U, ffi::ResultBuffer<ffi::F32> S,
                       ffi::ResultBuffer<ffi::F32> C, ffi::ResultBuffer<ffi::F32> H) {
  auto x = X.dimensions(), u = U.dimensions(), w = W.dimensions();
  if (x.size() != 3 || u.size() != 2 || w.size() != 2 || u[1] != 4 * u[0] || w[0] != x[2] || w[1] != u[1] ||
      static_cast<int64_t>(bias.element_count()) != u[1]) {
    return ffi::Error::InvalidArgument("expected X (B, T, F), W (F, 4n), b (4n), U (n, 4n)");
  }
  const int64_t B = x[0], T = x[1], F = x[2], n = u[0];
  if (!same(S->dimensions(), {T, B, 4 * n}) || !same(C->dimensions(), {T, B, n}) ||
      !same(H->dimensions(), {T + 1, B, n})) {
    return ffi::Error::InvalidArgument("expected results S (T, B, 4n), C (T, B, n), H (T + 1, B, n)");
  }
  for_row_blocks(pool, B, [&](int64_t r0, int64_t r1) {
    forward_rows(T, B, F, n, r0, r1, X.typed_data(), W.typed_data(), bias.typed_data(), U.typed_data(),
                 S->typed_data(), C->typed_data(), H->typed_data());
  });
  return ffi::Error::Success();
}

ffi::Error LstmBackward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> S, ffi::Buffer<ffi::F32> C,
                        ffi::Buffer<ffi::F32> UT, ffi::Buffer<ffi::F32> DH, ffi::ResultBuffer<ffi::F32> D) {
  auto dims = S.dimensions();
  if (dims.size() != 3 || dims[2] % 4 != 0) return ffi::Error::InvalidArgument("S must be (T, B, 4n)");
  const int64_t T = dims[0], B = dims[1], n = dims[2] / 4;
  const bool every_step = DH.dimensions().size() == 3;  // (B, T, n), else only the last step's (B, n)
  if (!same(C.dimensions(), {T, B, n}) || !same(UT.dimensions(), {4 * n, n}) ||
      !(every_step ? same(DH.dimensions(), {B, T, n}) : same(DH.dimensions(), {B, n})) ||
      !same(D->dimensions(), {T, B, 4 * n})) {
    return ffi::Error::InvalidArgument("expected C (T, B, n), UT (4n, n), DH (B, T, n) or (B, n), D (T, B, 4n)");
  }
  for_row_blocks(pool, B, [&](int64_t r0, int64_t r1) {
    backward_rows(T, B, n, r0, r1, S.typed_data(), C.typed_data(), UT.typed_data(), DH.typed_data(), every_step,
                  D->typed_data());
  });
  return ffi::Error::Success();
}

// ----------------------------------------------------------------------------------------- GRU

// One block of rows forward: z, r = σ(b + x W + h U) in their blocks, the candidate
// tanh(b_c + x W_c + r ⊙ (h U_c)), h = (1 - z) h + z cand.
void gru_forward_rows(int64_t T, int64_t B, int64_t F, int64_t n, int64_t r0, int64_t r1, const float* X,
                      const float* W, const float* bias, const float* U, float* S, float* H) {
  const int64_t g = 3 * n, rows = r1 - r0;
  std::vector<float> p(rows * g), rec(rows * g);
  std::memset(H + r0 * n, 0, sizeof(float) * rows * n);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t r = 0; r < rows; ++r) std::memcpy(p.data() + r * g, bias, sizeof(float) * g);
    gemm_acc(rows, g, F, X + (r0 * T + t) * F, T * F, W, g, p.data(), g);
    std::fill(rec.begin(), rec.end(), 0.0f);
    const float* h_prev = H + (t * B + r0) * n;
    if (t > 0) gemm_acc(rows, g, n, h_prev, n, U, g, rec.data(), g);
    float* h = H + ((t + 1) * B + r0) * n;
    for (int64_t r = 0; r < rows; ++r) {
      const float* pr = p.data() + r * g;
      const float* qr = rec.data() + r * g;
      float* s = S + (t * B + r0 + r) * 4 * n;
      int64_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        vf z = vsigmoid(load(pr + j) + load(qr + j)), rr = vsigmoid(load(pr + n + j) + load(qr + n + j));
        vf rh = load(qr + 2 * n + j), cand = vtanh(load(pr + 2 * n + j) + rr * rh);
        vf hp = load(h_prev + r * n + j);
        store(s + j, z), store(s + n + j, rr), store(s + 2 * n + j, cand), store(s + 3 * n + j, rh);
        store(h + r * n + j, (splat(1.0f) - z) * hp + z * cand);
      }
      for (; j < n; ++j) {
        float z = sigmoid1(pr[j] + qr[j]), rr = sigmoid1(pr[n + j] + qr[n + j]);
        float rh = qr[2 * n + j], cand = tanh1(pr[2 * n + j] + rr * rh);
        s[j] = z, s[n + j] = rr, s[2 * n + j] = cand, s[3 * n + j] = rh;
        h[r * n + j] = (1.0f - z) * h_prev[r * n + j] + z * cand;
      }
    }
  }
}

// One block of rows back through time. The candidate's pre-activation gradient da enters the
// input projection as it is and the recurrent product scaled by the reset gate, so the two
// gradients differ in their third block; dh_{t-1} = dh (1 - z) + DR[t] Uᵀ.
void gru_backward_rows(int64_t T, int64_t B, int64_t n, int64_t r0, int64_t r1, const float* S, const float* H,
                       const float* UT, const float* DH, bool dh_every_step, float* DP, float* DR) {
  const int64_t g = 3 * n, rows = r1 - r0;
  std::vector<float> dh(rows * n, 0.0f), next(rows * n);
  if (!dh_every_step) std::memcpy(dh.data(), DH + r0 * n, sizeof(float) * rows * n);
  for (int64_t t = T - 1; t >= 0; --t) {
    if (dh_every_step) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* d = DH + ((r0 + r) * T + t) * n;
        for (int64_t j = 0; j < n; ++j) dh[r * n + j] += d[j];
      }
    }
    const float* h_prev = H + (t * B + r0) * n;
    for (int64_t r = 0; r < rows; ++r) {
      const float* s = S + (t * B + r0 + r) * 4 * n;
      float* dp = DP + (t * B + r0 + r) * g;
      float* dr = DR + (t * B + r0 + r) * g;
      const float* dhr = dh.data() + r * n;
      float* nx = next.data() + r * n;
      int64_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        vf z = load(s + j), rr = load(s + n + j), cand = load(s + 2 * n + j), rh = load(s + 3 * n + j);
        vf d = load(dhr + j), hp = load(h_prev + r * n + j);
        vf da = d * z * (splat(1.0f) - cand * cand);
        vf dz = d * (cand - hp) * z * (splat(1.0f) - z);
        vf drr = da * rh * rr * (splat(1.0f) - rr);
        store(dp + j, dz), store(dp + n + j, drr), store(dp + 2 * n + j, da);
        store(dr + j, dz), store(dr + n + j, drr), store(dr + 2 * n + j, da * rr);
        store(nx + j, d * (splat(1.0f) - z));
      }
      for (; j < n; ++j) {
        float z = s[j], rr = s[n + j], cand = s[2 * n + j], rh = s[3 * n + j];
        float d = dhr[j], hp = h_prev[r * n + j];
        float da = d * z * (1.0f - cand * cand), dz = d * (cand - hp) * z * (1.0f - z);
        float drr = da * rh * rr * (1.0f - rr);
        dp[j] = dz, dp[n + j] = drr, dp[2 * n + j] = da;
        dr[j] = dz, dr[n + j] = drr, dr[2 * n + j] = da * rr;
        nx[j] = d * (1.0f - z);
      }
    }
    if (t > 0) {
      gemm_acc(rows, n, g, DR + (t * B + r0) * g, g, UT, n, next.data(), n);
      dh.swap(next);
    }
  }
}

ffi::Error GruForward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> X, ffi::Buffer<ffi::F32> W,
                      ffi::Buffer<ffi::F32> bias, ffi::Buffer<ffi::F32> U, ffi::ResultBuffer<ffi::F32> S,
                      ffi::ResultBuffer<ffi::F32> H) {
  auto x = X.dimensions(), u = U.dimensions(), w = W.dimensions();
  if (x.size() != 3 || u.size() != 2 || w.size() != 2 || u[1] != 3 * u[0] || w[0] != x[2] || w[1] != u[1] ||
      static_cast<int64_t>(bias.element_count()) != u[1]) {
    return ffi::Error::InvalidArgument("expected X (B, T, F), W (F, 3n), b (3n), U (n, 3n)");
  }
  const int64_t B = x[0], T = x[1], F = x[2], n = u[0];
  if (!same(S->dimensions(), {T, B, 4 * n}) || !same(H->dimensions(), {T + 1, B, n})) {
    return ffi::Error::InvalidArgument("expected results S (T, B, 4n), H (T + 1, B, n)");
  }
  for_row_blocks(pool, B, [&](int64_t r0, int64_t r1) {
    gru_forward_rows(T, B, F, n, r0, r1, X.typed_data(), W.typed_data(), bias.typed_data(), U.typed_data(),
                     S->typed_data(), H->typed_data());
  });
  return ffi::Error::Success();
}

ffi::Error GruBackward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> S, ffi::Buffer<ffi::F32> H,
                       ffi::Buffer<ffi::F32> UT, ffi::Buffer<ffi::F32> DH, ffi::ResultBuffer<ffi::F32> DP,
                       ffi::ResultBuffer<ffi::F32> DR) {
  auto dims = S.dimensions();
  if (dims.size() != 3 || dims[2] % 4 != 0) return ffi::Error::InvalidArgument("S must be (T, B, 4n)");
  const int64_t T = dims[0], B = dims[1], n = dims[2] / 4;
  const bool every_step = DH.dimensions().size() == 3;
  if (!same(H.dimensions(), {T + 1, B, n}) || !same(UT.dimensions(), {3 * n, n}) ||
      !(every_step ? same(DH.dimensions(), {B, T, n}) : same(DH.dimensions(), {B, n})) ||
      !same(DP->dimensions(), {T, B, 3 * n}) || !same(DR->dimensions(), {T, B, 3 * n})) {
    return ffi::Error::InvalidArgument("expected H (T + 1, B, n), UT (3n, n), DH (B, T, n) or (B, n), DP, DR (T, B, 3n)");
  }
  for_row_blocks(pool, B, [&](int64_t r0, int64_t r1) {
    gru_backward_rows(T, B, n, r0, r1, S.typed_data(), H.typed_data(), UT.typed_data(), DH.typed_data(), every_step,
                      DP->typed_data(), DR->typed_data());
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(CellgraphLstmForward, LstmForward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(CellgraphLstmBackward, LstmBackward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(CellgraphGruForward, GruForward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(CellgraphGruBackward, GruBackward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());
