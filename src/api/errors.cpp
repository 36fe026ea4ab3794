#include "api/errors.h"

#include "api/json_util.h"

namespace citadel::api {

ApiError invalid_param(std::string param, std::string problem) {
    ApiError e;
    e.message = param + ": " + problem;
    e.param = std::move(param);
    return e;
}

ApiError invalid_request(std::string message) {
    ApiError e;
    e.message = std::move(message);
    return e;
}

ApiError not_found(std::string message, std::string code) {
    return {.status = 404,
            .message = std::move(message),
            .type = "not_found_error",
            .code = std::move(code)};
}

ApiError server_error(std::string message) {
    return {.status = 500, .message = std::move(message), .type = "server_error"};
}

namespace {

Json string_or_null(const std::string& s) {
    return s.empty() ? Json(nullptr) : Json(s);
}

}  // namespace

std::string error_body(const ApiError& e) {
    Json error = Json::object();
    error["message"] = e.message;
    error["type"] = e.type;
    error["param"] = string_or_null(e.param);
    error["code"] = string_or_null(e.code);
    Json body = Json::object();
    body["error"] = std::move(error);
    return dump_json(body);
}

std::string ollama_error_body(const ApiError& e) {
    Json body = Json::object();
    body["error"] = e.message;
    return dump_json(body);
}

}  // namespace citadel::api
