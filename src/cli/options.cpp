// options.cpp - parsing argv against the option table, defaults, --help (see options.hpp).
#include "bucketfs/cli/options.hpp"

#include "bucketfs/store/object_options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace bucketfs::cli {
namespace {

std::string normalize(std::string_view name) {
  std::string n(name);
  for (char& ch : n) {
    if (ch == '-') ch = '_';
  }
  return n;
}

bool same_name(const char* a, const std::string& normalized) { return normalize(a) == normalized; }

// Values of one kind, checked; error names the option.
Result<OptionValue, std::string> check_value(const OptionSpec& spec, const std::string& given,
                                             const std::string& text) {
  OptionValue v;
  v.text = text;
  auto bad = [&](const std::string& what) -> std::string {
    return "bad value '" + text + "' for option '" + given + "': " + what;
  };
  switch (spec.kind) {
    case OptionKind::Ignored: return v;
    case OptionKind::Flag:
      if (text.empty() || text == "1" || text == "yes" || text == "true" || text == "on") return v;
      if (text == "0" || text == "no" || text == "false" || text == "off") {
        v.flag = false;
        return v;
      }
      return bad("expected no value, or one of 1/0 yes/no true/false on/off");
    case OptionKind::Int: {
      if (text.empty()) return "option '" + given + "' needs a number";
      errno = 0;
      char* end = nullptr;
      long long n = std::strtoll(text.c_str(), &end, 10);
      if (errno != 0 || *end != '\0' || text[0] == ' ' || text[0] == '+') return bad("not a whole number");
      if (spec.max > spec.min && (n < spec.min || n > spec.max)) {
        return bad("must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max));
      }
      v.number = n;
      return v;
    }
    case OptionKind::Double: {
      if (text.empty()) return "option '" + given + "' needs a number";
      errno = 0;
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (errno != 0 || *end != '\0' || !std::isfinite(d) || text[0] == ' ') return bad("not a number");
      if (spec.max > spec.min && (d < static_cast<double>(spec.min) || d > static_cast<double>(spec.max))) {
        return bad("must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max));
      }
      v.real = d;
      return v;
    }
    case OptionKind::Octal: {
      if (text.empty()) return "option '" + given + "' needs an octal number";
      long long n = 0;
      for (char ch : text) {
        if (ch < '0' || ch > '7') return bad("not an octal number (digits 0-7, e.g. 022)");
        n = n * 8 + (ch - '0');
        if (n > spec.max) break;
      }
      if (n > spec.max) return bad("must be at most 0777");
      v.number = n;
      return v;
    }
    case OptionKind::String:
      if (text.empty()) return "option '" + given + "' needs a value";
      return v;
    case OptionKind::Enum:
      for (const char* c : spec.choices) {
        if (text == c) return v;
      }
      {
        std::string list;
        for (const char* c : spec.choices) list += (list.empty() ? "" : ", ") + std::string(c);
        return bad("expected one of " + list);
      }
  }
  return bad("unsupported");
}

bool takes_value(OptionKind k) { return k != OptionKind::Flag && k != OptionKind::Ignored; }

// "(see bucketfs --help)" or "(see bucketfs status --help)".
std::string see_help(CommandKind kind) {
  return kind == CommandKind::Mount ? "(see bucketfs --help)"
                                    : std::string("(see bucketfs ") + command_name(kind) + " --help)";
}

// Applies one option occurrence for the command kind. given is the spelling
// the user typed (for errors).
Result<void, std::string> apply_option(CommandKind kind, const std::string& given, const std::string& name,
                                       const std::optional<std::string>& value, Command* cmd) {
  const bool mount_like = (command_bit(kind) & kMountOptions) != 0;
  // fstab/systemd decorations: "x-systemd.automount", "x-gvfs-show", "comment=...".
  if (mount_like && (name.rfind("x-", 0) == 0 || name == "comment")) {
    cmd->ignored.push_back(given);
    return {};
  }
  const OptionSpec* spec = find_option(name);
  if (spec == nullptr || (spec->commands & command_bit(kind)) == 0)
    return "unknown option '" + given + "' " + see_help(kind);
  if (spec->kind == OptionKind::Ignored) {
    cmd->ignored.push_back(given);
    return {};
  }
  if (takes_value(spec->kind) && !value) return "option '" + given + "' needs a value (" + given + "=VALUE)";
  auto v = check_value(*spec, given, value.value_or(""));
  if (!v) return v.error();
  spec->apply(cmd->config, *v);
  return {};
}

// "-o a=b,c" list; a backslash escapes a comma.
Result<void, std::string> apply_o_list(CommandKind kind, const std::string& list, Command* cmd) {
  std::vector<std::string> items(1);
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == '\\' && i + 1 < list.size()) {
      items.back() += list[++i];
    } else if (list[i] == ',') {
      items.emplace_back();
    } else {
      items.back() += list[i];
    }
  }
  for (const std::string& item : items) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string name = item.substr(0, eq);
    std::optional<std::string> value;
    if (eq != std::string::npos) value = item.substr(eq + 1);
    auto r = apply_option(kind, name, name, value, cmd);
    if (!r) return r;
  }
  return {};
}

