// Errors of the HTTP API as values: an ApiError carries the status and the fields of
// OpenAI's error object; Parsed<T> is a parse result, the value or the error. Parsers of
// untrusted bodies return these and never throw.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace citadel::api {

struct ApiError {
    int status = 400;
    std::string message;
    // "invalid_request_error", "not_found_error", "server_error", "overloaded_error",
    // "rate_limit_error", ...
    std::string type = "invalid_request_error";
    std::string param;  // the offending field's path ("messages[2].content"); empty -> null
    std::string code;   // empty -> null
    // Extra response headers (Retry-After, x-ratelimit-*, WWW-Authenticate).
    std::vector<std::pair<std::string, std::string>> headers;
};

// A 400 invalid_request_error about one field; the message starts with the field's path:
// invalid_param("temperature", "must be in [0, 2], got 3") -> "temperature: must be …".
ApiError invalid_param(std::string param, std::string problem);
// A 400 invalid_request_error that names no field.
ApiError invalid_request(std::string message);
ApiError not_found(std::string message, std::string code = {});  // 404 not_found_error
ApiError server_error(std::string message);                      // 500 server_error

// {"error": {"message", "type", "param", "code"}}: OpenAI's shape (null for empty strings).
std::string error_body(const ApiError& e);
// {"error": "message"}: Ollama's shape.
std::string ollama_error_body(const ApiError& e);

// A parse result: the value or an ApiError. It is a std::variant<T, ApiError> (so
// std::get / std::get_if / std::holds_alternative / std::visit work) with the accessors
// of core/status.h's Result: ok(), value(), error(), `->` and `*`.
template <typename T>
class Parsed : public std::variant<T, ApiError> {
  public:
    using Base = std::variant<T, ApiError>;
    using Base::Base;

    bool ok() const { return this->index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(*this); }
    const T& value() const& { return std::get<0>(*this); }
    T&& value() && { return std::get<0>(std::move(*this)); }
    const ApiError& error() const { return std::get<1>(*this); }

    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
};

}  // namespace citadel::api
