// profiles.cpp - the shared configuration file parser (see profiles.hpp).
#include "bucketfs/creds/profiles.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "files.hpp"

namespace bucketfs::creds {

namespace {

using detail::trim;

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '/' || c == '.' || c == '%' || c == '@' || c == ':' || c == '+';
    if (!ok) return false;
  }
  return true;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A value's inline comment: '#' or ';' preceded by whitespace.
std::string_view strip_value_comment(std::string_view v) {
  for (size_t i = 1; i < v.size(); ++i)
    if ((v[i] == '#' || v[i] == ';') && (v[i - 1] == ' ' || v[i - 1] == '\t')) return v.substr(0, i);
  return v;
}

// "profile" followed by whitespace and a name (config file).
bool profile_prefixed(std::string_view name, std::string_view* rest) {
  if (name.size() <= 7 || name.substr(0, 7) != "profile" || (name[7] != ' ' && name[7] != '\t')) return false;
  *rest = trim(name.substr(7));
  return true;
}

struct Section {
  enum Kind { None, Ignored, Profile, DefaultPlain, DefaultPrefixed, SsoSession, Services } kind = None;
  std::string name;
};

class FileParser {
 public:
  FileParser(FileKind kind, const std::string& file, ProfileSet* out) : kind_(kind), file_(file), out_(out) {}

  Result<void, std::string> run(std::string_view text) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      start = end + 1;
      ++line_no_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (auto r = one_line(line); !r) return r;
      if (end == text.size()) break;
    }
    finish();
    return {};
  }

 private:
  std::string error(const std::string& what) const {
    return file_ + " line " + std::to_string(line_no_) + ": " + what;
  }

  Result<void, std::string> one_line(std::string_view line) {
    std::string_view t = trim(line);
    if (t.empty()) return {};
    if (t[0] == '#' || t[0] == ';') return {};
    if (line[0] == ' ' || line[0] == '\t') return continuation(t);
    if (t[0] == '[') return section(t);
    return property(t);
  }

  Result<void, std::string> section(std::string_view t) {
    size_t close = t.find(']');
    if (close == std::string_view::npos) return error("a section header must end with ']'");
    std::string_view after = trim(t.substr(close + 1));
    if (!after.empty() && after[0] != '#' && after[0] != ';')
      return error("unexpected text after the section header");
    std::string_view name = trim(t.substr(1, close - 1));
    current_property_ = nullptr;
    section_ = Section{};
    std::string_view rest;
    if (kind_ == FileKind::Config) {
      if (name == "default") {
        section_ = {Section::DefaultPlain, "default"};
      } else if (profile_prefixed(name, &rest)) {
        section_ = {rest == "default" ? Section::DefaultPrefixed : Section::Profile, std::string(rest)};
      } else if (name.size() > 12 && name.substr(0, 12) == "sso-session ") {
        section_ = {Section::SsoSession, std::string(trim(name.substr(12)))};
      } else if (name.size() > 9 && name.substr(0, 9) == "services ") {
        section_ = {Section::Services, std::string(trim(name.substr(9)))};
      } else {
        section_ = {Section::Ignored, ""};  // "[foo]" in the config file is not a profile
      }
    } else {
      section_ = profile_prefixed(name, &rest) ? Section{Section::Ignored, ""}
                                               : Section{Section::Profile, std::string(name)};
    }
    if (section_.kind != Section::Ignored && !valid_name(section_.name)) section_ = {Section::Ignored, ""};
    // An empty section still defines its profile.
    switch (section_.kind) {
      case Section::DefaultPrefixed: saw_prefixed_default_ = true; [[fallthrough]];
      case Section::DefaultPlain: saw_default_ = true; break;
      case Section::Profile: out_->profiles[section_.name]; break;
      case Section::SsoSession: out_->sso_sessions[section_.name]; break;
      case Section::Services: out_->services[section_.name]; break;
      default: break;
    }
    return {};
  }

  Result<void, std::string> property(std::string_view t) {
    if (section_.kind == Section::None) return error("a property before any [section]");
    size_t eq = t.find('=');
    if (eq == std::string_view::npos) return error("expected 'name = value'");
    std::string_view name = trim(t.substr(0, eq));
    if (name.empty()) return error("a property without a name");
    std::string_view value = trim(strip_value_comment(trim(t.substr(eq + 1))));
    current_property_ = nullptr;
    sub_properties_ = value.empty();
    if (section_.kind == Section::Ignored || !valid_name(name)) {
      ignored_property_ = true;
      return {};
    }
    ignored_property_ = false;
    std::string& slot = target()[std::string(name)];
    slot = std::string(value);
    current_property_ = &slot;
    return {};
  }

  Result<void, std::string> continuation(std::string_view t) {
    if (section_.kind == Section::None) return error("a continuation line before any [section]");
    if (current_property_ == nullptr && !ignored_property_)
      return error("a continuation line (it starts with a space) without a property above it");
    if (sub_properties_) {
      size_t eq = t.find('=');
      if (eq == std::string_view::npos) return error("expected 'name = value' in a sub-property");
      if (trim(t.substr(0, eq)).empty()) return error("a sub-property without a name");
    }
    if (current_property_ != nullptr) {
      *current_property_ += '\n';
      *current_property_ += t;
    }
    return {};
  }

  std::map<std::string, std::string>& target() {
    switch (section_.kind) {
      case Section::DefaultPlain: return default_plain_;
      case Section::DefaultPrefixed: return default_prefixed_;
      case Section::SsoSession: return out_->sso_sessions[section_.name].properties;
      case Section::Services: return out_->services[section_.name].properties;
      default: return out_->profiles[section_.name].properties;
    }
  }

  void finish() {
    // In the config file "[profile default]" wins over "[default]" entirely.
    if (!saw_default_) return;
    const auto& chosen = saw_prefixed_default_ ? default_prefixed_ : default_plain_;
    auto& dst = out_->profiles["default"].properties;
    for (const auto& [k, v] : chosen) dst[k] = v;
  }

  FileKind kind_;
  std::string file_;
  ProfileSet* out_;
  size_t line_no_ = 0;
  Section section_;
  std::string* current_property_ = nullptr;
  bool ignored_property_ = false;
  bool sub_properties_ = false;
  std::map<std::string, std::string> default_plain_, default_prefixed_;
  bool saw_prefixed_default_ = false;
  bool saw_default_ = false;
};

