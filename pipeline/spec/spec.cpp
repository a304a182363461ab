#include "pipeline/spec/spec.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>

#include "pipeline/spec/capture_spec.h"
#include "pipeline/spec/stages.h"
#include "pipeline/spec/values.h"
#include "pipeline/spec/yaml_reader.h"

namespace tandem::spec {
namespace {

constexpr std::array<std::string_view, 7> kRootKeys = {
    "version", "name", "mode", "server", "execution_parameters", "stages", "capture",
};
constexpr std::array<std::string_view, 12> kServerKeys = {
    "host",
    "port",
    "max_payload_mb",
    "stage_payload_mb",
    "invocation_timeout_s",
    "request_read_timeout_s",
    "max_concurrent_invocations",
    "max_connections",
    "stage_port_range",
    "stage_safe_ports",
    "drain_timeout_s",
    "stage_stop_timeout_s",
};
constexpr std::array<std::string_view, 3> kExecutionKeys = {"max_concurrent_transforms",
                                                            "batch_strategy", "max_payload_mb"};
constexpr std::array<std::string_view, 2> kModes = {"serial", "direct"};
constexpr std::array<std::string_view, 2> kBatchStrategies = {"SINGLE_RECORD", "MULTI_RECORD"};

constexpr std::int64_t kSpecVersion = 1;
constexpr std::int64_t kMaxPort = 65535;
// SageMaker gives a container 1000 safe ports (9000-9999 in AWS's container tests,
// 23000-23999 seen on a real endpoint); a stage here shares stage_port_range with the others.
constexpr std::int64_t kMaxSafePorts = 1000;
constexpr std::int64_t kMaxConcurrentInvocations = 100'000;
constexpr std::int64_t kMaxConnections = 1'000'000;
constexpr std::int64_t kMaxConcurrentTransforms = 1000;
constexpr std::int64_t kMaxExecutionPayloadMb = 100;
// A spec is a few dozen lines; anything this big is the wrong file.
constexpr std::size_t kMaxSpecFileBytes = 1024 * 1024;

std::string join_errors(const std::vector<SpecError>& errors) {
  std::string joined;
  for (const SpecError& error : errors) {
    if (!joined.empty()) joined.push_back('\n');
    joined += error.to_string();
  }
  return joined;
}

void read_version(Context& ctx, const Value& value) {
  auto version = read_integer(ctx, value, std::numeric_limits<std::int64_t>::min(),
                              std::numeric_limits<std::int64_t>::max());
  if (version && *version != kSpecVersion) {
    ctx.error(value.mark, value.path,
              fmt::format("unsupported spec version {}; this build reads version {}", *version,
                          kSpecVersion));
  }
}

// Each stage takes a block of 1 + stage_safe_ports ports: its bind port, then its safe range.
// `where` is the stage_port_range value when the spec gives one, else stage_safe_ports.
void check_port_range_size(Context& ctx, const Value& where, bool at_range,
                           const ServerSpec& server, std::size_t stage_count) {
  const PortRange& range = server.stage_port_range;
  const std::size_t ports = static_cast<std::size_t>(range.high) - range.low + 1;
  const std::size_t per_stage = 1 + static_cast<std::size_t>(server.stage_safe_ports);
  if (ports >= stage_count * per_stage) return;
  ctx.error(where.mark, where.path,
            fmt::format("{}{} holds {} port{} but {} stage{} {}, {} per stage: its "
                        "SAGEMAKER_BIND_TO_PORT and a SAGEMAKER_SAFE_PORT_RANGE of {} "
                        "(stage_safe_ports)",
                        at_range ? "" : "stage_port_range ", range.to_string(), ports,
                        ports == 1 ? "" : "s", stage_count, stage_count == 1 ? " needs" : "s need",
                        stage_count * per_stage, per_stage, server.stage_safe_ports));
}

void read_server_limits(Context& ctx, const Fields& fields, ServerSpec& server) {
  if (auto v = fields.get("max_payload_mb")) {
    if (auto bytes = read_megabytes(ctx, *v)) server.max_payload_bytes = *bytes;
  }
  if (auto v = fields.get("stage_payload_mb")) {
    if (auto bytes = read_megabytes(ctx, *v)) server.stage_payload_bytes = *bytes;
  }
  if (auto v = fields.get("invocation_timeout_s")) {
    if (auto timeout = read_seconds(ctx, *v, false)) server.invocation_timeout = *timeout;
  }
  if (auto v = fields.get("request_read_timeout_s")) {
    if (auto timeout = read_seconds(ctx, *v, false)) server.request_read_timeout = *timeout;
  }
  if (auto v = fields.get("max_concurrent_invocations")) {
    if (auto n = read_integer(ctx, *v, 1, kMaxConcurrentInvocations)) {
      server.max_concurrent_invocations = static_cast<std::uint32_t>(*n);
    }
  }
  if (auto v = fields.get("max_connections")) {
    if (auto n = read_integer(ctx, *v, 1, kMaxConnections)) {
      server.max_connections = static_cast<std::uint32_t>(*n);
    }
  }
  if (auto v = fields.get("drain_timeout_s")) {
    if (auto timeout = read_seconds(ctx, *v, true)) server.drain_timeout = *timeout;
  }
  if (auto v = fields.get("stage_stop_timeout_s")) {
    if (auto timeout = read_seconds(ctx, *v, true)) server.stage_stop_timeout = *timeout;
  }
}

void read_server(Context& ctx, const Value& value, std::size_t stage_count, ServerSpec& server) {
  const Fields fields(ctx, value, kServerKeys);
  if (auto v = fields.get("host")) {
    if (auto host = read_string(ctx, *v)) server.host = *host;
  }
  if (auto v = fields.get("port")) {
    if (auto port = read_integer(ctx, *v, 0, kMaxPort)) {
      server.port = static_cast<std::uint16_t>(*port);
    }
  }
  read_server_limits(ctx, fields, server);
  const auto range = fields.get("stage_port_range");
  bool ports_ok = true;
  if (range) {
    const auto read = read_port_range(ctx, *range);
    if (read) server.stage_port_range = *read;
    ports_ok = read.has_value();
  }
  const auto safe_ports = fields.get("stage_safe_ports");
  if (safe_ports) {
    const auto n = read_integer(ctx, *safe_ports, 1, kMaxSafePorts);
    if (n) server.stage_safe_ports = static_cast<std::uint16_t>(*n);
    ports_ok = ports_ok && n.has_value();
  }
  // Reported where the user can fix it: the range when given, else the safe-port count.
  if (ports_ok && (range || safe_ports)) {
    check_port_range_size(ctx, range ? *range : *safe_ports, range.has_value(), server,
                          stage_count);
  }
}

void read_execution_parameters(Context& ctx, const Value& value, ExecutionParameters& params) {
  const Fields fields(ctx, value, kExecutionKeys);
  if (auto v = fields.get("max_concurrent_transforms")) {
    if (auto n = read_integer(ctx, *v, 1, kMaxConcurrentTransforms)) {
      params.max_concurrent_transforms = static_cast<std::uint32_t>(*n);
    }
  }
  if (auto v = fields.get("batch_strategy")) {
    if (auto choice = read_choice(ctx, *v, kBatchStrategies)) {
      params.batch_strategy = std::string(kBatchStrategies[*choice]);
    }
  }
  if (auto v = fields.get("max_payload_mb")) {
    if (auto n = read_integer(ctx, *v, 0, kMaxExecutionPayloadMb)) {
      params.max_payload_mb = static_cast<std::uint32_t>(*n);
    }
  }
}

void read_root(Context& ctx, const YAML::Node& root, const std::filesystem::path& base_dir,
               PipelineSpec& spec) {
  if (!root.IsMap()) {
    ctx.error(root.Mark(), "", proto::expected("a map at the top level", describe(root)));
    return;
  }
  const Fields fields(ctx, Value{root, root.Mark(), ""}, kRootKeys);
  if (auto v = fields.get("version")) read_version(ctx, *v);
  if (auto v = fields.require("name")) {
    if (auto name = read_sagemaker_name(ctx, *v)) spec.name = *name;
  }
  if (auto v = fields.get("mode")) {
    if (auto mode = read_choice(ctx, *v, kModes)) {
      spec.mode = *mode == 0 ? Mode::serial : Mode::direct;
    }
  }
  if (auto v = fields.require("stages")) spec.stages = read_stages(ctx, *v, base_dir);
  if (auto v = fields.get("server")) read_server(ctx, *v, spec.stages.size(), spec.server);
  if (auto v = fields.get("execution_parameters")) {
    read_execution_parameters(ctx, *v, spec.execution_parameters);
  }
  if (auto v = fields.get("capture")) spec.capture = read_capture(ctx, *v, base_dir);
}

void read_text(Context& ctx, const std::string& yaml_text, const std::filesystem::path& base_dir,
               PipelineSpec& spec) {
  const std::vector<YAML::Node> documents = load_all_documents(yaml_text);
  if (documents.empty() || documents.front().IsNull()) {
    ctx.error(YAML::Mark(), "", "the spec is empty; expected a map with at least name and stages");
    return;
  }
  if (documents.size() > 1) {
    ctx.error(documents[1].Mark(), "",
              fmt::format("expected one YAML document, found {}; remove the \"---\" separators",
                          documents.size()));
  }
  read_root(ctx, documents.front(), base_dir, spec);
}

std::filesystem::path absolute_dir(const std::string& dir) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(dir.empty() ? "." : dir, error);
  if (error) absolute = dir;
  return resolve_path(absolute, ".");
}

SpecError read_error(const std::string& path, int error) {
  return SpecError{
      .file = path,
      .message =
          error == EFBIG
              ? fmt::format("cannot read the spec: it is larger than {} bytes (1 MiB)",
                            kMaxSpecFileBytes)
              : fmt::format("cannot read the spec: {}", std::generic_category().message(error))};
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw SpecErrors({read_error(path, errno)});
  struct stat info {};
  int error = ::fstat(fd, &info) != 0 ? errno : S_ISDIR(info.st_mode) ? EISDIR : 0;
  std::string text;
  char buffer[16 * 1024];
  while (error == 0) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0 && errno != EINTR) error = errno;
    if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxSpecFileBytes) error = EFBIG;
  }
  ::close(fd);
  if (error != 0) throw SpecErrors({read_error(path, error)});
  return text;
}

}  // namespace

