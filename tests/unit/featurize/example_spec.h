// The featurize.json the featurizer tests share: num = impute + scale over columns 0 and 2,
// cat = impute + onehot (ignore) over column 1, column 3 dropped.
#pragma once

namespace tandem::builtin::featurize::testing {

inline const char* const kExampleSpec = R"({
  "format": "tandem-featurize/1",
  "n_input_columns": 4,
  "input_columns": ["age", "color", "size", "id"],
  "transformers": [
    {"name": "num", "columns": [0, 2], "steps": [
      {"type": "impute", "fill": [41.5, 3.0]},
      {"type": "scale", "mean": [40.1, 2.5], "scale": [12.0, 1.5]}
    ]},
    {"name": "cat", "columns": [1], "steps": [
      {"type": "impute", "fill": ["missing"]},
      {"type": "onehot", "categories": [["blue", "missing", "red"]], "handle_unknown": "ignore"}
    ]}
  ],
  "remainder": "drop"
})";

}  // namespace tandem::builtin::featurize::testing
