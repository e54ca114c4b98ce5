#include "autograd/custom_function.h"

#include <algorithm>

#include "autograd/function.h"
#include "autograd/node.h"

namespace gradcore::autograd {
namespace {

struct CustomFunctionNode final : Node {
  std::string name_;
  std::unique_ptr<FunctionBackward> backward;
  std::vector<SavedTensor> saved;
  uint32_t n_outputs = 1;

  const char* name() const override { return name_.c_str(); }
  uint32_t num_outputs() const override { return n_outputs; }
  void release_saved() override {
    for (auto& s : saved) s.reset();
  }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    std::vector<std::pair<std::string, TensorPtr>> out;
    for (size_t i = 0; i < saved.size(); ++i) out.push_back({"saved_" + std::to_string(i), saved[i].raw()});
    return out;
  }
  tensor_list apply(tensor_list&& grads) override {
    tensor_list saved_t;
    saved_t.reserve(saved.size());
    for (const SavedTensor& s : saved) saved_t.push_back(s.unpack(this));
    grads.resize(n_outputs);
    tensor_list out = (*backward)(saved_t, grads);
    out.resize(next_edges.size());
    return out;
  }
};

}  // namespace

void record_function(const std::string& name, std::unique_ptr<FunctionBackward> backward, const tensor_list& inputs,
                     const tensor_list& outputs, const tensor_list& saved) {
  auto node = std::make_shared<CustomFunctionNode>();
  node->name_ = name;
  node->backward = std::move(backward);
  for (const TensorPtr& t : inputs) node->next_edges.push_back(t && t->needs_grad() ? gradient_edge(t) : Edge{});
  node->n_outputs = static_cast<uint32_t>(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i]) set_history(outputs[i], node, static_cast<uint32_t>(i));
  // After set_history, so a saved output knows its output slot (Note [Saved outputs]).
  for (const TensorPtr& t : saved) {
    if (!t) { node->saved.emplace_back(); continue; }
    bool is_output = std::find(outputs.begin(), outputs.end(), t) != outputs.end();
    node->saved.emplace_back(t, is_output);
  }
}

}  // namespace gradcore::autograd
