// check.h — gradcore's error kinds and the GC_CHECK macro.
//
// Every layer below the bindings reports bad input by throwing one of these; the bindings
// translate them to the Python exception of the same name:
//   GC_CHECK(a.numel() == b.numel(), ValueError, "add: ", shape_str(a), " vs ", shape_str(b));
// std::bad_alloc becomes MemoryError (pybind11 does that already).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace gradcore {

struct ValueError : std::runtime_error { using std::runtime_error::runtime_error; };
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct RuntimeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct IndexError : std::runtime_error { using std::runtime_error::runtime_error; };
// An op PyTorch does not implement for these arguments (e.g. frac of an integer tensor).
struct NotImplementedError : std::runtime_error { using std::runtime_error::runtime_error; };
// Shapes that do not fit together (broadcasting, view/reshape, matmul, cat): Python sees
// gradcore.ShapeError, both a ValueError (gradcore's convention) and a RuntimeError
// (what PyTorch raises for the same mistake).
struct ShapeError : std::runtime_error { using std::runtime_error::runtime_error; };
// Operands of dtypes an op cannot combine: gradcore.DTypeError, a TypeError (gradcore's
// convention) and a RuntimeError (PyTorch's for the same mistake).
struct DTypeError : std::runtime_error { using std::runtime_error::runtime_error; };
// A kernel PyTorch has not for this dtype ("normal_kernel_cpu" not implemented for 'Long'):

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace gradcore

#define GC_CHECK(cond, Kind, ...)                                          \
  do {                                                                     \
    if (!(cond)) throw ::gradcore::Kind(::gradcore::detail::concat(__VA_ARGS__)); \
  } while (0)
