#include "json_numbers.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <system_error>
#include <type_traits>

namespace tensorbind {

bool JsonKindOf(const std::string& d, JsonKind* kind) {
  static const struct {
    const char* name;
    JsonKind kind;
  } kTable[] = {{"BOOL", JsonKind::kBool}, {"UINT8", JsonKind::kU8},  {"UINT16", JsonKind::kU16},
                {"UINT32", JsonKind::kU32}, {"UINT64", JsonKind::kU64}, {"INT8", JsonKind::kI8},
                {"INT16", JsonKind::kI16},  {"INT32", JsonKind::kI32},  {"INT64", JsonKind::kI64},
                {"FP32", JsonKind::kF32},   {"FP64", JsonKind::kF64}};
  for (const auto& e : kTable) {
    if (d == e.name) {
      *kind = e.kind;
      return true;
    }
  }
  return false;
}

std::size_t JsonKindSize(JsonKind kind) {
  switch (kind) {
    case JsonKind::kBool:
    case JsonKind::kU8:
    case JsonKind::kI8:
      return 1;
    case JsonKind::kU16:
    case JsonKind::kI16:
      return 2;
    case JsonKind::kU32:
    case JsonKind::kI32:
    case JsonKind::kF32:
      return 4;
    default:
      return 8;
  }
}

namespace {

template <typename T>
T Load(const std::uint8_t* data, std::size_t i) {
  T v;
  std::memcpy(&v, data + i * sizeof(T), sizeof(T));
  return v;
}

template <typename T>
void Store(std::uint8_t* out, std::size_t i, T v) {
  std::memcpy(out + i * sizeof(T), &v, sizeof(T));
}

// Writes a finite float as ECMAScript's Number::toString lays out its shortest digits, so the
// text matches what JavaScript prints for the same digits. Returns the end of the text.
template <typename F>
char* WriteFloat(char* p, F v) {
  if (v == 0) {
    if (std::signbit(v)) {
      std::memcpy(p, "-0.0", 4);
      return p + 4;
    }
    *p = '0';
    return p + 1;
  }
  if (v < 0) {
    *p++ = '-';
    v = -v;
  }
  // Shortest round-trip digits in scientific form: d[.ddd]e±XX.
  char sci[48];
  auto r = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  char digits[24];
  int k = 0;
  const char* s = sci;
  for (; s < r.ptr && *s != 'e'; ++s) {
    if (*s != '.') digits[k++] = *s;
  }
  int exp = 0;
  std::from_chars(s + 1 + (s[1] == '+' ? 1 : 0), r.ptr, exp);
  const int n = exp + 1;  // value = 0.d1..dk × 10^n
  if (k <= n && n <= 21) {
    std::memcpy(p, digits, k);
    p += k;
    for (int i = k; i < n; ++i) *p++ = '0';
  } else if (0 < n && n <= 21) {
    std::memcpy(p, digits, n);
    p += n;
    *p++ = '.';
    std::memcpy(p, digits + n, k - n);
    p += k - n;
  } else if (-6 < n && n <= 0) {
    *p++ = '0';
    *p++ = '.';
    for (int i = 0; i < -n; ++i) *p++ = '0';
    std::memcpy(p, digits, k);
    p += k;
  } else {
    *p++ = digits[0];
    if (k > 1) {
      *p++ = '.';
      std::memcpy(p, digits + 1, k - 1);
      p += k - 1;
    }
    *p++ = 'e';
    *p++ = n - 1 < 0 ? '-' : '+';
    p = std::to_chars(p, p + 8, n - 1 < 0 ? 1 - n : n - 1).ptr;
  }
  return p;
}

// The same text as WriteFloat, faster. Where ECMAScript lays the shortest digits out without an
// exponent (1e-6 <= |v| < 1e21; the float nearest a bound has that bound as its shortest digits),
// to_chars' shortest fixed form is that text while |v| < 2^mantissa bits (above, it writes the
// exact integer, not the shortest digits padded with zeros: WriteFloat lays those out); below
// 1e-6 its scientific form is, once an exponent below 10 loses its leading zero (e-07 -> e-7).
template <typename F>
char* WriteFloatFast(char* p, F v) {
  const F a = std::fabs(v);
  const F exact_integers = std::is_same<F, float>::value ? static_cast<F>(16777216.0) : static_cast<F>(9007199254740992.0);
  if (v == 0 || a >= exact_integers) return WriteFloat(p, v);
  if (a < static_cast<F>(1e-6)) {
    char* const end = std::to_chars(p, p + 40, v, std::chars_format::scientific).ptr;
    char* e = end - 1;
    while (*e != 'e') --e;
    if (e[2] == '0' && end - e == 4) {  // e±0d
      e[2] = e[3];
      return end - 1;
    }
    return end;
  }
  return std::to_chars(p, p + 40, v, std::chars_format::fixed).ptr;
}

template <typename F>
char* WriteJsonFloat(char* p, F v) {
  if (!std::isfinite(v)) {
    std::memcpy(p, "null", 4);
    return p + 4;
  }
  return WriteFloatFast(p, v);
}

template <typename T>
char* WriteInt(char* p, T v) {
  return std::to_chars(p, p + 24, v).ptr;
}

// Longest element text and its comma: FP64 "-0.00000" + 17 digits is 25, with room.
constexpr std::size_t kMaxElementChars = 32;

// Writes elements [begin, end) with the commas before them (none before element 0).
char* WriteElements(JsonKind kind, const std::uint8_t* data, std::size_t begin, std::size_t end, char* p) {
  for (std::size_t i = begin; i < end; ++i) {
    if (i > 0) *p++ = ',';
    switch (kind) {
      case JsonKind::kBool:
        if (data[i] != 0) {
          std::memcpy(p, "true", 4);
          p += 4;
        } else {
          std::memcpy(p, "false", 5);
          p += 5;
        }
        break;
      case JsonKind::kU8: p = WriteInt(p, Load<std::uint8_t>(data, i)); break;
      case JsonKind::kU16: p = WriteInt(p, Load<std::uint16_t>(data, i)); break;
      case JsonKind::kU32: p = WriteInt(p, Load<std::uint32_t>(data, i)); break;
      case JsonKind::kU64: p = WriteInt(p, Load<std::uint64_t>(data, i)); break;
      case JsonKind::kI8: p = WriteInt(p, Load<std::int8_t>(data, i)); break;
      case JsonKind::kI16: p = WriteInt(p, Load<std::int16_t>(data, i)); break;
      case JsonKind::kI32: p = WriteInt(p, Load<std::int32_t>(data, i)); break;
      case JsonKind::kI64: p = WriteInt(p, Load<std::int64_t>(data, i)); break;
      case JsonKind::kF32: p = WriteJsonFloat(p, Load<float>(data, i)); break;
      case JsonKind::kF64: p = WriteJsonFloat(p, Load<double>(data, i)); break;
    }
  }
  return p;
}

}  // namespace

bool JsonText::Reserve(std::size_t n) {
  if (n <= capacity) return true;
  std::size_t grown = capacity < 4096 ? 4096 : capacity;
  while (grown < n) grown *= 2;
  char* bigger = static_cast<char*>(std::realloc(data, grown));  // never zero-filled
  if (bigger == nullptr) return false;
  data = bigger;
  capacity = grown;
  return true;
}

JsonText::~JsonText() { std::free(data); }

bool FormatJsonArray(JsonKind kind, const std::uint8_t* data, std::size_t count, JsonText* out) {
  // Blocks of elements, each with room for its longest text: memory grows with the text written
  // (about 10 bytes a float), not with the worst case of 32 bytes an element.
  constexpr std::size_t kBlock = 8192;
  if (!out->Reserve(out->size + 2 + (count < kBlock ? count : kBlock) * kMaxElementChars)) return false;
  out->data[out->size++] = '[';
  for (std::size_t i = 0; i < count; i += kBlock) {
    const std::size_t end = i + kBlock < count ? i + kBlock : count;
    if (!out->Reserve(out->size + 1 + (end - i) * kMaxElementChars)) return false;
    out->size = static_cast<std::size_t>(WriteElements(kind, data, i, end, out->data + out->size) - out->data);
  }
  out->data[out->size++] = ']';
  return true;
}

namespace {

bool IsWs(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

const char* SkipWs(const char* p, const char* end) {
  while (p < end && IsWs(*p)) ++p;
  return p;
}

// One JSON number literal at p (strict grammar); its end, or nullptr. `integral`: no '.' or exponent.
const char* NumberEnd(const char* p, const char* end, bool* integral) {
  if (p < end && *p == '-') ++p;
  if (p >= end) return nullptr;
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && IsDigit(*p)) ++p;
  } else {
    return nullptr;
  }
  *integral = true;
  if (p < end && *p == '.') {
    *integral = false;
    ++p;
    if (p >= end || !IsDigit(*p)) return nullptr;
    while (p < end && IsDigit(*p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    *integral = false;
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p >= end || !IsDigit(*p)) return nullptr;
    while (p < end && IsDigit(*p)) ++p;
  }
  return p;
}

// Clinger's fast path: a literal of at most 15 significant digits and a power of ten up to 22
// is one correctly rounded multiplication or division, the value from_chars (and JSON.parse) gives.
bool FastDouble(const char* s, const char* e, double* x) {
  static const double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* p = s;
  const bool neg = *p == '-';
  if (neg) ++p;
  std::uint64_t m = 0;
  int digits = 0, exp10 = 0;
  for (; p < e && IsDigit(*p); ++p) {
    m = m * 10 + static_cast<std::uint64_t>(*p - '0');
    if (m != 0 && ++digits > 15) return false;
  }
  if (p < e && *p == '.') {
    for (++p; p < e && IsDigit(*p); ++p) {
      m = m * 10 + static_cast<std::uint64_t>(*p - '0');
      --exp10;
      if (m != 0 && ++digits > 15) return false;
    }
  }
  if (p < e) {  // exponent (the literal is validated already)
    ++p;
    const bool eneg = *p == '-';
    if (*p == '+' || *p == '-') ++p;
    int ev = 0;
    for (; p < e; ++p) {
      ev = ev * 10 + (*p - '0');
      if (ev > 1000) return false;
    }
    exp10 += eneg ? -ev : ev;
  }
  double v = static_cast<double>(m);
  if (m != 0) {
    if (exp10 < -22 || exp10 > 22) return false;
    v = exp10 < 0 ? v / kPow10[-exp10] : v * kPow10[exp10];
  }
  *x = neg ? -v : v;
  return true;
}

bool ToDouble(const char* s, const char* e, double* x) {
  if (FastDouble(s, e, x)) return true;
  auto r = std::from_chars(s, e, *x);
  return r.ec == std::errc() && r.ptr == e;
}

// An integer element's value within [lo, hi], as the JS path reads it: an integer literal
// exactly, any other literal through its double value, which must be a whole number.
bool ToInteger(const char* s, const char* e, bool integral, std::int64_t lo, std::uint64_t hi,
               std::int64_t* as_signed, std::uint64_t* as_unsigned) {
  if (integral) {
    if (*s == '-') {
      std::int64_t v;
      auto r = std::from_chars(s, e, v);
      if (r.ec != std::errc() || r.ptr != e || v < lo) return false;
      *as_signed = v;
      *as_unsigned = 0;  // only -0 passes for an unsigned type (lo 0)
      return true;
    }
    std::uint64_t v;
    auto r = std::from_chars(s, e, v);
    if (r.ec != std::errc() || r.ptr != e || v > hi) return false;
    *as_unsigned = v;
    *as_signed = static_cast<std::int64_t>(v);
    return true;
  }
  double x;
  if (!ToDouble(s, e, &x) || !std::isfinite(x) || std::trunc(x) != x) return false;
  // hi + 1 as a double is exact: 2^63 and 2^64 where hi itself rounds up to them.
  if (x < static_cast<double>(lo) || x >= static_cast<double>(hi) + 1.0) return false;
  if (x < 0) {
    *as_signed = static_cast<std::int64_t>(x);
    *as_unsigned = 0;
  } else {
    *as_unsigned = static_cast<std::uint64_t>(x);
    *as_signed = x < 9223372036854775808.0 ? static_cast<std::int64_t>(x) : 0;
  }
  return true;
}

// Reads one scalar at p into element n; its end, or nullptr when the JS path must decide.
const char* ParseElement(JsonKind kind, const char* p, const char* end, std::uint8_t* out, std::size_t n) {
  if (kind == JsonKind::kBool) {
    if (end - p >= 4 && std::memcmp(p, "true", 4) == 0) {
      out[n] = 1;
      return p + 4;
    }
    if (end - p >= 5 && std::memcmp(p, "false", 5) == 0) {
      out[n] = 0;
      return p + 5;
    }
  }
  bool integral = false;
  const char* e = NumberEnd(p, end, &integral);
  if (e == nullptr) return nullptr;
  double x = 0;
  std::int64_t si = 0;
  std::uint64_t ui = 0;
  switch (kind) {
    case JsonKind::kBool:
      if (!ToDouble(p, e, &x) || (x != 0 && x != 1)) return nullptr;
      out[n] = x == 1 ? 1 : 0;
      return e;
    case JsonKind::kF32: {
      if (!ToDouble(p, e, &x)) return nullptr;
      const float f = static_cast<float>(x);
      if (!std::isfinite(f)) return nullptr;
      Store(out, n, f);
      return e;
    }
    case JsonKind::kF64:
      if (!ToDouble(p, e, &x)) return nullptr;
      Store(out, n, x);
      return e;
    case JsonKind::kU8:
      if (!ToInteger(p, e, integral, 0, 255, &si, &ui)) return nullptr;
      Store(out, n, static_cast<std::uint8_t>(ui));
      return e;
    case JsonKind::kU16:
      if (!ToInteger(p, e, integral, 0, 65535, &si, &ui)) return nullptr;
      Store(out, n, static_cast<std::uint16_t>(ui));
      return e;
    case JsonKind::kU32:
      if (!ToInteger(p, e, integral, 0, 4294967295u, &si, &ui)) return nullptr;
      Store(out, n, static_cast<std::uint32_t>(ui));
      return e;
    case JsonKind::kU64:
      if (!ToInteger(p, e, integral, 0, UINT64_MAX, &si, &ui)) return nullptr;
      Store(out, n, ui);
      return e;
    case JsonKind::kI8:
      if (!ToInteger(p, e, integral, -128, 127, &si, &ui)) return nullptr;
      Store(out, n, static_cast<std::int8_t>(si));
      return e;
    case JsonKind::kI16:
      if (!ToInteger(p, e, integral, -32768, 32767, &si, &ui)) return nullptr;
      Store(out, n, static_cast<std::int16_t>(si));
      return e;
    case JsonKind::kI32:
      if (!ToInteger(p, e, integral, INT32_MIN, INT32_MAX, &si, &ui)) return nullptr;
      Store(out, n, static_cast<std::int32_t>(si));
      return e;
    case JsonKind::kI64:
      if (!ToInteger(p, e, integral, INT64_MIN, INT64_MAX, &si, &ui))
        return nullptr;
      Store(out, n, si);
      return e;
  }
  return nullptr;
}

}  // namespace

bool ParseJsonArray(JsonKind kind, const char* p, const char* end, std::size_t count, int max_depth,
                    std::uint8_t* out) {
  p = SkipWs(p, end);
  if (p >= end || *p != '[') return false;
  ++p;
  std::size_t n = 0;
  int depth = 0;
  bool expect_value = true, may_close = true, first_top = true, top_first_scalar = false, nested = false;
  for (;;) {
    p = SkipWs(p, end);
    if (p >= end) return false;
    const char c = *p;
    if (c == ']' && (!expect_value || may_close)) {
      ++p;
      if (depth == 0) break;
      --depth;
      expect_value = false;
      continue;
    }
    if (!expect_value) {
      if (c != ',') return false;
      ++p;
      expect_value = true;
      may_close = false;
      continue;
    }
    const bool at_top = depth == 0;
    if (c == '[') {
      if (depth + 1 > max_depth) return false;
      nested = true;
      ++depth;
      ++p;
      may_close = true;
    } else {
      if (at_top && first_top) top_first_scalar = true;
      if (n >= count) return false;
      p = ParseElement(kind, p, end, out, n);
      if (p == nullptr) return false;
      ++n;
      expect_value = false;
    }
    if (at_top) first_top = false;
  }
  // The JS path takes a top level of `count` scalars as flat without looking further, so a
  // mixture of scalars and lists is left to it.
  if (top_first_scalar && nested) return false;
  return SkipWs(p, end) == end && n == count;
}

namespace {

// The bytes SkipValue must look at; runs of others (number text, spaces) are passed over.
struct StructuralTable {
  bool is[256] = {};
  StructuralTable() {
    for (unsigned char c : {'"', '[', ']', '{', '}', ','}) is[c] = true;
  }
  bool operator[](unsigned char c) const { return is[c]; }
};
const StructuralTable kStructural;

// Skips one JSON value at p without validating it (the caller's JSON.parse does); nullptr at
// anything it cannot follow.
const char* SkipValue(const char* p, const char* end) {
  int depth = 0;
  while (p < end) {
    const char c = *p;
    if (c == '"') {
      ++p;
      while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;
      if (p >= end) return nullptr;
      ++p;
    } else if (c == '[' || c == '{') {
      ++depth;
      ++p;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return p;
      --depth;
      ++p;
    } else if (c == ',' && depth == 0) {
      return p;
    } else {
      ++p;
      while (p < end && !kStructural[static_cast<unsigned char>(*p)]) ++p;  // digits, mostly
    }
    if (depth == 0 && (c == '"' || c == ']' || c == '}')) return p;
  }
  return depth == 0 ? p : nullptr;
}

// A key at p (just past its opening quote); false when it has escapes (it could then spell
// "data" or "inputs" in a way a byte comparison misses).
bool ReadKey(const char*& p, const char* end, const char** key, std::size_t* len) {
  const char* s = p;
  while (p < end && *p != '"') {
    if (*p == '\\') return false;
    ++p;
  }
  if (p >= end) return false;
  *key = s;
  *len = static_cast<std::size_t>(p - s);
  ++p;
  return true;
}

bool KeyIs(const char* key, std::size_t len, const char* word) {
  return len == std::strlen(word) && std::memcmp(key, word, len) == 0;
}

// Walks an object at p ('{'), calling on_member(key, len, value_begin) for each member, which
// returns the value's end (or nullptr). Returns the end of the object, or nullptr.
template <typename OnMember>
const char* WalkObject(const char* p, const char* end, OnMember on_member) {
  ++p;
  p = SkipWs(p, end);
  if (p < end && *p == '}') return p + 1;
  for (;;) {
    p = SkipWs(p, end);
    if (p >= end || *p != '"') return nullptr;
    ++p;
    const char* key;
    std::size_t len;
    if (!ReadKey(p, end, &key, &len)) return nullptr;
    p = SkipWs(p, end);
    if (p >= end || *p != ':') return nullptr;
    p = SkipWs(p + 1, end);
    p = on_member(key, len, p);
    if (p == nullptr) return nullptr;
    p = SkipWs(p, end);
    if (p >= end) return nullptr;
    if (*p == '}') return p + 1;
    if (*p != ',') return nullptr;
    ++p;
  }
}

}  // namespace

bool ScanJsonInputData(const char* begin, const char* end, std::vector<std::size_t>* found) {
  const char* p = SkipWs(begin, end);
  if (p >= end || *p != '{') return false;
  bool saw_inputs = false;
  p = WalkObject(p, end, [&](const char* key, std::size_t len, const char* v) -> const char* {
    if (!KeyIs(key, len, "inputs")) return SkipValue(v, end);
    if (saw_inputs) return nullptr;  // JSON.parse keeps the last: leave that to it
    saw_inputs = true;
    if (v >= end || *v != '[') return SkipValue(v, end);
    // The inputs array: each element an object whose `data` is wanted.
    const char* q = SkipWs(v + 1, end);
    if (q < end && *q == ']') return q + 1;
    for (std::size_t index = 0;; ++index) {
      q = SkipWs(q, end);
      if (q >= end) return nullptr;
      if (*q == '{') {
        bool saw_data = false;
        q = WalkObject(q, end, [&](const char* k, std::size_t kl, const char* dv) -> const char* {
          if (!KeyIs(k, kl, "data")) return SkipValue(dv, end);
          if (saw_data) return nullptr;
          saw_data = true;
          // Not checked here: each array is read strictly later, and the caller takes any error
          // from its general path (which parses the whole text).
          const char* de = SkipValue(dv, end);
          if (de != nullptr && dv < end && *dv == '[') {
            found->push_back(index);
            found->push_back(static_cast<std::size_t>(dv - begin));
            found->push_back(static_cast<std::size_t>(de - begin));
          }
          return de;
        });
      } else {
        q = SkipValue(q, end);
      }
      if (q == nullptr) return nullptr;
      q = SkipWs(q, end);
      if (q >= end) return nullptr;
      if (*q == ']') return q + 1;
      if (*q != ',') return nullptr;
      ++q;
    }
  });
  return p != nullptr && SkipWs(p, end) == end;
}

}  // namespace tensorbind
