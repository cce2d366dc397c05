// NumPy .npy (format 1.0) for the three dtypes the event files use: <i8, <f4, <f8. An event
// stream is a plain concatenation of .npy blocks (each one says its own length), so numpy,
// the TypeScript client and this code read files and pipes the same way.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace traccc::npy {

template <class T>
struct Dtype;
template <>
struct Dtype<int64_t> {
  static constexpr const char* descr = "<i8";
};
template <>
struct Dtype<float> {
  static constexpr const char* descr = "<f4";
};
template <>
struct Dtype<double> {
  static constexpr const char* descr = "<f8";
};

void write_raw(std::ostream& os, const char* descr, const std::vector<size_t>& shape, const void* data,
               size_t nbytes);

template <class T>
void write(std::ostream& os, const std::vector<size_t>& shape, const std::vector<T>& data) {
  write_raw(os, Dtype<T>::descr, shape, data.data(), data.size() * sizeof(T));
}

struct Header {
  std::string descr;
  std::vector<size_t> shape;
  size_t count() const;
};

/** Reads one header; returns false at a clean end of stream, throws on a malformed one. */
bool read_header(std::istream& is, Header* h);

template <class T>
std::vector<T> read(std::istream& is, std::vector<size_t>* shape) {
  Header h;
  if (!read_header(is, &h)) throw std::runtime_error("npy: unexpected end of stream");
  if (h.descr != Dtype<T>::descr) throw std::runtime_error("npy: expected dtype " + std::string(Dtype<T>::descr) + ", got " + h.descr);
  std::vector<T> data(h.count());
  is.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(T)));
  if (!is) throw std::runtime_error("npy: truncated data");
  if (shape) *shape = h.shape;
  return data;
}

}  // namespace traccc::npy
