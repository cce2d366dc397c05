// Vector operations in plain C++, served by tensorbind (see README.md).
//
// vector_add     A, B FP32 [-1]  -> SUM FP32 [-1]             element-wise, the simplest model
// select_above   X FP32 [-1], THRESHOLD FP32 [1]
//                -> INDICES INT64 [-1], VALUES FP32 [-1]      output sizes known only after compute
#include <tensorbind/tensorbind.h>

#include <cstdint>
#include <vector>

namespace tb = tensorbind;

namespace {

void vector_add(tb::Context& ctx) {
  auto a = ctx.input<float>("A");
  auto b = ctx.input<float>("B");
  if (a.size() != b.size()) {
    throw tb::InvalidArgument("A has " + std::to_string(a.size()) + " elements but B has " +
                              std::to_string(b.size()));
  }
  auto sum = ctx.output<float>("SUM", a.shape());
  for (std::size_t i = 0; i < a.size(); ++i) sum[i] = a[i] + b[i];
}

// The elements above a threshold and where they are: how many there are is known only at the
// end, so the results grow in vectors that are then handed over without a copy.
void select_above(tb::Context& ctx) {
  auto x = ctx.input<float>("X");
  auto threshold = ctx.input<float>("THRESHOLD");
  if (threshold.size() != 1) throw tb::InvalidArgument("THRESHOLD must hold exactly one value");
  std::vector<std::int64_t> indices;
  std::vector<float> values;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] > threshold[0]) {
      indices.push_back(static_cast<std::int64_t>(i));
      values.push_back(x[i]);
    }
  }
  auto n = static_cast<std::int64_t>(indices.size());
  if (ctx.wants("INDICES")) ctx.set_output("INDICES", std::move(indices), {n});
  if (ctx.wants("VALUES")) ctx.set_output("VALUES", std::move(values), {n});
}

auto& vector_add_decl = tb::model("vector_add", vector_add)
                            .input("A", tb::DataType::FP32, {-1})
                            .input("B", tb::DataType::FP32, {-1})
                            .output("SUM", tb::DataType::FP32, {-1});

auto& select_above_decl = tb::model("select_above", select_above)
                              .input("X", tb::DataType::FP32, {-1})
                              .input("THRESHOLD", tb::DataType::FP32, {1})
                              .output("INDICES", tb::DataType::INT64, {-1})
                              .output("VALUES", tb::DataType::FP32, {-1});

}  // namespace

TENSORBIND_ADDON()
