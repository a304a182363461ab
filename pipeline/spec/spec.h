// The pipeline spec (pipeline.yaml, version 1): the parsed, validated description of an
// endpoint and its stages. Pure data plus a loader; nothing here starts processes or opens
// sockets. See docs/spec.md for every key and its default.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::spec {

enum class Mode { serial, direct };
enum class Transport { http, shm };

struct PortRange {
  std::uint16_t low = 9000;
  std::uint16_t high = 9999;
  std::string to_string() const;  // "LOW-HIGH", the SAGEMAKER_SAFE_PORT_RANGE format
};

struct ServerSpec {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8080;  // 0 binds an ephemeral port
  std::uint64_t max_payload_bytes = 6ull * 1024 * 1024;
  std::uint64_t stage_payload_bytes = 6ull * 1024 * 1024;
  std::chrono::milliseconds invocation_timeout{60'000};
  // From a request's first byte, the time its client has to send the header and the body.
  std::chrono::milliseconds request_read_timeout{60'000};
  std::uint32_t max_concurrent_invocations = 64;
  // Client connections open at once; beyond it the oldest idle one is closed, or the new one
  // when none is idle. `tandem serve` lowers it to fit the descriptor limit (see security.md).
  std::uint32_t max_connections = 4096;
  PortRange stage_port_range{};
  // Ports in each stage's own SAGEMAKER_SAFE_PORT_RANGE; a stage takes 1 + this many ports
  // of stage_port_range (its SAGEMAKER_BIND_TO_PORT, then its safe range).
  std::uint16_t stage_safe_ports = 4;
  std::chrono::milliseconds drain_timeout{30'000};       // in-flight grace on SIGTERM
  std::chrono::milliseconds stage_stop_timeout{30'000};  // SIGTERM -> SIGKILL per stage
};

// Values GET /execution-parameters answers when the spec sets them (batch transform).
struct ExecutionParameters {
  std::optional<std::uint32_t> max_concurrent_transforms;
  std::optional<std::string> batch_strategy;  // SINGLE_RECORD | MULTI_RECORD
  std::optional<std::uint32_t> max_payload_mb;
};

// Where a stage with mount_model_dir sees its model_dir.
inline constexpr const char* model_mount_point = "/opt/ml/model";

struct StageSpec {
  std::string name;       // container hostname; "container-N" when the spec names none
  std::string container;  // always "container-N" (1-based position), for SageMaker-style errors
  std::vector<std::string> command;  // argv; never run through a shell
  int command_line = 0;              // where `command` is in the spec (1-based; 0: unknown)
  int command_column = 0;
  std::string working_dir;               // absolute, resolved against the spec file's folder
  std::optional<std::string> model_dir;  // absolute; passed as SM_MODEL_DIR
  std::map<std::string, std::string> env;
  // Names of variables whose values are secret: tandem shows them as <secret> wherever it
  // prints an environment (the debug launch line, a transform job's report).
  std::set<std::string> secret_env;
  Transport transport = Transport::http;
  std::optional<std::string> content_type;  // overrides the Content-Type sent to this stage
  std::optional<std::string> accept;        // Accept sent to this stage
  std::chrono::milliseconds timeout{60'000};
  std::chrono::milliseconds startup_timeout{240'000};
  std::uint32_t max_inflight = 8;
  // Run the stage in its own mount namespace with model_dir bind-mounted at /opt/ml/model,
  // for serving code that hard-codes that path.
  bool mount_model_dir = false;
};

// Data capture (docs/capture.md): what `tandem serve` records of the invocations it answers,
// in SageMaker's Model Monitor format, and how its files are rotated.
struct CaptureSpec {
  std::string destination;  // an absolute local folder, or s3://bucket/prefix
  std::uint32_t sampling_percentage = 100;
  bool input = true;   // modes: Input
  bool output = true;  // modes: Output
  std::vector<std::string> csv_content_types{"text/csv"};
  std::vector<std::string> json_content_types{"application/json"};
  bool stages = false;  // also each stage's input and output
  std::uint64_t max_file_bytes = 64ull * 1024 * 1024;
  std::chrono::milliseconds rotate_interval{60'000};  // a file is committed at most this late
  std::uint32_t queue_records = 1024;
  std::uint64_t queue_bytes = 64ull * 1024 * 1024;
};

struct PipelineSpec {
  std::string name;
  Mode mode = Mode::serial;
  ServerSpec server;
  ExecutionParameters execution_parameters;
  std::vector<StageSpec> stages;
  std::optional<CaptureSpec> capture;
  std::string source;  // the file it was loaded from ("<string>" for text)

  const StageSpec* find_stage(std::string_view name) const;
};

// Variables whose values tandem never prints, whatever the spec says: AWS credentials.
bool is_always_secret(std::string_view name);
// Whether `name`'s value is shown as <secret> for `stage` (its secret_env, or always secret).
bool is_secret(const StageSpec& stage, std::string_view name);
// `env` as NAME=value pairs separated by spaces, secret values replaced by <secret>.
std::string describe_env(const StageSpec& stage, const std::map<std::string, std::string>& env);
// The names any stage lists in secret_env, and the ones always secret (a transform job's
// Environment goes to every stage, so it is redacted with all of them).
std::set<std::string> secret_env_names(const PipelineSpec& spec);

// One problem found while loading a spec: where it is and what is wrong.
struct SpecError {
  std::string file;
  int line = 0;                   // 1-based; 0 when unknown
  int column = 0;                 // 1-based; 0 when unknown
  std::string path;               // key path, e.g. "stages[1].timeout_s"
  std::string message;            // e.g. "expected a positive number, got \"fast\""
  std::string to_string() const;  // "file:line:col: path: message"
};

// Thrown by the loaders with every error found, not just the first.
class SpecErrors : public std::runtime_error {
 public:
  explicit SpecErrors(std::vector<SpecError> errors);
  const std::vector<SpecError>& errors() const { return errors_; }

 private:
  std::vector<SpecError> errors_;
};

// Looks up an environment variable for ${VAR} expansion; injectable for tests.
using EnvLookup = std::optional<std::string> (*)(const std::string& name);
std::optional<std::string> process_env(const std::string& name);

// Parses and validates. `base_dir` resolves relative working_dir/model_dir paths.
PipelineSpec load_spec_text(const std::string& yaml_text, const std::string& file_name,
                            const std::string& base_dir, EnvLookup env = process_env);
// Reads the file; relative paths resolve against its folder.
PipelineSpec load_spec_file(const std::string& path, EnvLookup env = process_env);

}  // namespace tandem::spec
