#include "pipeline/transform/job.h"

#include <catch2/catch.hpp>

using namespace tandem::transform;

namespace {

const char* const kFullRequest = R"({
  "TransformJobName": "churn-2024-01",
  "ModelName": "churn-pipeline",
  "MaxConcurrentTransforms": 4,
  "MaxPayloadInMB": 6,
  "BatchStrategy": "MultiRecord",
  "ModelClientConfig": {"InvocationsTimeoutInSeconds": 120, "InvocationsMaxRetries": 1},
  "Environment": {"LOG_LEVEL": "debug", "_X1": ""},
  "TransformInput": {
    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
    "ContentType": "text/csv",
    "CompressionType": "Gzip",
    "SplitType": "Line"
  },
  "TransformOutput": {"S3OutputPath": "file:///tmp/out", "Accept": "text/csv",
                      "AssembleWith": "Line", "KmsKeyId": "alias/key"},
  "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
  "DataProcessing": {"InputFilter": "$[1:]", "OutputFilter": "$[0,-1]", "JoinSource": "Input"},
  "Tags": [{"Key": "team", "Value": "ml"}]
})";

std::string errors_of(std::string_view json) {
  auto parsed = parse_transform_job(json);
  return parsed ? "parsed" : parsed.error().message;
}

std::string minimal(std::string_view extra_top, std::string_view extra_input = "",
                    std::string_view extra_output = "") {
  return std::string(R"({"TransformInput": {"DataSource": {"S3DataSource": )"
                     R"({"S3DataType": "S3Prefix", "S3Uri": "in/"}})") +
         std::string(extra_input) + R"(}, "TransformOutput": {"S3OutputPath": "out/")" +
         std::string(extra_output) + "}" + std::string(extra_top) + "}";
}

}  // namespace

TEST_CASE("A full create_transform_job request parses into the job", "[job]") {
  auto parsed = parse_transform_job(kFullRequest);
  REQUIRE(parsed.ok());
  const TransformJob& job = parsed->job;
  CHECK(job.name == "churn-2024-01");
  CHECK(job.model_name == "churn-pipeline");
  CHECK(job.max_concurrent_transforms == 4);
  CHECK(job.max_payload_in_mb == 6);
  CHECK(job.batch_strategy == BatchStrategy::multi_record);
  CHECK(job.invocations_timeout_s == 120);
  CHECK(job.invocations_max_retries == 1);
  CHECK(job.environment ==
        std::vector<std::pair<std::string, std::string>>{{"LOG_LEVEL", "debug"}, {"_X1", ""}});
  CHECK(job.input.data_type == S3DataType::s3_prefix);
  CHECK(job.input.uri == "s3://bucket/in/");
  CHECK(job.input.content_type == "text/csv");
  CHECK(job.input.compression == CompressionType::gzip);
  CHECK(job.input.split_type == SplitType::line);
  CHECK(job.output.path == "file:///tmp/out");
  CHECK(job.output.accept == "text/csv");
  CHECK(job.output.assemble_with == AssembleWith::line);
  CHECK(job.data_processing.input_filter == "$[1:]");
  CHECK(job.data_processing.output_filter == "$[0,-1]");
  CHECK(job.data_processing.join_source == JoinSource::input);
  CHECK(parsed->notes ==
        std::vector<std::string>{
            "job.json: TransformOutput.KmsKeyId: ignored (tandem does not encrypt its outputs)",
            "job.json: TransformResources: ignored (tandem runs the pipeline on this host; to "
            "spread a job over hosts, run one tandem per host with --shard-index and "
            "--shard-count)",
            "job.json: Tags: ignored"});
}

TEST_CASE("A minimal request leaves SageMaker's unset fields unset", "[job]") {
  auto parsed = parse_transform_job(minimal(""));
  REQUIRE(parsed.ok());
  const TransformJob& job = parsed->job;
  CHECK_FALSE(job.name);
  CHECK_FALSE(job.batch_strategy);
  CHECK_FALSE(job.max_payload_in_mb);
  CHECK_FALSE(job.max_concurrent_transforms);
  CHECK_FALSE(job.input.content_type);
  CHECK_FALSE(job.output.accept);
  CHECK(job.input.split_type == SplitType::none);
  CHECK(job.input.compression == CompressionType::none);
  CHECK(job.output.assemble_with == AssembleWith::none);
  CHECK(job.invocations_timeout_s == 600);
  CHECK(job.invocations_max_retries == 3);
  CHECK(job.data_processing.input_filter == "$");
  CHECK(parsed->notes.empty());
  CHECK(parse_transform_job(minimal(R"(, "MaxConcurrentTransforms": 0)"))
            ->job.max_concurrent_transforms == std::nullopt);
  CHECK(parse_transform_job(minimal(R"(, "MaxPayloadInMB": 0)"))->job.max_payload_in_mb == 0);
}

