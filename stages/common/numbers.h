// Reading and writing the numbers that travel between stages as text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tandem::builtin {

// `text` without leading and trailing spaces and tabs.
std::string_view trim(std::string_view text);

// Whether a field stands for a missing value: empty, or "nan" in any case (what pandas and
// numpy write for NaN), ignoring surrounding spaces.
bool is_missing(std::string_view field);

// The number in `field` (surrounding spaces allowed, a leading `+` too, "inf" and "nan" as
// strtod reads them), or nothing when the field holds anything else.
std::optional<double> parse_number(std::string_view field);

// Appends the shortest text that reads back as exactly `value` (to_chars): 0.1 -> "0.1".
void append_shortest(std::string& out, double value);
// The same for a float: XGBoost predicts in float32, so this prints every digit it computed.
void append_shortest(std::string& out, float value);
// Appends `value` with 15 significant digits (DBL_DIG): a decimal of up to 15 digits prints
// as written, and arithmetic noise does not show (1 - 0.97 -> "0.03").
void append_decimal(std::string& out, double value);

// Quotes `text` for an error message, cut to 40 characters: a whole CSV line in a message
// helps no one.
std::string quote_for_message(std::string_view text);

}  // namespace tandem::builtin
