// The traccc service's native model: a thin adapter from tensorbind's C++ API to the
// reconstruction library (src/reco/reco.hpp). One Reconstructor per instance: a CPU chain for
// CPU instances, the CUDA chain on the instance's GPU otherwise (`native(..., { gpu: 0 })`).
// Extra cuts come from TRACCC_OPTIONS="chi2_max=12,min_hits=6" (names in src/reco/options.cpp).
#include <tensorbind/tensorbind.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

#include "reco/options.hpp"
#include "reco/reco.hpp"

namespace tb = tensorbind;

namespace {

traccc::RecoConfig config_from_env() {
  traccc::RecoConfig cfg;
  const char* env = std::getenv("TRACCC_OPTIONS");
  if (env == nullptr) return cfg;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    try {
      traccc::set_option(&cfg, item);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("TRACCC_OPTIONS: ") + e.what());
    }
  }
  return cfg;
}

#if TENSORBIND_CUDA
// Inputs in a client's CUDA region arrive as device pointers (the model declares
// device_memory()). The chain indexes cells by module on the host, so they come over once, into
// page-locked memory on this instance's stream: on the instance's thread, not the server's.
template <class T>
class PinnedCopy {
 public:
  ~PinnedCopy() {
    if (p_ != nullptr) cudaFreeHost(p_);
  }
  const T* from_device(const tb::Context& ctx, const tb::TensorView<T>& v) {
    if (v.size() > n_) {
      if (p_ != nullptr) cudaFreeHost(p_);
      p_ = nullptr;
      n_ = 0;
      tb::cuda::check(cudaMallocHost(reinterpret_cast<void**>(&p_), v.byte_size()), "cudaMallocHost");
      n_ = v.size();
    }
    if (v.size() > 0)
      tb::cuda::check(cudaMemcpyAsync(p_, v.data(), v.byte_size(), cudaMemcpyDeviceToHost, ctx.stream()),
                      "copy input from the client's CUDA region");
    return p_;
  }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};
#endif

// An output from a host vector: adopted without a copy, or, when the client named a CUDA region
// for it, copied there on the instance's stream (the server then copies nothing).
template <class T>
void emit(tb::Context& ctx, const std::string& name, std::vector<T>&& v, tb::Shape shape) {
#if TENSORBIND_CUDA
  const tb::OutputTarget* target = ctx.output_target(name);
  if (target != nullptr && target->device >= 0 && v.size() * sizeof(T) <= target->bytes) {
    auto out = ctx.output<T>(name, std::move(shape));
    if (out.is_device()) {
      if (!v.empty())
        tb::cuda::check(cudaMemcpyAsync(out.data(), v.data(), out.byte_size(), cudaMemcpyHostToDevice, ctx.stream()),
                        "copy output to the client's CUDA region");
      tb::cuda::check(cudaStreamSynchronize(ctx.stream()), "cudaStreamSynchronize");  // `v` dies here
    } else {
      std::copy(v.begin(), v.end(), out.begin());
    }
    return;
  }
#endif
  ctx.set_output(name, std::move(v), std::move(shape));
}

class Reconstruct {
 public:
  explicit Reconstruct(const tb::Instance& instance)
      : reco_(instance.on_gpu() ? traccc::make_cuda_reconstructor(config_from_env(), instance.device())
                                : traccc::make_cpu_reconstructor(config_from_env())) {}

  void operator()(tb::Context& ctx) {
    const auto pos = ctx.input<std::int64_t>("CELL_POSITIONS");
    const auto prop = ctx.input<float>("CELL_PROPERTIES");
    const auto n = static_cast<std::size_t>(pos.dim(0));
    if (static_cast<std::size_t>(prop.dim(0)) != n)
      throw tb::InvalidArgument("CELL_POSITIONS has " + std::to_string(n) + " cells but CELL_PROPERTIES has " +
                                std::to_string(prop.dim(0)));
    const std::int64_t* pos_data = pos.data();
    const float* prop_data = prop.data();
#if TENSORBIND_CUDA
    if (pos.is_device() || prop.is_device()) {
      if (pos.is_device()) pos_data = pos_host_.from_device(ctx, pos);
      if (prop.is_device()) prop_data = prop_host_.from_device(ctx, prop);
      tb::cuda::check(cudaStreamSynchronize(ctx.stream()), "cudaStreamSynchronize");
    }
#endif
    traccc::TracksResult r;
    try {
      reco_->run(traccc::CellsView{pos_data, prop_data, n}, &r);
    } catch (const std::invalid_argument& e) {
      throw tb::InvalidArgument(e.what());  // bad cells: the client's error (400 / INVALID_ARGUMENT)
    }
    const auto t = static_cast<std::int64_t>(r.n_tracks);
    const auto m = static_cast<std::int64_t>(r.n_rows);
    emit(ctx, "TRK_PARAMS", std::move(r.trk_params), {t, traccc::kTrkParamColumns});
    emit(ctx, "MEASUREMENTS", std::move(r.measurements), {m, traccc::kMeasurementColumns});
    emit(ctx, "GEOMETRY_IDS", std::move(r.geometry_ids), {m});
  }

 private:
  std::unique_ptr<traccc::Reconstructor> reco_;
#if TENSORBIND_CUDA
  PinnedCopy<std::int64_t> pos_host_;
  PinnedCopy<float> prop_host_;
#endif
};

auto& decl = tb::model<Reconstruct>("reconstruct")
                 .input("CELL_POSITIONS", tb::DataType::INT64, {-1, 4})
                 .input("CELL_PROPERTIES", tb::DataType::FP32, {-1, 2})
                 .output("TRK_PARAMS", tb::DataType::FP32, {-1, traccc::kTrkParamColumns})
                 .output("MEASUREMENTS", tb::DataType::FP32, {-1, traccc::kMeasurementColumns})
                 .output("GEOMETRY_IDS", tb::DataType::INT64, {-1})
                 .device_memory(TENSORBIND_CUDA != 0);  // CUDA regions as device pointers (see above)

}  // namespace

TENSORBIND_ADDON()
