// tandem-featurize: serves a fitted scikit-learn ColumnTransformer exported as featurize.json
// (see docs/stages.md): text/csv, application/json or application/jsonlines rows in, numeric
// text/csv out.
#include <fmt/format.h>

#include <memory>
#include <string_view>

#include "stages/common/builtin_main.h"
#include "stages/featurize/featurizer.h"

namespace {

using tandem::builtin::featurize::Featurizer;

constexpr std::string_view usage = R"(usage: tandem-featurize [serve]

Serves the featurizer in $SM_MODEL_DIR/featurize.json (SM_MODEL_DIR defaults to /opt/ml/model):
POST /invocations with text/csv, application/json or application/jsonlines rows answers one
text/csv line of numbers per row. Environment: SAGEMAKER_BIND_TO_PORT (default 8080),
TANDEM_STAGE_HOST, TANDEM_STAGE_THREADS.
)";

tandem::builtin::LoadedStage load(const std::filesystem::path& model_dir) {
  const auto file = model_dir / tandem::builtin::featurize::featurize_file_name;
  auto featurizer =
      std::make_shared<const Featurizer>(tandem::builtin::featurize::load_featurize_spec(file));
  const auto& spec = featurizer->spec();
  const auto summary =
      fmt::format("{} ({} input columns, {} transformer{}, {} output columns)", file.string(),
                  spec.n_input_columns, spec.transformers.size(),
                  spec.transformers.size() == 1 ? "" : "s", featurizer->output_width());
  return {[featurizer](const tandem::stage::Request& request) {
            return tandem::builtin::respond(
                featurizer->invoke(request.body, request.content_type, request.accept));
          },
          summary};
}

}  // namespace

int main(int argc, char** argv) {
  return tandem::builtin::run_builtin_stage({"tandem-featurize", usage, load}, argc, argv);
}
