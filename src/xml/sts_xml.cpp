// sts_xml.cpp - see sts_xml.hpp. Elements are matched by local name, as in
// s3_xml.cpp (STS answers carry the https://sts.amazonaws.com/doc/2011-06-15/
// default namespace).
#include "bucketfs/xml/sts_xml.hpp"

#include <pugixml.hpp>

#include "guarded.hpp"

namespace bucketfs::xml {
namespace {

using detail::guarded;

bool named(pugi::xml_node n, std::string_view name) {
  if (n.type() != pugi::node_element) return false;
  std::string_view full(n.name());
  size_t colon = full.find(':');
  return (colon == std::string_view::npos ? full : full.substr(colon + 1)) == name;
}

pugi::xml_node child(pugi::xml_node parent, std::string_view name) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling())
    if (named(c, name)) return c;
  return {};
}

std::string text(pugi::xml_node parent, std::string_view name) { return child(parent, name).child_value(); }

pugi::xml_node load(pugi::xml_document& doc, std::string_view body) {
  if (!doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8)) return {};
  return doc.document_element();
}

}  // namespace

std::optional<StsCredentials> parse_sts_credentials(std::string_view body, std::string_view action) {
  return guarded([&]() -> std::optional<StsCredentials> {
    pugi::xml_document doc;
    pugi::xml_node root = load(doc, body);
    if (!root || !named(root, std::string(action) + "Response")) return std::nullopt;
    pugi::xml_node result = child(root, std::string(action) + "Result");
    pugi::xml_node c = child(result, "Credentials");
    StsCredentials out;
    out.access_key_id = text(c, "AccessKeyId");
    out.secret_access_key = text(c, "SecretAccessKey");
    out.session_token = text(c, "SessionToken");
    out.expiration = text(c, "Expiration");
    out.assumed_role_arn = text(child(result, "AssumedRoleUser"), "Arn");
    if (out.access_key_id.empty() || out.secret_access_key.empty()) return std::nullopt;
    return out;
  });
}

std::optional<StsError> parse_sts_error(std::string_view body) {
  return guarded([&]() -> std::optional<StsError> {
    pugi::xml_document doc;
    pugi::xml_node root = load(doc, body);
    pugi::xml_node e = named(root, "ErrorResponse") ? child(root, "Error")
                       : named(root, "Error")       ? root
                                                    : pugi::xml_node();
    if (!e) return std::nullopt;
    return StsError{text(e, "Type"), text(e, "Code"), text(e, "Message")};
  });
}

}  // namespace bucketfs::xml