TEST_CASE("Bad values name their JSON path", "[job]") {
  CHECK(errors_of(minimal("", R"(, "SplitType": "Lines")")) ==
        "job.json: TransformInput.SplitType: expected one of None, Line, RecordIO, TFRecord, got "
        "\"Lines\"");
  CHECK(errors_of(minimal(R"(, "MaxPayloadInMB": 101)")) ==
        "job.json: MaxPayloadInMB: expected an integer from 0 to 100, got 101");
  CHECK(errors_of(minimal(R"(, "MaxPayloadInMB": "6")")) ==
        "job.json: MaxPayloadInMB: expected an integer from 0 to 100, got \"6\"");
  CHECK(errors_of(minimal(R"(, "MaxPayloadInMB": 6.5)")) ==
        "job.json: MaxPayloadInMB: expected an integer from 0 to 100, got 6.5");
  CHECK(errors_of(minimal(R"(, "MaxConcurrentTransforms": -1)")) ==
        "job.json: MaxConcurrentTransforms: expected an integer of at least 0, got -1");
  CHECK(errors_of(minimal(R"(, "ModelClientConfig": {"InvocationsTimeoutInSeconds": 0})")) ==
        "job.json: ModelClientConfig.InvocationsTimeoutInSeconds: expected an integer from 1 to "
        "3600, got 0");
  CHECK(
      errors_of(minimal(R"(, "ModelClientConfig": {"InvocationsMaxRetries": 4})")) ==
      "job.json: ModelClientConfig.InvocationsMaxRetries: expected an integer from 0 to 3, got 4");
  CHECK(errors_of(minimal(R"(, "BatchStrategy": "MULTI_RECORD")")) ==
        "job.json: BatchStrategy: expected one of MultiRecord, SingleRecord, got \"MULTI_RECORD\"");
  CHECK(errors_of(minimal(R"(, "TransformJobName": "-bad")")) ==
        "job.json: TransformJobName: expected letters, digits and hyphens, starting and ending "
        "with a letter or digit, got \"-bad\"");
  CHECK(errors_of(minimal(R"(, "DataCaptureConfig": {})")) ==
        "job.json: DataCaptureConfig: not supported by tandem (batch data capture)");
  CHECK(errors_of(minimal("", R"(, "ContentType": ")" + std::string(257, 'c') + "\"")) ==
        "job.json: TransformInput.ContentType: longer than 256 characters (257)");
  CHECK(errors_of(minimal("", R"(, "ContentType": 5)")) ==
        "job.json: TransformInput.ContentType: expected a string, got 5");
  CHECK(errors_of(minimal(R"(, "ModelClientConfig": 3)")) ==
        "job.json: ModelClientConfig: expected an object, got an integer");
  CHECK(errors_of("[1]") == "job.json: expected an object, got an array");
  CHECK(errors_of("{").starts_with("job.json: not valid JSON: parse error at line 1, column 2"));
}

TEST_CASE("Unknown keys and missing required ones are errors", "[job]") {
  CHECK(errors_of(minimal("", R"(, "Splittype": "Line")")) ==
        "job.json: TransformInput.Splittype: unknown key; did you mean \"SplitType\"?");
  CHECK(
      errors_of(minimal(R"(, "Foo": 1)"))
          .starts_with("job.json: Foo: unknown key; expected one of TransformJobName, ModelName"));
  CHECK(errors_of(R"({"TransformOutput": {"S3OutputPath": "out/"}})") ==
        "job.json: TransformInput: required");
  CHECK(errors_of(R"({"TransformInput": {"DataSource": {"S3DataSource": {}}},
                      "TransformOutput": {}})") ==
        "job.json: TransformInput.DataSource.S3DataSource.S3DataType: required\n"
        "job.json: TransformInput.DataSource.S3DataSource.S3Uri: required\n"
        "job.json: TransformOutput.S3OutputPath: required");
  CHECK(errors_of(R"({"TransformInput": {"DataSource": {"S3DataSource": )"
                  R"({"S3DataType": "AugmentedManifestFile", "S3Uri": "x"}}},)"
                  R"("TransformOutput": {"S3OutputPath": "out/"}})") ==
        "job.json: TransformInput.DataSource.S3DataSource.S3DataType: expected one of S3Prefix, "
        "ManifestFile, got \"AugmentedManifestFile\"");
}