Result<void, std::string> load_into(const std::string& path, FileKind kind, ProfileSet* set) {
  std::string text, error;
  switch (detail::read_small_file(path, "configuration file", &text, nullptr, &error)) {
    case detail::FileRead::Missing: return {};
    case detail::FileRead::Error: return error;
    case detail::FileRead::Ok: break;
  }
  auto r = parse_profile_file(text, kind, path, set);
  detail::wipe(&text);
  return r;
}

}  // namespace

std::optional<std::string> Profile::get(std::string_view name) const {
  auto it = properties.find(std::string(name));
  if (it != properties.end()) return it->second;
  for (const auto& [k, v] : properties)
    if (iequal(k, name)) return v;
  return std::nullopt;
}

const Profile* ProfileSet::find(const std::string& name) const {
  auto it = profiles.find(name);
  return it == profiles.end() ? nullptr : &it->second;
}

Result<void, std::string> parse_profile_file(std::string_view text, FileKind kind, const std::string& file_name,
                                             ProfileSet* out) {
  return FileParser(kind, file_name, out).run(text);
}

std::map<std::string, std::string> sub_properties(std::string_view block) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < block.size()) {
    size_t end = block.find('\n', start);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = trim(block.substr(start, end - start));
    start = end + 1;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    out[std::string(trim(line.substr(0, eq)))] = std::string(trim(line.substr(eq + 1)));
  }
  return out;
}

Result<ProfileSet, std::string> load_aws_profiles(const EnvLookup& env) {
  ProfileSet set;
  std::string home = env_value(env, "HOME");
  set.config_path = env_value(env, "AWS_CONFIG_FILE");
  if (set.config_path.empty()) set.config_path = home.empty() ? "" : home + "/.aws/config";
  set.credentials_path = env_value(env, "AWS_SHARED_CREDENTIALS_FILE");
  if (set.credentials_path.empty()) set.credentials_path = home.empty() ? "" : home + "/.aws/credentials";
  if (!set.config_path.empty())
    if (auto r = load_into(set.config_path, FileKind::Config, &set); !r) return r.error();
  if (!set.credentials_path.empty())
    if (auto r = load_into(set.credentials_path, FileKind::Credentials, &set); !r) return r.error();
  return set;
}

Result<ProfileSet, std::string> load_alibaba_profiles(const EnvLookup& env) {
  ProfileSet set;
  set.credentials_path = env_value(env, "ALIBABA_CLOUD_CREDENTIALS_FILE");
  if (set.credentials_path.empty()) {
    std::string home = env_value(env, "HOME");
    if (home.empty()) return set;
    set.credentials_path = home + "/.alibabacloud/credentials";
  }
  if (auto r = load_into(set.credentials_path, FileKind::Credentials, &set); !r) return r.error();
  // The ini library the Alibaba SDKs use strips quotes around a value.
  for (auto& [name, p] : set.profiles)
    for (auto& [k, v] : p.properties)
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
        v = v.substr(1, v.size() - 2);
  return set;
}

std::string aws_profile_name(const std::string& option, const EnvLookup& env) {
  if (!option.empty()) return option;
  std::string p = env_value(env, "AWS_PROFILE");
  if (p.empty()) p = env_value(env, "AWS_DEFAULT_PROFILE");
  return p.empty() ? "default" : p;
}

}  // namespace bucketfs::creds