std::string PortRange::to_string() const {
  return fmt::format("{}-{}", low, high);
}

const StageSpec* PipelineSpec::find_stage(std::string_view stage_name) const {
  for (const StageSpec& stage : stages) {
    if (stage.name == stage_name) return &stage;
  }
  return nullptr;
}

std::string SpecError::to_string() const {
  std::string text = file;
  if (line > 0) text += fmt::format(":{}", line);
  if (line > 0 && column > 0) text += fmt::format(":{}", column);
  text += ": ";
  if (!path.empty()) text += path + ": ";
  return text + message;
}

SpecErrors::SpecErrors(std::vector<SpecError> errors)
    : std::runtime_error(join_errors(errors)), errors_(std::move(errors)) {}

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

PipelineSpec load_spec_text(const std::string& yaml_text, const std::string& file_name,
                            const std::string& base_dir, EnvLookup env) {
  Context ctx(file_name, env);
  PipelineSpec spec;
  spec.source = file_name;
  try {
    read_text(ctx, yaml_text, absolute_dir(base_dir), spec);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp says only "bad file" for this.
    ctx.error(
        e.mark, "",
        fmt::format("invalid YAML: collections nested more than {} levels deep", e.depth() - 1));
  } catch (const YAML::Exception& e) {
    ctx.error(e.mark, "", fmt::format("invalid YAML: {}", e.msg));
  }
  std::vector<SpecError> errors = ctx.take_errors();
  if (!errors.empty()) throw SpecErrors(std::move(errors));
  return spec;
}

PipelineSpec load_spec_file(const std::string& path, EnvLookup env) {
  const std::string text = read_file(path);
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error) absolute = path;
  return load_spec_text(text, path, absolute.parent_path().string(), env);
}

}  // namespace tandem::spec
