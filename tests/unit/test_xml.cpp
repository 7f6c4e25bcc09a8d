// test_xml.cpp - S3/OSS XML parsing against response samples in the shape the
// S3 API reference, Alibaba OSS and Ceph RGW send them.
//
// Parse results live in a fixture-owned State so that a failing assertion
// (cmocka longjmps) skips no destructor in the test's own frame.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
// Debian's cmocka 1.1.5 header has no extern "C" guard of its own.
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <optional>
#include <string>

#include "bucketfs/xml/s3_xml.hpp"

using namespace bucketfs::xml;

namespace {

struct State {
  std::optional<ListResult> list;
  std::optional<ErrorBody> error;
  std::optional<std::string> str;
  std::optional<ListPartsResult> parts;
  std::optional<ListUploadsResult> uploads;
  std::string body;
};

int setup(void** state) {
  *state = new State;
  return 0;
}

int teardown(void** state) {
  delete static_cast<State*>(*state);
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

// ListObjectsV2, S3 reference example shape, namespaced, one page complete.
const char kListV2[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>example-bucket</Name>
    <Prefix></Prefix>
    <KeyCount>2</KeyCount>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Contents>
        <Key>my-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
    <Contents>
        <Key>big/file.bin</Key>
        <LastModified>2023-01-02T03:04:05.000Z</LastModified>
        <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
        <Size>47244640256</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
</ListBucketResult>)";

void list_v2_plain(void** state) {
  State* s = st(state);
  s->list = parse_list_objects(kListV2);
  assert_true(s->list.has_value());
  assert_int_equal(s->list->contents.size(), 2);
  assert_string_equal(s->list->contents[0].key.c_str(), "my-image.jpg");
  assert_int_equal(s->list->contents[0].size, 434234);
  assert_string_equal(s->list->contents[0].etag.c_str(), "\"fba9dede5f27731c9771645a39863328\"");
  assert_string_equal(s->list->contents[0].last_modified.c_str(), "2009-10-12T17:50:30.000Z");
  assert_string_equal(s->list->contents[1].key.c_str(), "big/file.bin");
  assert_true(s->list->contents[1].size == 47244640256ull);  // over 32 bits
  assert_true(s->list->common_prefixes.empty());
  assert_false(s->list->is_truncated);
  assert_int_equal(s->list->key_count, 2);
  assert_true(s->list->next_continuation_token.empty());
}

// Delimiter listing with CommonPrefixes, truncated, with a continuation token.
const char kListV2Truncated[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>example-bucket</Name>
  <Prefix>photos/2006/</Prefix>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <KeyCount>3</KeyCount>
  <MaxKeys>3</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>photos/2006/index.html</Key>
    <LastModified>2006-01-01T12:00:00.000Z</LastModified>
    <ETag>"ce1acdafcc879d7eee54cf4e97334078"</ETag>
    <Size>1234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes>
    <Prefix>photos/2006/February/</Prefix>
  </CommonPrefixes>
  <CommonPrefixes>
    <Prefix>photos/2006/January/</Prefix>
  </CommonPrefixes>
</ListBucketResult>)";

void list_v2_prefixes_truncated(void** state) {
  State* s = st(state);
  s->list = parse_list_objects(kListV2Truncated);
  assert_true(s->list.has_value());
  assert_int_equal(s->list->contents.size(), 1);
  assert_int_equal(s->list->common_prefixes.size(), 2);
  assert_string_equal(s->list->common_prefixes[0].c_str(), "photos/2006/February/");
  assert_string_equal(s->list->common_prefixes[1].c_str(), "photos/2006/January/");
  assert_true(s->list->is_truncated);
  assert_string_equal(s->list->next_continuation_token.c_str(), "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  assert_int_equal(s->list->key_count, 3);
}

// ListObjects V1 as OSS sends it: no namespace, NextMarker, no KeyCount.
const char kListV1Oss[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult>
  <Name>examplebucket</Name>
  <Prefix>fun/</Prefix>
  <Marker></Marker>
  <MaxKeys>2</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <NextMarker>fun/test.jpg</NextMarker>
  <Contents>
    <Key>fun/movie/001.avi</Key>
    <LastModified>2012-02-24T08:43:07.000Z</LastModified>
    <ETag>"5B3C1A2E053D763E1B002CC607C5A0FE1****"</ETag>
    <Type>Normal</Type>
    <Size>344606</Size>
    <StorageClass>Standard</StorageClass>
    <Owner>
      <ID>0022012****</ID>
      <DisplayName>user-example</DisplayName>
    </Owner>
  </Contents>
  <CommonPrefixes>
    <Prefix>fun/movie/</Prefix>
  </CommonPrefixes>
</ListBucketResult>)";

void list_v1_next_marker(void** state) {
  State* s = st(state);
  s->list = parse_list_objects(kListV1Oss);
  assert_true(s->list.has_value());
  assert_true(s->list->is_truncated);
  assert_string_equal(s->list->next_marker.c_str(), "fun/test.jpg");
  assert_true(s->list->next_continuation_token.empty());
  assert_int_equal(s->list->contents.size(), 1);
  assert_string_equal(s->list->contents[0].key.c_str(), "fun/movie/001.avi");
  assert_int_equal(s->list->contents[0].size, 344606);
  assert_string_equal(s->list->common_prefixes[0].c_str(), "fun/movie/");
  assert_int_equal(s->list->key_count, 2);  // derived: 1 key + 1 prefix
}

void list_empty(void** state) {
  State* s = st(state);
  s->list = parse_list_objects(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>nothing/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated></ListBucketResult>)");
  assert_true(s->list.has_value());
  assert_true(s->list->contents.empty());
  assert_true(s->list->common_prefixes.empty());
  assert_false(s->list->is_truncated);
  assert_int_equal(s->list->key_count, 0);
}

// Entities decode; UTF-8 passes through; a key of only spaces survives.
void list_entities_utf8(void** state) {
  State* s = st(state);
  s->list = parse_list_objects(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>
<Contents><Key>a&amp;b&lt;c&gt;&quot;d&apos;.txt</Key><Size>1</Size><ETag>&quot;e1&quot;</ETag></Contents>
<Contents><Key>日本語/café ñ.txt</Key><Size>2</Size></Contents>
<Contents><Key> lead and trail </Key><Size>3</Size></Contents>
<Contents><Key>   </Key><Size>4</Size></Contents>
<CommonPrefixes><Prefix>R&amp;D/</Prefix></CommonPrefixes></ListBucketResult>)");
  assert_true(s->list.has_value());
  assert_int_equal(s->list->contents.size(), 4);
  assert_string_equal(s->list->contents[0].key.c_str(), "a&b<c>\"d'.txt");
  assert_string_equal(s->list->contents[0].etag.c_str(), "\"e1\"");
  assert_string_equal(s->list->contents[1].key.c_str(),
                      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/caf\xc3\xa9 \xc3\xb1.txt");
  assert_string_equal(s->list->contents[2].key.c_str(), " lead and trail ");
  assert_string_equal(s->list->contents[3].key.c_str(), "   ");
  assert_string_equal(s->list->common_prefixes[0].c_str(), "R&D/");
}

// encoding-type=url: keys come percent-encoded and are decoded.
void list_url_encoded(void** state) {
  State* s = st(state);
  s->list =
      parse_list_objects(R"(<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>
<Contents><Key>a%20b%2Bc+d%0A</Key><Size>1</Size></Contents>
<CommonPrefixes><Prefix>dir%2F%C3%A9/</Prefix></CommonPrefixes></ListBucketResult>)");
  assert_true(s->list.has_value());
  assert_string_equal(s->list->contents[0].key.c_str(), "a b+c d\n");
  assert_string_equal(s->list->common_prefixes[0].c_str(), "dir/\xc3\xa9/");
  s->list = parse_list_objects(
      "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>bad%2</Key><Size>1</Size></Contents>"
      "</ListBucketResult>");
  assert_false(s->list.has_value());
}

// An explicit namespace prefix parses too (local names are matched).
void list_prefixed_namespace(void** state) {
  State* s = st(state);
  s->list = parse_list_objects(R"(<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">
<s3:IsTruncated>true</s3:IsTruncated><s3:NextContinuationToken>tok</s3:NextContinuationToken>
<s3:Contents><s3:Key>k</s3:Key><s3:Size>5</s3:Size></s3:Contents></s3:ListBucketResult>)");
  assert_true(s->list.has_value());
  assert_true(s->list->is_truncated);
  assert_string_equal(s->list->next_continuation_token.c_str(), "tok");
  assert_string_equal(s->list->contents[0].key.c_str(), "k");
  assert_int_equal(s->list->contents[0].size, 5);
}

void list_bad_numbers(void** state) {
  State* s = st(state);
  s->list =
      parse_list_objects("<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents></ListBucketResult>");
  assert_false(s->list.has_value());
  s->list =
      parse_list_objects("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>");
  assert_false(s->list.has_value());
  s->list = parse_list_objects("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>");
  assert_false(s->list.has_value());  // no Key
  s->list = parse_list_objects("<ListBucketResult><KeyCount>many</KeyCount></ListBucketResult>");
  assert_false(s->list.has_value());
}

void error_no_such_key(void** state) {
  State* s = st(state);
  s->error = parse_error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>)");
  assert_true(s->error.has_value());
  assert_string_equal(s->error->code.c_str(), "NoSuchKey");
  assert_string_equal(s->error->message.c_str(), "The resource you requested does not exist");
  assert_string_equal(s->error->resource.c_str(), "/mybucket/myfoto.jpg");
  assert_string_equal(s->error->request_id.c_str(), "4442587FB7D0A2F9");
  assert_true(s->error->bucket_name.empty());
  assert_true(s->error->server_time.empty());
}

void error_signature(void** state) {
  State* s = st(state);
  s->error = parse_error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256
20130524T000000Z
20130524/us-east-1/s3/aws4_request
7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972</StringToSign><SignatureProvided>f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41</SignatureProvided><StringToSignBytes>41 57 53</StringToSignBytes><CanonicalRequest>GET
/test.txt
</CanonicalRequest><RequestId>8A1B2C3D4E5F6071</RequestId><HostId>nM2mXn1uQxq2qbgqlK0lWnVgJdM=</HostId></Error>)");
  assert_true(s->error.has_value());
  assert_string_equal(s->error->code.c_str(), "SignatureDoesNotMatch");
  assert_non_null(strstr(s->error->message.c_str(), "does not match"));
  assert_string_equal(s->error->request_id.c_str(), "8A1B2C3D4E5F6071");
}

void error_time_skewed(void** state) {
  State* s = st(state);
  s->error = parse_error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message><RequestTime>20230101T000000Z</RequestTime><ServerTime>2023-01-01T01:00:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds><RequestId>ABCDEF0123456789</RequestId><HostId>host</HostId></Error>)");
  assert_true(s->error.has_value());
  assert_string_equal(s->error->code.c_str(), "RequestTimeTooSkewed");
  assert_string_equal(s->error->server_time.c_str(), "2023-01-01T01:00:00Z");
}

// Alibaba OSS error body: BucketName, HostId, EC.
void error_oss(void** state) {
  State* s = st(state);
  s->error = parse_error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchBucket</Code>
  <Message>The specified bucket does not exist.</Message>
  <RequestId>5C3D9175B6FC201293AD****</RequestId>
  <HostId>test.oss-cn-hangzhou.aliyuncs.com</HostId>
  <BucketName>test</BucketName>
  <EC>0015-00000101</EC>
</Error>)");
  assert_true(s->error.has_value());
  assert_string_equal(s->error->code.c_str(), "NoSuchBucket");
  assert_string_equal(s->error->bucket_name.c_str(), "test");
  assert_string_equal(s->error->request_id.c_str(), "5C3D9175B6FC201293AD****");
}