TEST_CASE("Every structural error is reported at once", "[job]") {
  CHECK(errors_of(minimal(R"(, "MaxPayloadInMB": 200, "BatchStrategy": "Multi", "Bogus": 1)",
                          R"(, "CompressionType": "gz")")) ==
        "job.json: Bogus: unknown key; expected one of TransformJobName, ModelName, "
        "MaxConcurrentTransforms, ModelClientConfig, MaxPayloadInMB, BatchStrategy, Environment, "
        "TransformInput, TransformOutput, DataCaptureConfig, TransformResources, DataProcessing, "
        "Tags, ExperimentConfig\n"
        "job.json: TransformInput.CompressionType: expected one of None, Gzip, got \"gz\"\n"
        "job.json: BatchStrategy: expected one of MultiRecord, SingleRecord, got \"Multi\"\n"
        "job.json: MaxPayloadInMB: expected an integer from 0 to 100, got 200");
}

TEST_CASE("Environment follows botocore's map rules", "[job]") {
  CHECK(errors_of(minimal(R"(, "Environment": {"1BAD": "x", "OK": 5})")) ==
        "job.json: Environment.1BAD: expected a key matching [a-zA-Z_][a-zA-Z0-9_]{0,1023}\n"
        "job.json: Environment.OK: expected a string, got 5");
  std::string many = R"(, "Environment": {)";
  for (int i = 0; i < 17; ++i)
    many += (i ? "," : "") + std::string("\"K") + std::to_string(i) + "\": \"v\"";
  CHECK(errors_of(minimal(many + "}")) == "job.json: Environment: at most 16 entries, got 17");
  CHECK(errors_of(minimal(R"(, "Environment": {"V": ")" + std::string(10241, 'x') + "\"}")) ==
        "job.json: Environment.V: longer than 10240 characters (10241)");
}

TEST_CASE("ContentType and Accept cannot carry a header of their own", "[job]") {
  CHECK(errors_of(minimal("", R"(, "ContentType": "text/csv\r\nX-Injected: 1")",
                          R"(, "Accept": "a\u0000")")) ==
        "job.json: TransformInput.ContentType: control character 0x0d at position 8; a header "
        "value cannot hold one\n"
        "job.json: TransformOutput.Accept: control character 0x00 at position 1; a header value "
        "cannot hold one");
  CHECK(errors_of(minimal("", R"(, "ContentType": "text/csv;\tcharset=utf-8")")) == "parsed");
  const TransformJob base = parse_transform_job(minimal(""))->job;
  JobOverrides overrides;
  overrides.accept = "text/csv\n\nGET / HTTP/1.1";
  CHECK(apply_overrides(base, overrides, "command line").error().message ==
        "command line: TransformOutput.Accept: control character 0x0a at position 8; a header "
        "value cannot hold one");
}

TEST_CASE("An Environment value cannot hold a NUL character", "[job]") {
  CHECK(errors_of(minimal(R"(, "Environment": {"V": "a\u0000b"})")) ==
        "job.json: Environment.V: must not contain a NUL character (\\u0000)");
}

TEST_CASE("Rules across fields", "[job]") {
  CHECK(errors_of(minimal(R"(, "MaxConcurrentTransforms": 20, "MaxPayloadInMB": 6)")) ==
        "job.json: MaxConcurrentTransforms: 20 × MaxPayloadInMB 6 is more than 100 MB");
  CHECK(errors_of(minimal(R"(, "MaxConcurrentTransforms": 25, "MaxPayloadInMB": 4)")) == "parsed");
  CHECK(errors_of(minimal(R"(, "MaxConcurrentTransforms": 1000, "MaxPayloadInMB": 0)")) ==
        "parsed");
  CHECK(errors_of(minimal(R"(, "DataProcessing": {"JoinSource": "Input"})",
                          R"(, "ContentType": "text/csv")")) ==
        "job.json: DataProcessing.JoinSource: Input requires TransformInput.SplitType Line, got "
        "None\n"
        "job.json: DataProcessing.JoinSource: Input requires TransformOutput.AssembleWith Line, "
        "got None");
  CHECK(errors_of(minimal(R"(, "DataProcessing": {"InputFilter": "$[1:"})",
                          R"(, "ContentType": "text/csv")")) ==
        "job.json: DataProcessing.InputFilter \"$[1:\": position 4: expected ']'");
  CHECK(errors_of(minimal(R"(, "DataProcessing": {"InputFilter": "$[1:]"})",
                          R"(, "SplitType": "RecordIO")")) ==
        "job.json: DataProcessing: InputFilter and JoinSource apply to CSV and JSON records, not "
        "to SplitType RecordIO\n"
        "job.json: TransformInput.ContentType: InputFilter and JoinSource need text/csv, "
        "application/json or application/jsonlines, got none");
  CHECK(errors_of(minimal(R"(, "DataProcessing": {"InputFilter": "$.a"})",
                          R"(, "ContentType": "image/png", "SplitType": "Line")")) ==
        "job.json: TransformInput.ContentType: InputFilter and JoinSource need text/csv, "
        "application/json or application/jsonlines, got \"image/png\"");
  CHECK(errors_of(
            minimal(R"(, "DataProcessing": {"InputFilter": ")" + std::string(64, 'a') + "\"}")) ==
        "job.json: DataProcessing.InputFilter: longer than 63 characters (64)");
}

