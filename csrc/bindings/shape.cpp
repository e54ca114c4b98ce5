// shape.cpp — issue 12 (shape ops): binds cat/concat/concatenate, flip and diag_embed (ops/concat.cpp)
// with PyTorch's signatures. The shape ops composed of views and these two live in
// python/gradcore/_shape_ops.py.
#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

using GilRelease = py::call_guard<py::gil_scoped_release>;

std::string type_name(py::handle o) { return type_display_name(o); }  // torch.Tensor, not "Tensor"

// A tuple/list of Tensors (TypeError worded as PyTorch's for a Tensor or a non-Tensor entry).
tensor_list parse_tensor_list(py::handle seq, const char* op) {
  GC_CHECK(!is_tensor(seq) && py::isinstance<py::sequence>(seq) && !py::isinstance<py::str>(seq), TypeError, op,
           "(): argument 'tensors' (position 1) must be tuple of Tensors, not ", type_name(seq));
  tensor_list out;
  size_t i = 0;
  for (auto item : seq) {
    GC_CHECK(is_tensor(item), TypeError, "expected Tensor as element ", i, " in argument 0, but got ",
             type_name(item));
    out.push_back(tensor_of(item));
    ++i;
  }
  return out;
}

// flip's dims: a tuple/list of ints (an int alone is a TypeError, as PyTorch's).
std::vector<int64_t> parse_flip_dims(py::handle dims) {
  GC_CHECK(!py::isinstance<py::int_>(dims) && py::isinstance<py::sequence>(dims) && !py::isinstance<py::str>(dims),
           TypeError, "flip(): argument 'dims' (position 2) must be tuple of ints, not ", type_name(dims));
  return parse_dims(dims);
}

}  // namespace

void bind_shape(py::module_& m, TensorClass& cls) {
  const char* cat_doc = "The tensors joined along dim (promoted to their result_type); a 1-D empty tensor is "
                        "skipped, as PyTorch's legacy rule.";
  auto cat = [](py::handle tensors, int64_t dim) {
    tensor_list ts = parse_tensor_list(tensors, "cat");
    py::gil_scoped_release nogil;
    return ops::cat(ts, dim);
  };
  m.def("cat", cat, py::arg("tensors"), py::arg("dim") = 0, cat_doc);
  m.def("concat", cat, py::arg("tensors"), py::arg("dim") = 0, cat_doc);
  m.def("concatenate", cat, py::arg("tensors"), py::arg("axis") = 0, cat_doc);
  const char* de_doc = "Zeros of one more dim with input's last dim on the offset diagonal of (dim1, dim2).";
  m.def("diag_embed", &ops::diag_embed, py::arg("input"), py::arg("offset") = 0, py::arg("dim1") = -2,
        py::arg("dim2") = -1, GilRelease(), de_doc);
  cls.def("diag_embed", &ops::diag_embed, py::arg("offset") = 0, py::arg("dim1") = -2, py::arg("dim2") = -1,
          GilRelease(), de_doc);
  const char* flip_doc = "A copy with the order of elements reversed along each of dims.";
  m.def("flip", [](const TensorPtr& x, py::handle dims) {
    std::vector<int64_t> d = parse_flip_dims(dims);
    py::gil_scoped_release nogil;
    return ops::flip(x, d);
  }, py::arg("input"), py::arg("dims"), flip_doc);
  cls.def("flip", [](const TensorPtr& x, py::args dims) {
    GC_CHECK(dims.size() > 0, TypeError, "flip() missing 1 required positional arguments: \"dims\"");
    std::vector<int64_t> d = dims.size() == 1 && !py::isinstance<py::int_>(dims[0]) ? parse_flip_dims(dims[0])
                                                                                     : parse_dims(dims);
    py::gil_scoped_release nogil;
    return ops::flip(x, d);
  }, flip_doc);
}

}  // namespace gradcore::bindings