void initiate_multipart(void** state) {
  State* s = st(state);
  s->str = parse_initiate_multipart(R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>)");
  assert_true(s->str.has_value());
  assert_string_equal(s->str->c_str(), "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
  // Ceph RGW ids contain '~' and '.'; OSS ids are hex without namespace.
  s->str = parse_initiate_multipart(
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
      "<UploadId>2~iCw_lDY8VoBhoRrIJbPMrUqnE3Z-3Qh</UploadId></InitiateMultipartUploadResult>");
  assert_true(s->str.has_value());
  assert_string_equal(s->str->c_str(), "2~iCw_lDY8VoBhoRrIJbPMrUqnE3Z-3Qh");
  s->str = parse_initiate_multipart("<InitiateMultipartUploadResult><UploadId/></InitiateMultipartUploadResult>");
  assert_false(s->str.has_value());
}

void complete_multipart(void** state) {
  State* s = st(state);
  s->str = parse_complete_multipart(R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>http://Example-Bucket.s3.us-east-1.amazonaws.com/Example-Object</Location>
  <Bucket>Example-Bucket</Bucket>
  <Key>Example-Object</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>)");
  assert_true(s->str.has_value());
  assert_string_equal(s->str->c_str(), "\"3858f62230ac3c915f300c664312c11f-9\"");
  // Ceph 16 sends an empty ETag element.
  s->str = parse_complete_multipart(R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://127.0.0.1:8000/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag/></CompleteMultipartUploadResult>)");
  assert_true(s->str.has_value());
  assert_true(s->str->empty());
  // A 200 that carries <Error> is not a completion.
  s->body = "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>";
  s->str = parse_complete_multipart(s->body);
  assert_false(s->str.has_value());
  s->error = parse_error(s->body);
  assert_true(s->error.has_value());
  assert_string_equal(s->error->code.c_str(), "InternalError");
}

const char kListParts[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator>
      <ID>arn:aws:iam::111122223333:user/some-user</ID>
      <DisplayName>umat-user</DisplayName>
  </Initiator>
  <Owner>
    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
    <DisplayName>someName</DisplayName>
  </Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>)";

void list_parts(void** state) {
  State* s = st(state);
  s->parts = parse_list_parts(kListParts);
  assert_true(s->parts.has_value());
  assert_true(s->parts->is_truncated);
  assert_int_equal(s->parts->next_part_number_marker, 3);
  assert_int_equal(s->parts->parts.size(), 2);
  assert_int_equal(s->parts->parts[0].part_number, 2);
  assert_int_equal(s->parts->parts[0].size, 10485760);
  assert_string_equal(s->parts->parts[0].etag.c_str(), "\"7778aef83f66abc1fa1e8477f296d394\"");
  assert_string_equal(s->parts->parts[0].last_modified.c_str(), "2010-11-10T20:48:34.000Z");
  assert_int_equal(s->parts->parts[1].part_number, 3);

  // Last page, no parts (an upload just created), OSS shape.
  s->parts = parse_list_parts(
      "<ListPartsResult><Bucket>b</Bucket><Key>k</Key><UploadId>0004B999EF5A239BB9138C6227D6****</UploadId>"
      "<NextPartNumberMarker>0</NextPartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>"
      "</ListPartsResult>");
  assert_true(s->parts.has_value());
  assert_false(s->parts->is_truncated);
  assert_true(s->parts->parts.empty());

  s->parts = parse_list_parts("<ListPartsResult><Part><PartNumber>two</PartNumber></Part></ListPartsResult>");
  assert_false(s->parts.has_value());
}

void list_uploads(void** state) {
  State* s = st(state);
  s->uploads = parse_list_uploads(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket>
  <KeyMarker></KeyMarker>
  <UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>my-movie.m2ts</NextKeyMarker>
  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>
  <MaxUploads>3</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload>
    <Key>my-divisor</Key>
    <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
    <Initiator><ID>arn:aws:iam::111122223333:user/user1</ID><DisplayName>user1</DisplayName></Initiator>
    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>OwnerDisplayName</DisplayName></Owner>
    <StorageClass>REDUCED_REDUNDANCY</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
  <Upload>
    <Key>my-movie.m2ts</Key>
    <UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
</ListMultipartUploadsResult>)");
  assert_true(s->uploads.has_value());
  assert_true(s->uploads->is_truncated);
  assert_string_equal(s->uploads->next_key_marker.c_str(), "my-movie.m2ts");
  assert_string_equal(s->uploads->next_upload_id_marker.c_str(),
                      "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
  assert_int_equal(s->uploads->uploads.size(), 2);
  assert_string_equal(s->uploads->uploads[0].key.c_str(), "my-divisor");
  assert_string_equal(s->uploads->uploads[0].upload_id.c_str(),
                      "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw");
  assert_string_equal(s->uploads->uploads[0].initiated.c_str(), "2010-11-10T20:48:33.000Z");
  assert_string_equal(s->uploads->uploads[1].key.c_str(), "my-movie.m2ts");

  s->uploads = parse_list_uploads(
      "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>");
  assert_true(s->uploads.has_value());
  assert_true(s->uploads->uploads.empty());
}

void copy_result(void** state) {
  State* s = st(state);
  s->str = parse_copy_result(R"(<?xml version="1.0" encoding="UTF-8"?>
<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
   <LastModified>2009-10-28T22:32:00.000Z</LastModified>
   <ETag>"9b2cf535f27731c974343645a3985328"</ETag>
</CopyObjectResult>)");
  assert_true(s->str.has_value());
  assert_string_equal(s->str->c_str(), "\"9b2cf535f27731c974343645a3985328\"");
  s->str = parse_copy_result(
      "<CopyPartResult><LastModified>2011-04-11T20:34:56.000Z</LastModified>"
      "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></CopyPartResult>");
  assert_true(s->str.has_value());
  assert_string_equal(s->str->c_str(), "\"9b2cf535f27731c974343645a3985328\"");
}

void malformed(void** state) {
  State* s = st(state);
  assert_false(parse_list_objects("").has_value());
  assert_false(parse_list_objects("not xml at all").has_value());
  assert_false(parse_list_objects("<ListBucketResult><Contents><Key>a</Key>").has_value());  // truncated body
  assert_false(parse_list_objects("<ListBucketResult></ListBucket>").has_value());
  assert_false(parse_error("<Error><Code>X</Code>").has_value());
  assert_false(parse_initiate_multipart("<html><body>502 Bad Gateway</body></html>").has_value());
  assert_false(parse_complete_multipart("<CompleteMultipartUploadResult>").has_value());
  assert_false(parse_list_parts("<ListPartsResult><Part></ListPartsResult>").has_value());
  assert_false(parse_list_uploads("&amp;").has_value());
  assert_false(parse_copy_result("<CopyObjectResult><ETag>x</Etag></CopyObjectResult>").has_value());
  // A body with an embedded NUL is not silently cut short into a valid one.
  s->body = std::string("<ListBucketResult>\0</ListBucketResult>", 38);
  assert_false(parse_list_objects(s->body).has_value());
}

void wrong_root(void** state) {
  (void)state;
  assert_false(parse_list_objects("<Error><Code>NoSuchBucket</Code></Error>").has_value());
  assert_false(parse_error("<ListBucketResult/>").has_value());
  assert_false(parse_initiate_multipart("<ListPartsResult><UploadId>x</UploadId></ListPartsResult>").has_value());
  assert_false(parse_complete_multipart("<Error><ETag>x</ETag></Error>").has_value());
  assert_false(parse_list_parts("<ListMultipartUploadsResult/>").has_value());
  assert_false(parse_list_uploads("<ListPartsResult/>").has_value());
  assert_false(parse_copy_result("<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>")
                   .has_value());
}

// The built body is well-formed XML whose parts read back as given.
void build_complete_roundtrip(void** state) {
  State* s = st(state);
  s->body = build_complete_multipart({{1, "\"a54357aff0632cce46d942af68356b38\"", "", ""},
                                      {2, "\"0c78aef83f66abc1fa1e8477f296d394\"", "", ""},
                                      {3, "odd<&>etag", "", ""}});
  assert_non_null(strstr(s->body.c_str(), "<CompleteMultipartUpload>"));
  assert_non_null(
      strstr(s->body.c_str(),
             "<Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d942af68356b38\"</ETag></Part>"));
  // Read it back as a ListPartsResult-shaped document by renaming the root.
  s->body.replace(s->body.find("<CompleteMultipartUpload>"), 25, "<ListPartsResult>");
  s->body.replace(s->body.find("</CompleteMultipartUpload>"), 26, "</ListPartsResult>");
  s->parts = parse_list_parts(s->body);
  assert_true(s->parts.has_value());
  assert_int_equal(s->parts->parts.size(), 3);
  assert_int_equal(s->parts->parts[0].part_number, 1);
  assert_string_equal(s->parts->parts[0].etag.c_str(), "\"a54357aff0632cce46d942af68356b38\"");
  assert_int_equal(s->parts->parts[2].part_number, 3);
  assert_string_equal(s->parts->parts[2].etag.c_str(), "odd<&>etag");

  s->body = build_complete_multipart({});
  assert_non_null(strstr(s->body.c_str(), "<CompleteMultipartUpload></CompleteMultipartUpload>"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(list_v2_plain, setup, teardown),
      cmocka_unit_test_setup_teardown(list_v2_prefixes_truncated, setup, teardown),
      cmocka_unit_test_setup_teardown(list_v1_next_marker, setup, teardown),
      cmocka_unit_test_setup_teardown(list_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(list_entities_utf8, setup, teardown),
      cmocka_unit_test_setup_teardown(list_url_encoded, setup, teardown),
      cmocka_unit_test_setup_teardown(list_prefixed_namespace, setup, teardown),
      cmocka_unit_test_setup_teardown(list_bad_numbers, setup, teardown),
      cmocka_unit_test_setup_teardown(error_no_such_key, setup, teardown),
      cmocka_unit_test_setup_teardown(error_signature, setup, teardown),
      cmocka_unit_test_setup_teardown(error_time_skewed, setup, teardown),
      cmocka_unit_test_setup_teardown(error_oss, setup, teardown),
      cmocka_unit_test_setup_teardown(initiate_multipart, setup, teardown),
      cmocka_unit_test_setup_teardown(complete_multipart, setup, teardown),
      cmocka_unit_test_setup_teardown(list_parts, setup, teardown),
      cmocka_unit_test_setup_teardown(list_uploads, setup, teardown),
      cmocka_unit_test_setup_teardown(copy_result, setup, teardown),
      cmocka_unit_test_setup_teardown(malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(wrong_root, setup, teardown),
      cmocka_unit_test_setup_teardown(build_complete_roundtrip, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
