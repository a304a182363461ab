// The little CSV that DataProcessing needs: one record (one line, without its line break)
// split into fields, and fields written back. Fields are kept as their raw text, quotes and
// all, so a record that is only filtered or joined is written back byte for byte.
//
// RFC 4180 quoting: a field that starts with `"` is quoted and ends at the next lone `"`
// (`""` is an escaped quote); only `,` or the end of the record may follow it. A `"` inside an
// unquoted field is an ordinary character (lenient: such files are common and the field is
// kept as written anyway). Embedded line breaks cannot occur: records are lines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/result.h"

namespace tandem::transform {

// The raw text of each field, as views into `record` (which must outlive them); an empty
// record is one empty field. Errors name the 0-based
// position: `CSV position 7: unterminated quoted field`.
Result<std::vector<std::string_view>> split_csv_record(std::string_view record);

// `value` as a CSV field: quoted (with `"` doubled) when it holds `,`, `"`, CR or LF.
std::string quote_csv_field(std::string_view value);

}  // namespace tandem::transform
