// json.cpp - see json.hpp. A recursive-descent parser over a string_view.
#include "bucketfs/util/json.hpp"

#include <cstdlib>

namespace bucketfs::json {

namespace {

void wipe(std::string& s) {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
}

constexpr int kMaxDepth = 64;

}  // namespace

Value::~Value() {
  wipe(string_);
  for (auto& m : members_) wipe(m.first);
}

const Value* Value::get(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  // The last duplicate wins, as most parsers do.
  for (auto it = members_.rbegin(); it != members_.rend(); ++it)
    if (it->first == key) return &it->second;
  return nullptr;
}

std::string Value::string_at(std::string_view key) const {
  const Value* v = get(key);
  return v != nullptr && v->is_string() ? v->as_string() : std::string();
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<Value, std::string> document() {
    Value v;
    skip_ws();
    if (!value(&v, 0)) return error_;
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected data after the document");
    return v;
  }

 private:
  std::string fail(const std::string& what) {
    if (error_.empty()) error_ = "malformed JSON at byte " + std::to_string(pos_) + ": " + what;
    return error_;
  }
  bool failed(const std::string& what) {
    fail(what);
    return false;
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }

  // Consumes c when it is next.
  bool eat(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return failed("unknown literal");
    pos_ += word.size();
    return true;
  }

  bool value(Value* out, int depth) {
    if (depth > kMaxDepth) return failed("nested too deeply");
    if (pos_ >= s_.size()) return failed("unexpected end");
    char c = s_[pos_];
    switch (c) {
      case '{': return object(out, depth);
      case '[': return array(out, depth);
      case '"': out->type_ = Value::Type::String; return string(&out->string_);
      case 't':
        out->type_ = Value::Type::Bool;
        out->boolean_ = true;
        return literal("true");
      case 'f':
        out->type_ = Value::Type::Bool;
        out->boolean_ = false;
        return literal("false");
      case 'n': out->type_ = Value::Type::Null; return literal("null");
      default: return number(out);
    }
  }

  bool object(Value* out, int depth) {
    out->type_ = Value::Type::Object;
    return elements('}', [&] {
      if (pos_ >= s_.size() || s_[pos_] != '"') return failed("expected a member name");
      std::pair<std::string, Value> m;
      if (!string(&m.first)) return false;
      skip_ws();
      if (!eat(':')) return failed("expected ':'");
      skip_ws();
      if (!value(&m.second, depth + 1)) return false;
      out->members_.push_back(std::move(m));
      return true;
    });
  }

  bool array(Value* out, int depth) {
    out->type_ = Value::Type::Array;
    return elements(']', [&] {
      Value item;
      if (!value(&item, depth + 1)) return false;
      out->items_.push_back(std::move(item));
      return true;
    });
  }

  // The ','-separated elements of an object or array, from its opening
  // character up to `close`, each read by element().
  template <class Element>
  bool elements(char close, Element element) {
    ++pos_;  // '{' or '['
    skip_ws();
    if (eat(close)) return true;
    for (;;) {
      skip_ws();
      if (!element()) return false;
      skip_ws();
      if (eat(',')) continue;
      if (eat(close)) return true;
      return failed(std::string("expected ',' or '") + close + "'");
    }
  }

  static void put_utf8(std::string* out, unsigned cp) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(unsigned* out) {
    if (pos_ + 4 > s_.size()) return failed("short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        return failed("bad \\u escape");
    }
    *out = v;
    return true;
  }

  bool string(std::string* out) {
    ++pos_;  // '"'
    for (;;) {
      if (pos_ >= s_.size()) return failed("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return failed("control character in a string");
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= s_.size()) return failed("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate needs its low half
            unsigned lo = 0;
            if (s_.substr(pos_, 2) != "\\u") return failed("lone surrogate");
            pos_ += 2;
            if (!hex4(&lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return failed("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return failed("lone surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default: return failed("unknown escape");
      }
    }
  }

  bool number(Value* out) {
    size_t start = pos_;
    eat('-');
    auto digits = [&] {
      size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > d;
    };
    if (!digits()) return failed("expected a value");
    if (eat('.')) {
      if (!digits()) return failed("bad number");
    }
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (!digits()) return failed("bad number");
    }
    std::string text(s_.substr(start, pos_ - start));
    out->type_ = Value::Type::Number;
    out->number_ = std::strtod(text.c_str(), nullptr);
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

Result<Value, std::string> parse(std::string_view text) { return Parser(text).document(); }

}  // namespace bucketfs::json
