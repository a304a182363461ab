// `tandem fetch`: copies one object, or every object under a prefix, from S3 or a folder to a
// local path, with the same S3 client, configuration and credentials as a transform job. Used
// by tandem-python to read an entry point's code from `s3://` (SAGEMAKER_SUBMIT_DIRECTORY).
#pragma once

#include <string>

namespace tandem::cli {

// `source` names an object exactly: it is written to the file `destination` (into it, under
// the object's name, when `destination` is a folder). Otherwise every
// object under `source` as a prefix is written below the folder `destination`, keyed relative
// to the prefix (`s3://b/code/` + `code/lib/x.py` -> `destination/lib/x.py`). A key that would
// leave `destination` (`..`, an absolute path) is an error, as is a source with no object.
// Returns the process exit code: 0, or 1 after a line on stderr naming the URI and what failed.
int fetch(const std::string& source, const std::string& destination);

}  // namespace tandem::cli