// "--name", "--name=value" or "--name value" (then *i moves past the value).
Result<void, std::string> apply_long(CommandKind kind, const std::vector<std::string>& argv, size_t* i,
                                     Command* cmd) {
  const std::string& a = argv[*i];
  auto eq = a.find('=');
  std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  std::optional<std::string> value;
  if (eq != std::string::npos) {
    value = a.substr(eq + 1);
  } else if (const OptionSpec* s = find_option(name);
             s != nullptr && (s->commands & command_bit(kind)) != 0 && takes_value(s->kind)) {
    if (*i + 1 >= argv.size()) return "option '" + a + "' needs a value (" + a + " VALUE)";
    value = argv[++*i];
  }
  return apply_option(kind, a.substr(0, eq), name, value, cmd);
}

// Short flags, possibly grouped: -f, -d, -fd.
Result<void, std::string> apply_short(CommandKind kind, const std::string& a, Command* cmd) {
  for (size_t k = 1; k < a.size(); ++k) {
    const OptionSpec* found = nullptr;
    for (const OptionSpec& s : option_table()) {
      if (s.short_name != 0 && s.short_name == a[k] && (s.commands & command_bit(kind)) != 0) found = &s;
    }
    if (found == nullptr) return "unknown option '" + a + "' " + see_help(kind);
    found->apply(cmd->config, OptionValue{});
  }
  return {};
}

// What scan_args() saw besides options.
struct Scan {
  std::vector<std::string> operands;
  bool help = false;
  bool version = false;  // the mount only: -V, --version
};

// Parses argv[start..] against the rows the command kind takes: options go
// to cmd, the other words to out->operands. Stops at -h/--help (and, for the
// mount, at -V/--version).
Result<void, std::string> scan_args(CommandKind kind, const std::vector<std::string>& argv, size_t start,
                                    Command* cmd, Scan* out) {
  bool only_operands = false;
  for (size_t i = start; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    Result<void, std::string> r;
    if (only_operands || a.size() < 2 || a[0] != '-') {
      out->operands.push_back(a);
    } else if (a == "--") {
      only_operands = true;
    } else if (a == "-h" || a == "--help") {
      out->help = true;
      return {};
    } else if (kind == CommandKind::Mount && (a == "-V" || a == "--version")) {
      out->version = true;
      return {};
    } else if (a == "-o") {
      if (i + 1 >= argv.size()) return std::string("option '-o' needs a list (-o name=value[,name...])");
      r = apply_o_list(kind, argv[++i], cmd);
    } else if (a.rfind("-o", 0) == 0) {
      r = apply_o_list(kind, a.substr(2), cmd);
    } else if (a.rfind("--", 0) == 0) {
      r = apply_long(kind, argv, &i, cmd);
    } else {
      r = apply_short(kind, a, cmd);
    }
    if (!r) return r;
  }
  return {};
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string metavar(const OptionSpec& s) {
  switch (s.kind) {
    case OptionKind::Int: return "N";
    case OptionKind::Double: return "SECONDS";
    case OptionKind::Octal: return "OCTAL";
    case OptionKind::Enum: {
      std::string m;
      for (const char* c : s.choices) m += (m.empty() ? "" : "|") + std::string(c);
      return m;
    }
    default: return "VALUE";
  }
}

// Word-wraps text at width columns, each line starting with indent.
std::string wrap(const std::string& text, const std::string& indent, size_t width) {
  std::string out, line = indent;
  std::istringstream words(text);
  std::string w;
  while (words >> w) {
    if (line.size() > indent.size() && line.size() + 1 + w.size() > width) {
      out += line + "\n";
      line = indent;
    }
    line += (line.size() > indent.size() ? " " : "") + w;
  }
  return out + line + "\n";
}

}  // namespace

