// Where the tests find the shared reference data and the citadel binary.
#pragma once

#include <string>

namespace citadel::test {

inline std::string shared_dir() {
    return CITADEL_SHARED_DIR;
}
inline std::string reference_model(const std::string& name) {
    return shared_dir() + "/reference/models/" + name;
}
inline std::string citadel_binary() {
    return CITADEL_BINARY;
}

}  // namespace citadel::test
