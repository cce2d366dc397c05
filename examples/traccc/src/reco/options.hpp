// Setting RecoConfig fields by name: the drivers' --set key=value and the service's options.
#pragma once

#include <string>

#include "types.hpp"

namespace traccc {

/** Sets one field; throws std::invalid_argument for an unknown key or a value out of range. */
void set_option(RecoConfig* cfg, const std::string& key, double value);

}  // namespace traccc