const OptionSpec* find_option(std::string_view name) {
  std::string n = normalize(name);
  for (const OptionSpec& s : option_table()) {
    if (same_name(s.name, n)) return &s;
    for (const char* a : s.aliases) {
      if (same_name(a, n)) return &s;
    }
  }
  return nullptr;
}

Result<void, std::string> parse_bucket_spec(const std::string& spec, MountConfig* cfg) {
  auto colon = spec.find(':');
  std::string bucket = spec.substr(0, colon);
  std::string prefix = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (bucket.empty()) return "missing bucket name in '" + spec + "' (expected BUCKET or BUCKET:/PREFIX)";
  if (bucket.find('/') != std::string::npos) {
    return "bad bucket name '" + bucket + "': it contains '/' (for a prefix write BUCKET:/PREFIX)";
  }
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!prefix.empty()) {
    std::stringstream ss(prefix);
    std::string part;
    while (std::getline(ss, part, '/')) {
      if (part.empty() || part == "." || part == "..") {
        return "bad prefix '" + prefix + "' in '" + spec + "': empty, '.' or '..' path component";
      }
    }
    prefix += '/';
  }
  cfg->bucket = bucket;
  cfg->prefix = prefix;
  return {};
}

unsigned command_bit(CommandKind kind) {
  switch (kind) {
    case CommandKind::Mount: return kForMount;
    case CommandKind::Uploads: return kForUploads;
    case CommandKind::Status: return kForStatus;
    case CommandKind::Recover: return kForRecover;
    case CommandKind::Retry: return kForRetry;
    case CommandKind::Help:
    case CommandKind::Version: return 0;
  }
  return 0;
}

const char* command_name(CommandKind kind) {
  switch (kind) {
    case CommandKind::Mount: return "mount";
    case CommandKind::Uploads: return "uploads";
    case CommandKind::Status: return "status";
    case CommandKind::Recover: return "recover";
    case CommandKind::Retry: return "retry";
    case CommandKind::Help: return "help";
    case CommandKind::Version: return "version";
  }
  return "?";
}

namespace {

// The two operands of a mount, BUCKET[:/PREFIX] and MOUNTPOINT, into cfg.
Result<void, std::string> take_mount_operands(const std::vector<std::string>& positional, MountConfig* cfg) {
  if (positional.empty()) return "missing BUCKET and MOUNTPOINT (usage: " + usage_line() + ")";
  if (positional.size() == 1) {
    std::string msg = "missing MOUNTPOINT after '" + positional[0] + "' (usage: " + usage_line() + ")";
    if (positional[0].find_first_of(":/.") == std::string::npos) {
      msg +=
          "; if '" + positional[0] + "' was meant as a command, the commands are mount, status, recover, uploads";
    }
    return msg;
  }
  if (positional.size() > 2) return "unexpected argument '" + positional[2] + "' (usage: " + usage_line() + ")";
  auto b = parse_bucket_spec(positional[0], cfg);
  if (!b) return b.error();
  cfg->mountpoint = positional[1];
  return {};
}

}  // namespace

