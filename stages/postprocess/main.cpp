// tandem-postprocess: turns rows of model scores into labels, by a threshold or the highest
// score, as configured in postprocess.json (see docs/stages.md).
#include <fmt/format.h>

#include <memory>
#include <string_view>

#include "stages/common/builtin_main.h"
#include "stages/postprocess/postprocessor.h"

namespace {

using tandem::builtin::postprocess::Postprocessor;
using tandem::builtin::postprocess::PostprocessSpec;

constexpr std::string_view usage = R"(usage: tandem-postprocess [serve]

Serves the label mapping in $SM_MODEL_DIR/postprocess.json (SM_MODEL_DIR defaults to
/opt/ml/model): POST /invocations with text/csv rows of scores answers a label and score per
row as application/json (default), text/csv or application/jsonlines, chosen by Accept.
Environment: SAGEMAKER_BIND_TO_PORT (default 8080), TANDEM_STAGE_HOST, TANDEM_STAGE_THREADS.
)";

tandem::builtin::LoadedStage load(const std::filesystem::path& model_dir) {
  const auto file = model_dir / tandem::builtin::postprocess::postprocess_file_name;
  auto postprocessor = std::make_shared<const Postprocessor>(
      tandem::builtin::postprocess::load_postprocess_spec(file));
  const auto& spec = postprocessor->spec();
  const auto summary =
      spec.mode == PostprocessSpec::Mode::threshold
          ? fmt::format("{} (threshold {} between \"{}\" and \"{}\")", file.string(),
                        spec.threshold, spec.labels[0], spec.labels[1])
          : fmt::format("{} (argmax over {} labels)", file.string(), spec.labels.size());
  return {[postprocessor](const tandem::stage::Request& request) {
            return tandem::builtin::respond(
                postprocessor->invoke(request.body, request.content_type, request.accept));
          },
          summary};
}

}  // namespace

int main(int argc, char** argv) {
  return tandem::builtin::run_builtin_stage({"tandem-postprocess", usage, load}, argc, argv);
}
