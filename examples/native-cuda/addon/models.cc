// SAXPY and a sum reduction, served by tensorbind (see ../README.md).
//
// saxpy      A FP32 [1], X FP32 [-1], Y FP32 [-1] -> Z FP32 [-1]     Z = A·X + Y
// sum        X FP32 [-1]                          -> SUM FP64 [1]
// saxpy_cpu, sum_cpu: the same, always in C++ (the reference for the GPU results)
//
// `saxpy` and `sum` run on the GPU on a GPU instance (`instances: [{ gpu: 0 }]`) and in C++ on a
// CPU instance, so one addon serves on any machine.
#include <tensorbind/tensorbind.h>

#include "ops.h"

namespace tb = tensorbind;
using tb::DataType;

namespace {

void check_saxpy_inputs(const tb::TensorView<float>& a, const tb::TensorView<float>& x,
                        const tb::TensorView<float>& y) {
  if (a.size() != 1) throw tb::InvalidArgument("A must hold exactly one value");
  if (x.size() != y.size()) {
    throw tb::InvalidArgument("X has " + std::to_string(x.size()) + " elements but Y has " + std::to_string(y.size()));
  }
}

void saxpy_cpu(tb::Context& ctx) {
  auto a = ctx.input<float>("A"), x = ctx.input<float>("X"), y = ctx.input<float>("Y");
  check_saxpy_inputs(a, x, y);
  auto z = ctx.output<float>("Z", x.shape());
  cuda_ops::saxpy_cpu(a[0], x.data(), y.data(), z.data(), x.size());
}

void sum_cpu(tb::Context& ctx) {
  auto x = ctx.input<float>("X");
  ctx.output<double>("SUM", {1})[0] = cuda_ops::sum_cpu(x.data(), x.size());
}

void saxpy(tb::Context& ctx) {
#if TENSORBIND_CUDA
  if (ctx.device() >= 0) {
    check_saxpy_inputs(ctx.input<float>("A"), ctx.input<float>("X"), ctx.input<float>("Y"));
    return cuda_ops::saxpy_gpu(ctx);
  }
#endif
  saxpy_cpu(ctx);
}

void sum(tb::Context& ctx) {
#if TENSORBIND_CUDA
  if (ctx.device() >= 0) return cuda_ops::sum_gpu(ctx);
#endif
  sum_cpu(ctx);
}

tb::ModelDef& declare_saxpy(tb::ModelDef& m) {
  return m.input("A", DataType::FP32, {1})
      .input("X", DataType::FP32, {-1})
      .input("Y", DataType::FP32, {-1})
      .output("Z", DataType::FP32, {-1});
}
tb::ModelDef& declare_sum(tb::ModelDef& m) {
  return m.input("X", DataType::FP32, {-1}).output("SUM", DataType::FP64, {1});
}

auto& saxpy_decl = declare_saxpy(tb::model("saxpy", saxpy));
auto& saxpy_cpu_decl = declare_saxpy(tb::model("saxpy_cpu", saxpy_cpu));
auto& sum_decl = declare_sum(tb::model("sum", sum));
auto& sum_cpu_decl = declare_sum(tb::model("sum_cpu", sum_cpu));

}  // namespace

TENSORBIND_ADDON()
