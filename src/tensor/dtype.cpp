#include "tensor/dtype.h"

#include <array>
#include <cctype>

#include "core/status.h"
#include "tensor/blocks.h"

namespace citadel {
namespace {

struct Entry {
    uint32_t id;
    DTypeInfo info;
};

constexpr std::array kTypes = {
    Entry{0, {"f32", 1, 4, true}},
    Entry{1, {"f16", 1, 2, true}},
    Entry{2, {"q4_0", kQK4_0, sizeof(BlockQ4_0), true}},
    Entry{3, {"q4_1", kQK4_1, sizeof(BlockQ4_1), true}},
    Entry{6, {"q5_0", kQK5_0, sizeof(BlockQ5_0), true}},
    Entry{7, {"q5_1", kQK5_1, sizeof(BlockQ5_1), true}},
    Entry{8, {"q8_0", kQK8_0, sizeof(BlockQ8_0), true}},
    Entry{9, {"q8_1", kQK8_1, sizeof(BlockQ8_1), false}},
    Entry{10, {"q2_K", kQK_K, sizeof(BlockQ2_K), true}},
    Entry{11, {"q3_K", kQK_K, sizeof(BlockQ3_K), true}},
    Entry{12, {"q4_K", kQK_K, sizeof(BlockQ4_K), true}},
    Entry{13, {"q5_K", kQK_K, sizeof(BlockQ5_K), true}},
    Entry{14, {"q6_K", kQK_K, sizeof(BlockQ6_K), true}},
    Entry{15, {"q8_K", kQK_K, sizeof(BlockQ8_K), false}},
    // Layouts we know (so files using them can be read and described) but cannot compute.
    Entry{16, {"iq2_xxs", 256, 66, false}},
    Entry{17, {"iq2_xs", 256, 74, false}},
    Entry{18, {"iq3_xxs", 256, 98, false}},
    Entry{19, {"iq1_s", 256, 50, false}},
    Entry{20, {"iq4_nl", 32, 18, false}},
    Entry{21, {"iq3_s", 256, 110, false}},
    Entry{22, {"iq2_s", 256, 82, false}},
    Entry{23, {"iq4_xs", 256, 136, false}},
    Entry{24, {"i8", 1, 1, false}},
    Entry{25, {"i16", 1, 2, false}},
    Entry{26, {"i32", 1, 4, false}},
    Entry{27, {"i64", 1, 8, false}},
    Entry{28, {"f64", 1, 8, false}},
    Entry{29, {"iq1_m", 256, 56, false}},
    Entry{30, {"bf16", 1, 2, true}},
    Entry{34, {"tq1_0", 256, 54, false}},
    Entry{35, {"tq2_0", 256, 66, false}},
    Entry{39, {"mxfp4", 32, 17, false}},
};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
    for (const Entry& e : kTypes) {
        if (e.id == id) return e.info;
    }
    return std::nullopt;
}

const DTypeInfo& dtype_info(DType t) {
    for (const Entry& e : kTypes) {
        if (e.id == static_cast<uint32_t>(t)) return e.info;
    }
    CITADEL_CHECK(false && "DType without an entry in kTypes");
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const Entry& e : kTypes) {
        if (iequals(e.info.name, name)) return static_cast<DType>(e.id);
    }
    return std::nullopt;
}

}  // namespace citadel
