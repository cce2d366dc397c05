// The traccc service's native model: a thin adapter from tensorbind's C++ API to the
// reconstruction library (src/reco/reco.hpp). One Reconstructor per instance: a CPU chain for
// CPU instances, the CUDA chain on the instance's GPU otherwise (`native(..., { gpu: 0 })`).
// Extra cuts come from TRACCC_OPTIONS="chi2_max=12,min_hits=6" (names in src/reco/options.cpp).
#include <tensorbind/tensorbind.h>

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
    traccc::TracksResult r;
    try {
      reco_->run(traccc::CellsView{pos.data(), prop.data(), n}, &r);
    } catch (const std::invalid_argument& e) {
      throw tb::InvalidArgument(e.what());  // bad cells: the client's error (400 / INVALID_ARGUMENT)
    }
    const auto t = static_cast<std::int64_t>(r.n_tracks);
    const auto m = static_cast<std::int64_t>(r.n_rows);
    ctx.set_output("TRK_PARAMS", std::move(r.trk_params), {t, traccc::kTrkParamColumns});
    ctx.set_output("MEASUREMENTS", std::move(r.measurements), {m, traccc::kMeasurementColumns});
    ctx.set_output("GEOMETRY_IDS", std::move(r.geometry_ids), {m});
  }

 private:
  std::unique_ptr<traccc::Reconstructor> reco_;
};

auto& decl = tb::model<Reconstruct>("reconstruct")
                 .input("CELL_POSITIONS", tb::DataType::INT64, {-1, 4})
                 .input("CELL_PROPERTIES", tb::DataType::FP32, {-1, 2})
                 .output("TRK_PARAMS", tb::DataType::FP32, {-1, traccc::kTrkParamColumns})
                 .output("MEASUREMENTS", tb::DataType::FP32, {-1, traccc::kMeasurementColumns})
                 .output("GEOMETRY_IDS", tb::DataType::INT64, {-1});

}  // namespace

TENSORBIND_ADDON()