Result<Command, std::string> parse_command_line(const std::vector<std::string>& argv) {
  Command cmd;
  size_t i = 1;
  if (i < argv.size()) {
    const std::string& first = argv[i];
    if (first == "mount") {
      ++i;
    } else if (first == "status" || first == "recover" || first == "uploads" || first == "retry") {
      cmd.kind = first == "status"    ? CommandKind::Status
                 : first == "recover" ? CommandKind::Recover
                 : first == "retry"   ? CommandKind::Retry
                                      : CommandKind::Uploads;
      cmd.sub_args.assign(argv.begin() + 2, argv.end());
      return cmd;
    } else if (first == "help") {
      cmd.kind = CommandKind::Help;
      return cmd;
    } else if (first == "version") {
      cmd.kind = CommandKind::Version;
      return cmd;
    }
  }
  Scan scan;
  if (auto r = scan_args(CommandKind::Mount, argv, i, &cmd, &scan); !r) return r.error();
  if (scan.help || scan.version) {
    cmd.kind = scan.help ? CommandKind::Help : CommandKind::Version;
    return cmd;
  }
  if (auto r = take_mount_operands(scan.operands, &cmd.config); !r) return r.error();
  return cmd;
}

Result<Command, std::string> parse_subcommand(CommandKind kind, const std::vector<std::string>& args) {
  Command cmd;
  cmd.kind = kind;
  Scan scan;
  if (auto r = scan_args(kind, args, 0, &cmd, &scan); !r) return r.error();
  cmd.help = scan.help;
  cmd.operands = std::move(scan.operands);
  return cmd;
}

std::optional<std::string> default_cache_dir(const std::string& home, bool is_root) {
  if (is_root) return std::string("/var/cache/bucketfs");
  if (!home.empty()) return home + "/.cache/bucketfs";
  return std::nullopt;
}

std::string endpoint_host(const std::string& endpoint) {
  std::string rest = endpoint;
  auto scheme = rest.find("://");
  if (scheme != std::string::npos) rest = rest.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  auto at = rest.rfind('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') return rest.substr(0, rest.find(']') + 1);
  return rest.substr(0, rest.find(':'));
}

Provider guess_provider(const std::string& endpoint) {
  std::string host = endpoint_host(endpoint);
  return ends_with(host, "aliyuncs.com") ? Provider::OSS : Provider::S3;
}

Result<void, std::string> resolve_defaults(MountConfig* cfg, const std::string& home, bool is_root) {
  if (!cfg->provider) cfg->provider = cfg->endpoint.empty() ? Provider::S3 : guess_provider(cfg->endpoint);
  const bool oss = *cfg->provider == Provider::OSS;
  if (cfg->endpoint.empty()) {
    if (oss) {
      if (cfg->region.empty()) return std::string("provider=oss needs endpoint=URL or region=REGION");
      cfg->endpoint = "https://oss-" + cfg->region + ".aliyuncs.com";
    } else {
      if (cfg->region.empty()) cfg->region = "us-east-1";
      cfg->endpoint =
          cfg->region == "us-east-1" ? "https://s3.amazonaws.com" : "https://s3." + cfg->region + ".amazonaws.com";
    }
  }
  if (cfg->endpoint.find("://") == std::string::npos) cfg->endpoint = "https://" + cfg->endpoint;
  if (cfg->endpoint.rfind("http://", 0) != 0 && cfg->endpoint.rfind("https://", 0) != 0) {
    return "bad endpoint '" + cfg->endpoint + "': the scheme must be http:// or https://";
  }
  while (ends_with(cfg->endpoint, "/")) cfg->endpoint.pop_back();
  const std::string host = endpoint_host(cfg->endpoint);
  if (host.empty()) return "bad endpoint '" + cfg->endpoint + "': no host";
  if (!oss && cfg->region.empty()) cfg->region = "us-east-1";

  if (!cfg->sig_version) cfg->sig_version = 4;
  const int sv = *cfg->sig_version;
  if (oss && sv != 1 && sv != 4)
    return "sigv=" + std::to_string(sv) + " is not valid for provider oss (use 1 or 4)";
  if (!oss && sv != 2 && sv != 4)
    return "sigv=" + std::to_string(sv) + " is not valid for provider s3 (use 2 or 4)";

  if (!cfg->path_style) cfg->path_style = !(ends_with(host, "amazonaws.com") || ends_with(host, "aliyuncs.com"));

  if (!cfg->default_permissions) cfg->default_permissions = cfg->allow_other;
  const store::Dialect dialect = oss ? store::Dialect::OSS : store::Dialect::S3;
  if (!cfg->sse.empty()) {
    if (auto e = store::parse_sse(cfg->sse, dialect); !e) return e.error();
    if (!cfg->sse_c_key_file.empty()) return std::string("give sse= or sse_c_key_file=, not both");
  }
  if (!cfg->sse_c_key_file.empty() && oss)
    return std::string("sse_c_key_file= is for S3; OSS has no SSE-C (use sse=KMS)");
  if (!cfg->storage_class.empty())
    if (auto r = store::check_storage_class(cfg->storage_class); !r) return r.error();
  if (oss && (cfg->checksum == "crc32c" || cfg->checksum == "crc64nvme"))
    return "checksum=" + cfg->checksum + " is for S3; OSS uploads always carry CRC-64 (use auto or md5)";

  if (cfg->cache_dir.empty()) {
    auto d = default_cache_dir(home, is_root);
    if (!d) return std::string(kNoCacheDir);
    cfg->cache_dir = *d;
  }
  return {};
}

