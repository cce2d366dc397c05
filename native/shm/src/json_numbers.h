// JSON number text for tensor data, both ways, without a JS value per element: the HTTP
// frontend's `data` arrays (KServe v2 JSON) are formatted from and scanned into typed arrays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tensorbind {

// Element kinds of the KServe datatypes that JSON carries (FP16/BF16 and BYTES do not).
enum class JsonKind { kBool, kU8, kU16, kU32, kU64, kI8, kI16, kI32, kI64, kF32, kF64 };

// Parses a datatype name ("FP32"); false when JSON numbers cannot carry it.
bool JsonKindOf(const std::string& datatype, JsonKind* kind);

// Bytes per element of a kind.
std::size_t JsonKindSize(JsonKind kind);

// Formats `[v0,v1,...]` for `count` elements read from `data` (native byte order, any alignment).
// Floats: the shortest text that reads back as the same value of their own width (FP32 as
// float32), laid out as ECMAScript's Number::toString does; -0 as "-0.0"; NaN and infinities as
// null. Integers exact, BOOL as true/false.
// Growable text, malloc'd and never zero-filled (a 1 MiB tensor's text is a few MiB).
struct JsonText {
  char* data = nullptr;
  std::size_t size = 0;
  std::size_t capacity = 0;
  JsonText() = default;
  JsonText(const JsonText&) = delete;
  JsonText& operator=(const JsonText&) = delete;
  ~JsonText();
  bool Reserve(std::size_t n);  // false when memory ran out
};

// Appends the array to `out`; false when memory ran out.
bool FormatJsonArray(JsonKind kind, const std::uint8_t* data, std::size_t count, JsonText* out);

// Reads the JSON array text [begin, end) into `out` (count elements of `kind`), flattening nested
// arrays no deeper than `max_depth` levels below the top one. Returns false, leaving `out`
// partly written, for anything but well-formed, in-range values of exactly `count` elements:
// the caller then takes its general path, which gives the precise error.
bool ParseJsonArray(JsonKind kind, const char* begin, const char* end, std::size_t count, int max_depth,
                    std::uint8_t* out);

// Finds the `data` value of each element of the top-level `inputs` array in the JSON text
// [begin, end). Appends (input index, value begin, value end) byte offsets for each array-valued
// one. Returns false when the text cannot be scanned unambiguously (an escaped key, a repeated
// `inputs` or `data` key, a structure it does not follow); the caller then parses it whole.
bool ScanJsonInputData(const char* begin, const char* end, std::vector<std::size_t>* found);

}  // namespace tensorbind
