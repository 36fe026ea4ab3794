// Every kind of broken GGUF input gives an error that names the file and the problem.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/gguf_test_util.h"

namespace citadel::gguf {
namespace {

using testing::Raw;
using testing::TempDir;

constexpr uint32_t kF32 = 0, kQ4_0 = 2;

// Parses `bytes` from an exactly-sized copy and returns the error (fails if it parsed).
std::string parse_error(const std::vector<uint8_t>& bytes) {
    const std::vector<uint8_t> copy(bytes);
    auto r = File::parse(copy.data(), copy.size(), "mem.gguf");
    EXPECT_FALSE(r.ok()) << "parsed unexpectedly";
    if (r.ok()) return {};
    EXPECT_EQ(r.error().rfind("mem.gguf: ", 0), 0u) << r.error();
    return r.error();
}

// A valid file with two f32 tensors of 8 elements each, to corrupt one field at a time.
Raw two_tensors(uint64_t offset_b = 32, uint32_t type_b = kF32,
                std::vector<uint64_t> dims_b = {8}) {
    Raw r;
    r.header(2, 1).kv_str("general.architecture", "llama");
    r.tensor("a", {8}, kF32, 0).tensor("b", dims_b, type_b, offset_b);
    return r.pad(32).zeros(64);
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

TEST(GgufValidation, BaselineParses) {
    Raw r = two_tensors();
    auto f = File::parse(r.bytes.data(), r.bytes.size(), "mem.gguf");
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_EQ((*f)->tensors().size(), 2u);
    EXPECT_EQ((*f)->data_offset() % 32, 0u);
    EXPECT_EQ((*f)->find_tensor("b")->data, r.bytes.data() + (*f)->data_offset() + 32);
}

TEST(GgufValidation, MissingUnreadableAndDirectory) {
    auto missing = File::open("/nonexistent/dir/model.gguf");
    ASSERT_FALSE(missing.ok());
    EXPECT_HAS(missing.error(), "/nonexistent/dir/model.gguf");
    EXPECT_HAS(missing.error(), "No such file");

    TempDir dir;
    auto is_dir = File::open(dir.path());
    ASSERT_FALSE(is_dir.ok());
    EXPECT_HAS(is_dir.error(), "not a regular file");

    if (::geteuid() != 0) {  // root reads anything
        const std::string path = dir.file("locked.gguf");
        write_file(path, two_tensors().bytes);
        ::chmod(path.c_str(), 0);
        auto locked = File::open(path);
        ASSERT_FALSE(locked.ok());
        EXPECT_HAS(locked.error(), "Permission denied");
    }
}

TEST(GgufValidation, TooSmallAndBadMagic) {
    TempDir dir;
    write_file(dir.file("empty.gguf"), {});
    auto empty = File::open(dir.file("empty.gguf"));
    ASSERT_FALSE(empty.ok());
    EXPECT_HAS(empty.error(), "too small");
    EXPECT_HAS(empty.error(), "empty.gguf");

    write_file(dir.file("short.gguf"), {'G', 'G', 'U', 'F', 3, 0});
    auto short_file = File::open(dir.file("short.gguf"));
    ASSERT_FALSE(short_file.ok());
    EXPECT_HAS(short_file.error(), "too small");

    std::vector<uint8_t> png(100, 0);
    std::memcpy(png.data(), "\x89PNG", 4);
    write_file(dir.file("image.gguf"), png);
    auto image = File::open(dir.file("image.gguf"));
    ASSERT_FALSE(image.ok());
    EXPECT_HAS(image.error(), "not a GGUF file");
    EXPECT_HAS(parse_error({'G', 'G', 'U', 'G', 0, 0, 0, 0}), "not a GGUF file");
}

TEST(GgufValidation, Versions) {
    Raw v1, v9, big, v2;
    v1.header(0, 0, 1);
    EXPECT_HAS(parse_error(v1.bytes), "version 1 is not supported");
    v9.header(0, 0, 9);
    EXPECT_HAS(parse_error(v9.bytes), "unsupported GGUF version 9");
    big.header(0, 0, 0x03000000);
    EXPECT_HAS(parse_error(big.bytes), "big-endian");
    v2.header(0, 0, 2);
    auto f = File::parse(v2.bytes.data(), v2.bytes.size(), "v2");
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_EQ((*f)->version(), 2u);
}

TEST(GgufValidation, TruncatedStringsAndCounts) {
    Raw key;
    key.header(0, 1).put(uint64_t(1000)).zeros(10);
    EXPECT_HAS(parse_error(key.bytes), "truncated");
    Raw value;
    value.header(0, 1).str("k").put(uint32_t(ValueType::STRING)).put(uint64_t(1) << 62);
    EXPECT_HAS(parse_error(value.bytes), "truncated");
    Raw kv_count;
    kv_count.header(0, uint64_t(1) << 60).zeros(64);
    EXPECT_HAS(parse_error(kv_count.bytes), "metadata count");
    Raw tensor_count;
    tensor_count.header(~uint64_t(0), 0).zeros(64);
    EXPECT_HAS(parse_error(tensor_count.bytes), "tensor count");
    Raw info;
    info.header(1, 0).str("t").put(uint32_t(4)).put(uint64_t(8)).put(uint64_t(8)).put(uint64_t(8));
    EXPECT_HAS(parse_error(info.bytes), "truncated");
    EXPECT_HAS(parse_error(info.bytes), "'t'");
}

TEST(GgufValidation, Arrays) {
    Raw huge;
    huge.header(0, 1).str("arr").put(uint32_t(ValueType::ARRAY)).put(uint32_t(ValueType::U32));
    huge.put(uint64_t(1) << 61).zeros(16);
    const std::string e = parse_error(huge.bytes);
    EXPECT_HAS(e, "'arr'");
    EXPECT_HAS(e, "cannot fit");

    Raw deep;
    deep.header(0, 1).str("deep").put(uint32_t(ValueType::ARRAY));
    for (int i = 0; i < 20; ++i) deep.put(uint32_t(ValueType::ARRAY)).put(uint64_t(1));
    deep.put(uint32_t(ValueType::U8)).put(uint64_t(0));
    EXPECT_HAS(parse_error(deep.bytes), "nested deeper");

    Raw elem;
    elem.header(0, 1).str("arr").put(uint32_t(ValueType::ARRAY)).put(uint32_t(77));
    elem.put(uint64_t(0));
    EXPECT_HAS(parse_error(elem.bytes), "unknown element type 77");
}

TEST(GgufValidation, UnknownValueTypeAndDuplicateKey) {
    Raw type;
    type.header(0, 1).str("odd").put(uint32_t(13)).put(uint32_t(0));
    const std::string e = parse_error(type.bytes);
    EXPECT_HAS(e, "unknown value type 13");
    EXPECT_HAS(e, "'odd'");
    Raw dup;
    dup.header(0, 2).kv_u32("x", 1).kv_u32("x", 2);
    EXPECT_HAS(parse_error(dup.bytes), "duplicate metadata key 'x'");
}

TEST(GgufValidation, Alignment) {
    for (uint32_t bad : {0u, 48u, 3u}) {
        Raw r;
        r.header(0, 1).kv_u32("general.alignment", bad);
        EXPECT_HAS(parse_error(r.bytes), "general.alignment");
    }
    Raw text;
    text.header(0, 1).kv_str("general.alignment", "32");
    EXPECT_HAS(parse_error(text.bytes), "must be an integer");

    Raw ok;
    ok.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {4}, kF32, 0).pad(64).zeros(16);
    auto f = File::parse(ok.bytes.data(), ok.bytes.size(), "a64");
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_EQ((*f)->alignment(), 64u);
    EXPECT_EQ((*f)->data_offset() % 64, 0u);
}

TEST(GgufValidation, TensorInfos) {
    Raw dup;
    dup.header(2, 0).tensor("w", {8}, kF32, 0).tensor("w", {8}, kF32, 32).pad(32).zeros(64);
    EXPECT_HAS(parse_error(dup.bytes), "duplicate tensor name 'w'");

    const std::string type = parse_error(two_tensors(32, 4).bytes);  // 4 was removed (q4_2)
    EXPECT_HAS(type, "tensor 'b' has unknown tensor type id 4");
    EXPECT_HAS(parse_error(two_tensors(32, kF32, {}).bytes), "n_dims 0");
    EXPECT_HAS(parse_error(two_tensors(32, kF32, {1, 1, 1, 1, 1}).bytes), "n_dims 5");
    EXPECT_HAS(parse_error(two_tensors(32, kF32, {8, 0}).bytes), "dimension 1 = 0");
    EXPECT_HAS(parse_error(two_tensors(32, kF32, {~uint64_t(0)}).bytes), "must be positive");
    const uint64_t big = uint64_t(1) << 40;
    EXPECT_HAS(parse_error(two_tensors(32, kF32, {big, big}).bytes), "overflow");
    EXPECT_HAS(parse_error(two_tensors(32, kQ4_0, {33}).bytes), "not a multiple of the block");
}

TEST(GgufValidation, TensorPlacement) {
    EXPECT_HAS(parse_error(two_tensors(36).bytes), "not aligned");
    EXPECT_HAS(parse_error(two_tensors(64).bytes), "outside the file");
    EXPECT_HAS(parse_error(two_tensors(uint64_t(1) << 40).bytes), "outside the file");
    EXPECT_HAS(parse_error(two_tensors(~uint64_t(31)).bytes), "outside the file");
    EXPECT_HAS(parse_error(two_tensors(0).bytes), "overlap");
    EXPECT_HAS(parse_error(two_tensors(0, kF32, {16}).bytes), "overlap");
    Raw no_data;
    no_data.header(1, 0).tensor("t", {8}, kF32, 0);
    EXPECT_HAS(parse_error(no_data.bytes), "truncated");
}

TEST(GgufValidation, KnownButNotComputableTypesRead) {
    Raw r;
    r.header(1, 0).tensor("iq", {256, 2}, 16, 0).pad(32).zeros(2 * 66);  // iq2_xxs
    auto f = File::parse(r.bytes.data(), r.bytes.size(), "iq.gguf");
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_EQ(uint32_t((*f)->tensors()[0].type), 16u);
    EXPECT_EQ((*f)->tensors()[0].n_bytes, 132u);
}

// Random byte corruption of a small file: any outcome is fine except a crash (ASan/UBSan
// builds make this meaningful).
TEST(GgufValidation, RandomCorruptionNeverCrashes) {
    const std::vector<uint8_t> base = two_tensors().bytes;
    uint64_t seed = 12345;
    auto next = [&] {
        return (seed = seed * 6364136223846793005ull + 1442695040888963407ull) >> 33;
    };
    for (int i = 0; i < 3000; ++i) {
        std::vector<uint8_t> b = base;
        const int flips = 1 + int(next() % 4);
        for (int k = 0; k < flips; ++k) b[next() % b.size()] = uint8_t(next());
        b.resize(b.size() - next() % 8);
        auto r = File::parse(b.data(), b.size(), "x");
        if (!r.ok()) {
            EXPECT_FALSE(r.error().empty());
        }
    }
}

}  // namespace
}  // namespace citadel::gguf
