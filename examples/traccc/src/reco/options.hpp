// Setting RecoConfig fields by name: the drivers' --set key=value and the service's options.
#pragma once

#include <string>

#include "types.hpp"

namespace traccc {

/** Sets one field; throws std::invalid_argument for an unknown key or a value out of range. */
void set_option(RecoConfig* cfg, const std::string& key, double value);

/**
 * Sets one field from "key=value" (e.g. "chi2_max=12"), as the drivers' --set and the service's
 * TRACCC_OPTIONS items give it; throws std::invalid_argument when the text is not of that form,
 * the value is not a number, or as the overload above.
 */
void set_option(RecoConfig* cfg, const std::string& key_value);

}  // namespace traccc
