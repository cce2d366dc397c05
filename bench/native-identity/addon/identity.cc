// Identity in native code, two ways: `identity` answers the input's own bytes (ctx.forward, no
// copy), `identity_copy` writes a fresh output (what a real model does). Both batch like the
// quickstart's identity_fp32, the JS model they are compared with.
#include <tensorbind/tensorbind.h>

#include <cstring>

namespace tb = tensorbind;

namespace {

void identity(tb::Context& ctx) { ctx.forward("INPUT0", "OUTPUT0"); }

void identity_copy(tb::Context& ctx) {
  auto in = ctx.input<float>("INPUT0");
  auto out = ctx.output<float>("OUTPUT0", in.shape());
  std::memcpy(out.data(), in.data(), in.byte_size());
}

auto& a = tb::model("identity", identity)
              .input("INPUT0", tb::DataType::FP32, {-1})
              .output("OUTPUT0", tb::DataType::FP32, {-1})
              .max_batch_size(8);
auto& b = tb::model("identity_copy", identity_copy)
              .input("INPUT0", tb::DataType::FP32, {-1})
              .output("OUTPUT0", tb::DataType::FP32, {-1})
              .max_batch_size(8);

}  // namespace

TENSORBIND_ADDON()
