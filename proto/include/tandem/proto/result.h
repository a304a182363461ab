// The one way tandem says "this failed" as a value: a Result<T, E> holds either the T a step
// produced or the E that prevented it, and a Result<void, E> says only whether a step that
// produces nothing succeeded. Each module picks its E (proto::Error for the request path,
// transform::Error for batch jobs, builtin::Failure for the built-in stages) and names the
// pair with an alias. Exceptions stay at the boundaries that already throw (yaml-cpp,
// nlohmann, the stage SDK's handler contract), converted there.
//
// Header-only and dependency-free, so modules that do not speak HTTP (transform, the
// built-in stages) use it without linking proto (target tandem_result).
#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace tandem {

// Marks a value as the error, for when T and E are the same type (or convert into each
// other) and the implicit constructors would be ambiguous: `return Err{std::string(why)};`.
template <typename E>
struct Err {
  E error;
};
template <typename E>
Err(E) -> Err<E>;

// A value or the error that prevented it. Reading value() of a failure, or error() of a
// success, throws (std::bad_variant_access, std::bad_optional_access for Result<void, E>): a
// defect in the caller, never an input's fault.
template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  // Implicit from a T or an E when they differ. Templates only so that each can be withdrawn
  // when T and E are the same type; U and V are never deduced, so conversions are as for a
  // plain Result(T) and Result(E).
  template <typename U = T>
  requires(!std::is_same_v<U, E>) Result(std::type_identity_t<U> value)
      : v_(std::in_place_index<0>, std::move(value)) {}
  template <typename V = E>
  requires(!std::is_same_v<T, V>) Result(std::type_identity_t<V> error)
      : v_(std::in_place_index<1>, std::move(error)) {}
  template <typename U>
  Result(Err<U> err) : v_(std::in_place_index<1>, std::move(err.error)) {}

  static Result success(T value) { return Result(std::in_place_index<0>, std::move(value)); }
  static Result failure(E error) { return Result(std::in_place_index<1>, std::move(error)); }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E& error() & { return std::get<1>(v_); }
  const E& error() const& { return std::get<1>(v_); }
  E&& error() && { return std::get<1>(std::move(v_)); }

 private:
  template <std::size_t I, typename V>
  Result(std::in_place_index_t<I> index, V&& v) : v_(index, std::forward<V>(v)) {}

  std::variant<T, E> v_;
};

// Success or the error, for a step that produces nothing. Default-constructed, it is success.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(std::move(error)) {}
  template <typename U>
  Result(Err<U> err) : error_(std::move(err.error)) {}

  static Result success() { return Result(); }
  static Result failure(E error) { return Result(std::move(error)); }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }

  E& error() & { return error_.value(); }
  const E& error() const& { return error_.value(); }
  E&& error() && { return std::move(error_).value(); }

 private:
  std::optional<E> error_;
};

template <typename E>
using Status = Result<void, E>;

}  // namespace tandem
