// Helpers shared by the api tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "api/errors.h"
#include "api/json_util.h"

namespace citadel::api::test {

// Checks that a parse failed with this status and param, and that the message names the
// param and contains `contains`.
template <typename T>
::testing::AssertionResult failed_with(const Parsed<T>& p, const std::string& param,
                                       const std::string& contains = "", int status = 400) {
    if (p.ok()) return ::testing::AssertionFailure() << "parsed, expected an error on " << param;
    const ApiError& e = p.error();
    if (e.status != status) {
        return ::testing::AssertionFailure() << "status " << e.status << ": " << e.message;
    }
    if (e.param != param) {
        return ::testing::AssertionFailure()
               << "param \"" << e.param << "\", expected \"" << param << "\": " << e.message;
    }
    if (!param.empty() && e.message.find(param) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "message does not name " << param << ": " << e.message;
    }
    if (e.message.find(contains) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "message lacks \"" << contains << "\": " << e.message;
    }
    return ::testing::AssertionSuccess();
}

inline Json parse(const std::string& text) {
    return Json::parse(text);
}

}  // namespace citadel::api::test
