// Built when no CUDA compiler was found: the GPU factory explains why it cannot be used.
#include <stdexcept>

#include "reco.hpp"

namespace traccc {

std::unique_ptr<Reconstructor> make_cuda_reconstructor(const RecoConfig&, int) {
  throw std::runtime_error("this build of the traccc example has no CUDA support (no CUDA compiler was found)");
}

bool cuda_available() { return false; }

}  // namespace traccc
