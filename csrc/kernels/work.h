// work.h — what a kernel call costs on one thread, measured, and splitting it only when
// that pays (Note [Threads that pay], cpu/parallel.h). For the kernel drivers.
//
// Rates are measured once per kernel loop (per ISA table and dtype), on first use with a
// multi-thread pool, on small cache-resident buffers (the best of a few calls; a few
// microseconds each): the streaming rate of the table's vector add stands for every
// memory-bound loop (copies, binary ops, reductions, optimizer updates), and each unary
// loop (exp, tanh, erf, ...) gets its own rate. Best-case rates make the split decision
// conservative: a loop slower than its rate only means a split was missed.
#pragma once
#include <cstdint>

#include "cpu/parallel.h"
#include "kernels/kernels.h"

namespace gradcore::kernels {

// The rate `measure()` returns, measured once per `key` (a kernel loop's address; a race
// measures twice, harmlessly).
double cached_rate_impl(const void* key, double (*measure)(void*), void* ctx);
template <class F>
double cached_rate(const void* key, F& measure) {
  return cached_rate_impl(key, [](void* c) { return (*static_cast<F*>(c))(); }, &measure);
}

// ns per byte read or written by the current table's streaming loops, one thread.
template <class T>
double stream_ns_per_byte();
// ns per element of a loop y[0:n] = f(x[0:n]) of the current table (a unary op, a softmax
// row), one thread.
template <class T>
using RowLoop = void (*)(const T* x, T* y, int64_t n);
template <class T>
double loop_ns_per_item(RowLoop<T> f);

// Threads worth waking for n items, each one element of `loop` (none when null) plus
// `bytes` streamed (cpu::paying_threads: the loops split [0, n) alike, so
// nothing moves between cores); 1 on a 1-thread pool, without measuring anything.
template <class T>
int item_threads(int64_t n, RowLoop<T> loop, double bytes) {
  if (cpu::get_num_threads() <= 1 || n <= 0) return 1;
  double per_item = bytes * stream_ns_per_byte<T>();
  if (loop) per_item += loop_ns_per_item<T>(loop);
  return cpu::paying_threads(double(n) * per_item);
}
template <class T>
int stream_threads(int64_t n, double bytes) {
  return item_threads<T>(n, nullptr, bytes);
}

// fn(begin, end) over [0, n) in contiguous ranges, one per thread that pays.
template <class F>
void parallel_split(int64_t n, int threads, F&& fn) {
  cpu::parallel_range(n, 1, fn, threads);
}

}  // namespace gradcore::kernels
