// strided.cpp — copies and casts between tensors of any layout and element type.
#include "kernels/strided.h"

#include <algorithm>
#include <cstring>

namespace gradcore::kernels {
namespace {

template <class U>
void copy_rows(int ndim, const int64_t* shape, const char* src, const int64_t* ss, char* dst, const int64_t* ds) {
  char* ptrs[2] = {dst, const_cast<char*>(src)};
  const int64_t* strides[2] = {ds, ss};
  for_each_row<2>(ndim, shape, ptrs, strides, [](char** p, const int64_t* s, int64_t n) {
    if (s[0] == int64_t(sizeof(U)) && s[1] == int64_t(sizeof(U))) {
      std::memcpy(p[0], p[1], static_cast<size_t>(n) * sizeof(U));
      return;
    }
    if (s[0] == int64_t(sizeof(U)) && s[1] == 0) {  // a broadcast value (fill_, zero_, expand): a fill
      U v;
      std::memcpy(&v, p[1], sizeof(U));
      if (v == U(0)) std::memset(p[0], 0, static_cast<size_t>(n) * sizeof(U));
      else std::fill_n(reinterpret_cast<U*>(p[0]), n, v);
      return;
    }
    for (int64_t i = 0; i < n; ++i) std::memcpy(p[0] + i * s[0], p[1] + i * s[1], sizeof(U));
  });
}

}  // namespace

void copy_strided(size_t elsize, int ndim, const int64_t* shape, const void* src, const int64_t* src_strides,
                  void* dst, const int64_t* dst_strides) {
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  switch (elsize) {
    case 1: copy_rows<uint8_t>(ndim, shape, s, src_strides, d, dst_strides); break;
    case 2: copy_rows<uint16_t>(ndim, shape, s, src_strides, d, dst_strides); break;
    case 4: copy_rows<uint32_t>(ndim, shape, s, src_strides, d, dst_strides); break;
    default: copy_rows<uint64_t>(ndim, shape, s, src_strides, d, dst_strides); break;
  }
}

}  // namespace gradcore::kernels
