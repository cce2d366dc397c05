#include "npy.hpp"

#include <cstring>
#include <stdexcept>

namespace traccc::npy {

void write_raw(std::ostream& os, const char* descr, const std::vector<size_t>& shape, const void* data,
               size_t nbytes) {
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // Magic (6) + version (2) + header length (2) + dict + padding + '\n', a multiple of 64.
  const size_t total = 10 + dict.size() + 1;
  const size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  const uint16_t hlen = static_cast<uint16_t>(dict.size());
  os.write("\x93NUMPY\x01\x00", 8);
  const char lenb[2] = {static_cast<char>(hlen & 0xff), static_cast<char>(hlen >> 8)};
  os.write(lenb, 2);
  os.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  os.write(static_cast<const char*>(data), static_cast<std::streamsize>(nbytes));
}

size_t Header::count() const {
  size_t n = 1;
  for (size_t d : shape) n *= d;
  return n;
}

bool read_header(std::istream& is, Header* h) {
  char magic[8];
  is.read(magic, 8);
  if (is.gcount() == 0) return false;
  if (is.gcount() != 8 || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error("npy: bad magic");
  size_t hlen;
  if (magic[6] == 1) {
    unsigned char b[2];
    is.read(reinterpret_cast<char*>(b), 2);
    hlen = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    is.read(reinterpret_cast<char*>(b), 4);
    hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<size_t>(b[3]) << 24);
  }
  std::string dict(hlen, '\0');
  is.read(dict.data(), static_cast<std::streamsize>(hlen));
  if (!is) throw std::runtime_error("npy: truncated header");
  const auto d0 = dict.find("'descr':");
  const auto q0 = dict.find('\'', d0 + 8);
  const auto q1 = dict.find('\'', q0 + 1);
  if (d0 == std::string::npos || q0 == std::string::npos || q1 == std::string::npos)
    throw std::runtime_error("npy: no descr");
  h->descr = dict.substr(q0 + 1, q1 - q0 - 1);
  if (dict.find("'fortran_order': True") != std::string::npos) throw std::runtime_error("npy: fortran order");
  const auto s0 = dict.find('(', dict.find("'shape':"));
  const auto s1 = dict.find(')', s0);
  if (s0 == std::string::npos || s1 == std::string::npos) throw std::runtime_error("npy: no shape");
  h->shape.clear();
  std::string num;
  for (size_t i = s0 + 1; i <= s1; ++i) {
    const char c = dict[i];
    if (c >= '0' && c <= '9') {
      num += c;
    } else if (!num.empty()) {
      h->shape.push_back(std::stoull(num));
      num.clear();
    }
  }
  return true;
}

}  // namespace traccc::npy