std::string usage_line() { return "bucketfs [mount] BUCKET[:/PREFIX] MOUNTPOINT [-o opt[,opt...]] [--opt value]"; }

std::string help_text() {
  std::ostringstream os;
  os << "usage: " << usage_line() << "\n"
     << "       bucketfs --help | --version\n\n"
     << "Mounts an S3 or OSS bucket (or a prefix inside it) at MOUNTPOINT. Every option can be\n"
     << "given as -o name[=value] (as in fstab) or as --name [value]; '-' and '_' are interchangeable.\n\n"
     << "Options:\n";
  std::string ignored;
  for (const OptionSpec& s : option_table()) {
    if ((s.commands & kForMount) == 0) continue;  // a subcommand's own
    if (s.kind == OptionKind::Ignored) {
      ignored += (ignored.empty() ? "" : ", ") + std::string(s.name);
      continue;
    }
    std::string line = "  ";
    if (s.short_name != 0) line += std::string("-") + s.short_name + ", ";
    line += "-o " + std::string(s.name);
    if (takes_value(s.kind)) line += "=" + metavar(s);
    std::string long_name = s.name;
    for (char& ch : long_name) {
      if (ch == '_') ch = '-';
    }
    line += ", --" + long_name;
    if (takes_value(s.kind)) line += " " + metavar(s);
    os << line << "\n";
    std::string text = s.help;
    if (s.default_text != nullptr) text += std::string(" (default: ") + s.default_text + ")";
    os << wrap(text, "      ", 100);
    if (!s.aliases.empty()) {
      os << "      also spelled:";
      for (const char* a : s.aliases) os << " " << a;
      os << "\n";
    }
  }
  os << "  -h, --help\n      Show this help and exit\n"
     << "  -V, --version\n      Show the version and exit\n\n"
     << wrap("Accepted from fstab/mount and ignored: " + ignored + ", x-*, comment=...", "", 100) << "\n"
     << "Credentials: the first source that has them, in the AWS SDKs' order (oss: the Alibaba Cloud\n"
     << "SDKs'): the environment, passwd files, profiles (~/.aws, ~/.alibabacloud, ~/.aliyun), web\n"
     << "identity / OIDC, container credentials, instance metadata; credentials= picks one. Temporary\n"
     << "credentials are refreshed before they expire. See CREDENTIALS in bucketfs(1).\n"
     << "Unmount with: fusermount3 -u MOUNTPOINT\n";
  return os.str();
}

std::string subcommand_options_help(CommandKind kind) {
  std::ostringstream os;
  for (const OptionSpec& s : option_table()) {
    if ((s.commands & command_bit(kind)) == 0 || (kind == CommandKind::Uploads && (s.commands & kForMount) != 0))
      continue;
    std::string long_name = s.name;
    for (char& ch : long_name) {
      if (ch == '_') ch = '-';
    }
    os << "  --" << long_name << (takes_value(s.kind) ? " " + metavar(s) : "") << "\n";
    std::string text = s.help;
    if (s.default_text != nullptr) text += std::string(" (default: ") + s.default_text + ")";
    os << wrap(text, "      ", 100);
  }
  os << "  -h, --help\n      Show this help and exit\n";
  return os.str();
}

}  // namespace bucketfs::cli
