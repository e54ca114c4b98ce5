// small_vec.h — DimVec: a vector of int64 with room for 6 values inline (shapes, strides).
//
// Every Tensor has a shape and strides, and every node that remembers shapes holds a few
// more: with std::vector each is a heap allocation, a measurable share of an op on small
// tensors. DimVec keeps up to kInline values in place and falls back to the heap beyond.
// It has the part of std::vector's interface the code base uses, and converts to and
// from std::vector<int64_t> (dims lists) where an API takes one.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>
#include <utility>
#include <vector>

namespace gradcore {

class DimVec {
 public:
  static constexpr size_t kInline = 6;
  using value_type = int64_t;
  using iterator = int64_t*;
  using const_iterator = const int64_t*;
  using size_type = size_t;

  DimVec() = default;
  explicit DimVec(size_t n, int64_t v = 0) { assign(n, v); }
  DimVec(std::initializer_list<int64_t> il) { assign_range(il.begin(), il.end()); }
  template <class It, class = decltype(*std::declval<It>())>
  DimVec(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }
  DimVec(const std::vector<int64_t>& v) { assign_range(v.data(), v.data() + v.size()); }  // NOLINT: implicit on purpose
  DimVec(const DimVec& o) { assign_range(o.begin(), o.end()); }
  DimVec(DimVec&& o) noexcept { steal(o); }
  DimVec& operator=(const DimVec& o) {
    if (this != &o) assign_range(o.begin(), o.end());
    return *this;
  }
  DimVec& operator=(DimVec&& o) noexcept {
    if (this != &o) {
      release();
      steal(o);
    }
    return *this;
  }
  ~DimVec() { release(); }
  operator std::vector<int64_t>() const { return std::vector<int64_t>(begin(), end()); }  // NOLINT

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t* data() { return ptr(); }
  const int64_t* data() const { return ptr(); }
  int64_t* begin() { return ptr(); }
  int64_t* end() { return ptr() + size_; }
  const int64_t* begin() const { return ptr(); }
  const int64_t* end() const { return ptr() + size_; }
  int64_t& operator[](size_t i) { return ptr()[i]; }
  const int64_t& operator[](size_t i) const { return ptr()[i]; }
  int64_t& back() { return ptr()[size_ - 1]; }
  const int64_t& back() const { return ptr()[size_ - 1]; }
  int64_t& front() { return ptr()[0]; }
  const int64_t& front() const { return ptr()[0]; }

  void reserve(size_t n) {
    if (n <= cap_) return;
    size_t c = std::max(n, cap_ * 2);
    auto* p = static_cast<int64_t*>(std::malloc(c * sizeof(int64_t)));
    if (!p) throw std::bad_alloc();
    std::memcpy(p, ptr(), size_ * sizeof(int64_t));
    if (heap_) std::free(heap_);
    heap_ = p;
    cap_ = c;
  }
  void push_back(int64_t v) {
    if (size_ == cap_) reserve(size_ + 1);
    ptr()[size_++] = v;
  }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }
  void resize(size_t n, int64_t v = 0) {
    reserve(n);
    for (size_t i = size_; i < n; ++i) ptr()[i] = v;
    size_ = n;
  }
  void assign(size_t n, int64_t v) {
    size_ = 0;
    resize(n, v);
  }
  int64_t* insert(const int64_t* pos, int64_t v) {
    const size_t i = static_cast<size_t>(pos - begin());
    reserve(size_ + 1);
    int64_t* p = ptr();
    std::memmove(p + i + 1, p + i, (size_ - i) * sizeof(int64_t));
    p[i] = v;
    ++size_;
    return p + i;
  }
  template <class It>
  int64_t* insert(const int64_t* pos, It first, It last) {
    const size_t i = static_cast<size_t>(pos - begin());
    DimVec tail(begin() + i, end());
    size_ = i;
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
    for (int64_t v : tail) push_back(v);
    return ptr() + i;
  }
  int64_t* erase(const int64_t* pos) {
    const size_t i = static_cast<size_t>(pos - begin());
    int64_t* p = ptr();
    std::memmove(p + i, p + i + 1, (size_ - i - 1) * sizeof(int64_t));
    --size_;
    return p + i;
  }
  int64_t* erase(const int64_t* first, const int64_t* last) {
    const size_t i = static_cast<size_t>(first - begin()), j = static_cast<size_t>(last - begin());
    int64_t* p = ptr();
    std::memmove(p + i, p + j, (size_ - j) * sizeof(int64_t));
    size_ -= j - i;
    return p + i;
  }

  friend bool operator==(const DimVec& a, const DimVec& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const DimVec& a, const DimVec& b) { return !(a == b); }

 private:
  int64_t* ptr() { return heap_ ? heap_ : inline_; }
  const int64_t* ptr() const { return heap_ ? heap_ : inline_; }
  void assign_range(const int64_t* b, const int64_t* e) {
    const size_t n = static_cast<size_t>(e - b);
    size_ = 0;
    reserve(n);
    std::memmove(ptr(), b, n * sizeof(int64_t));
    size_ = n;
  }
  void release() {
    if (heap_) std::free(heap_);
    heap_ = nullptr;
    cap_ = kInline;
    size_ = 0;
  }
  void steal(DimVec& o) {
    size_ = o.size_;
    if (o.heap_) {
      heap_ = o.heap_;
      cap_ = o.cap_;
      o.heap_ = nullptr;
      o.cap_ = kInline;
    } else {
      std::memcpy(inline_, o.inline_, size_ * sizeof(int64_t));
    }
    o.size_ = 0;
  }

  int64_t inline_[kInline];
  int64_t* heap_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = kInline;
};

}  // namespace gradcore