TEST_CASE("BatchStrategy with SplitType None is accepted with a note", "[job]") {
  auto parsed = parse_transform_job(minimal(R"(, "BatchStrategy": "SingleRecord")"));
  REQUIRE(parsed.ok());
  CHECK(parsed->notes == std::vector<std::string>{"job.json: BatchStrategy: no effect with "
                                                  "SplitType None (each object is one request)"});
}

TEST_CASE("Overrides replace the job's values and are validated", "[job]") {
  const TransformJob base = parse_transform_job(minimal(""))->job;
  JobOverrides overrides;
  overrides.split_type = "Line";
  overrides.assemble_with = "Line";
  overrides.batch_strategy = "SingleRecord";
  overrides.max_payload_in_mb = 2;
  overrides.max_concurrent_transforms = 0;
  overrides.content_type = "text/csv";
  overrides.join_source = "Input";
  overrides.output_path = "s3://b/o";
  overrides.environment = {{"A", "1"}};
  auto job = apply_overrides(base, overrides);
  REQUIRE(job.ok());
  CHECK(job->input.split_type == SplitType::line);
  CHECK(job->batch_strategy == BatchStrategy::single_record);
  CHECK(job->max_payload_in_mb == 2);
  CHECK_FALSE(job->max_concurrent_transforms);
  CHECK(job->output.path == "s3://b/o");
  CHECK(job->data_processing.join_source == JoinSource::input);
  CHECK(job->environment == std::vector<std::pair<std::string, std::string>>{{"A", "1"}});

  JobOverrides bad;
  bad.split_type = "Lines";
  bad.max_payload_in_mb = 101;
  bad.invocations_max_retries = 9;
  bad.environment = {{"9X", "v"}};
  bad.accept = std::string(257, 'a');
  CHECK(apply_overrides(base, bad).error().message ==
        "--split-type: expected one of None, Line, RecordIO, TFRecord, got \"Lines\"\n"
        "--accept: longer than 256 characters (257)\n"
        "--max-payload-mb: expected an integer from 0 to 100, got 101\n"
        "--max-retries: expected an integer from 0 to 3, got 9\n"
        "--env: expected a key matching [a-zA-Z_][a-zA-Z0-9_]{0,1023}, got \"9X\"");

  JobOverrides join_only;
  join_only.join_source = "Input";
  CHECK(apply_overrides(base, join_only, "command line").error().message ==
        "command line: DataProcessing.JoinSource: Input requires TransformInput.SplitType Line, "
        "got None\n"
        "command line: DataProcessing.JoinSource: Input requires TransformOutput.AssembleWith "
        "Line, got None\n"
        "command line: TransformInput.ContentType: InputFilter and JoinSource need text/csv, "
        "application/json or application/jsonlines, got none");
}

TEST_CASE("A job from overrides alone needs its input and output", "[job]") {
  CHECK(apply_overrides(TransformJob{}, JobOverrides{}, "command line").error().message ==
        "command line: TransformInput.DataSource.S3DataSource.S3Uri: required (an s3:// URI, a "
        "file:// URI or a local path)\n"
        "command line: TransformOutput.S3OutputPath: required (an s3:// URI, a file:// URI or a "
        "local path)");
  JobOverrides locations;
  locations.input_uri = "data/in/";
  locations.output_path = "data/out/";
  CHECK(apply_overrides(TransformJob{}, locations).ok());
}
