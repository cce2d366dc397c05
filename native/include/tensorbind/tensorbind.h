// tensorbind native model API, all of it. Model sources include this header; exactly one of
// them also writes TENSORBIND_ADDON(). Files compiled by nvcc that only define kernels or model
// functions may include <tensorbind/model.h> (and <tensorbind/cuda.h>) instead, which need no
// Node-API headers.
//
//   #include <tensorbind/tensorbind.h>
//   namespace tb = tensorbind;
//
//   static void vector_add(tb::Context& ctx) {
//     auto a = ctx.input<float>("A"), b = ctx.input<float>("B");
//     if (a.size() != b.size()) throw tb::InvalidArgument("A and B differ in length");
//     auto sum = ctx.output<float>("SUM", a.shape());
//     for (std::size_t i = 0; i < a.size(); ++i) sum[i] = a[i] + b[i];
//   }
//   static auto& decl = tb::model("vector_add", vector_add)
//                           .input("A", tb::DataType::FP32, {-1})
//                           .input("B", tb::DataType::FP32, {-1})
//                           .output("SUM", tb::DataType::FP32, {-1});
//   TENSORBIND_ADDON()
#pragma once

#include "addon.h"
#include "context.h"
#include "errors.h"
#include "model.h"
#include "tensor.h"
#include "types.h"
#if TENSORBIND_CUDA
#include "cuda.h"
#endif
