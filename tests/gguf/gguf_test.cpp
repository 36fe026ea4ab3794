// GGUF writer -> reader round trips, the real reference models, and truncated real files.
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/gguf_test_util.h"

namespace citadel::gguf {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

void expect_same(const Value& a, const Value& b, const std::string& key) {
    ASSERT_EQ(a.type, b.type) << key;
    if (const Array* x = a.as_array()) {
        const Array* y = b.as_array();
        ASSERT_NE(y, nullptr) << key;
        ASSERT_EQ(x->elem_type, y->elem_type) << key;
        ASSERT_EQ(x->items.size(), y->items.size()) << key;
        for (size_t i = 0; i < x->items.size(); ++i) expect_same(x->items[i], y->items[i], key);
        return;
    }
    ASSERT_EQ(a.data.index(), b.data.index()) << key;
    if (auto* u = std::get_if<uint64_t>(&a.data)) {
        EXPECT_EQ(*u, std::get<uint64_t>(b.data)) << key;
    }
    if (auto* i = std::get_if<int64_t>(&a.data)) {
        EXPECT_EQ(*i, std::get<int64_t>(b.data)) << key;
    }
    if (auto* d = std::get_if<double>(&a.data)) {
        EXPECT_EQ(*d, std::get<double>(b.data)) << key;
    }
    if (auto* v = std::get_if<bool>(&a.data)) {
        EXPECT_EQ(*v, std::get<bool>(b.data)) << key;
    }
    if (auto* t = std::get_if<std::string>(&a.data)) {
        EXPECT_EQ(*t, std::get<std::string>(b.data)) << key;
    }
}

std::vector<std::pair<std::string, Value>> all_value_types() {
    std::vector<Value> nested = {Value::array(ValueType::U8, {{ValueType::U8, uint64_t(1)}}),
                                 Value::array(ValueType::U8, {})};
    return {
        {"u8", {ValueType::U8, uint64_t(255)}},
        {"i8", {ValueType::I8, int64_t(-128)}},
        {"u16", {ValueType::U16, uint64_t(65535)}},
        {"i16", {ValueType::I16, int64_t(-32768)}},
        {"u32", Value::u32(4000000000u)},
        {"i32", Value::i32(-2000000000)},
        {"u64", Value::u64(std::numeric_limits<uint64_t>::max())},
        {"i64", {ValueType::I64, std::numeric_limits<int64_t>::min()}},
        {"f32", Value::f32(1.5f)},
        {"f64", {ValueType::F64, 3.141592653589793}},
        {"bool", Value::boolean(true)},
        {"string", Value::string(std::string("h\xc3\xa9llo\0x", 8))},
        {"empty_string", Value::string("")},
        {"strings", Value::string_array({"a", "", "ccc"})},
        {"floats", Value::f32_array({0.5f, -2.0f})},
        {"ints", Value::i32_array({1, -1, 7})},
        {"nested", Value::array(ValueType::ARRAY, nested)},
        {"empty", Value::array(ValueType::F64, {})},
    };
}

struct TensorSpec {
    std::string name;
    std::vector<int64_t> dims;
    DType type;
};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
    return v;
}

void round_trip(size_t alignment) {
    const std::vector<TensorSpec> specs = {
        {"f32", {4, 3}, DType::F32},     {"f16", {8}, DType::F16},
        {"q4_0", {64, 2}, DType::Q4_0},  {"q8_0", {32}, DType::Q8_0},
        {"q4_k", {256, 2}, DType::Q4_K}, {"bf16", {2, 2, 2, 3}, DType::BF16},
        {"iq4_nl", {32}, DType(20)},
    };
    Writer w;
    w.set_alignment(alignment);
    for (auto& [key, value] : all_value_types()) w.set(key, value);
    w.set("u8", {ValueType::U8, uint64_t(7)});  // replaces in place
    std::vector<std::vector<uint8_t>> data;
    for (size_t i = 0; i < specs.size(); ++i) {
        const TensorSpec& s = specs[i];
        const int64_t rows = s.dims.size() == 1 ? 1 : 0;
        int64_t n = 1;
        for (int64_t d : s.dims) n *= d;
        data.push_back(pattern(row_bytes(s.type, s.dims[0]) * size_t(n / s.dims[0]), uint8_t(i)));
        (void)rows;
        if (i % 2 == 0) {
            w.add_tensor(s.name, s.dims, s.type, data.back().data());
        } else {
            const std::vector<uint8_t>* src = &data.back();
            w.add_tensor(s.name, s.dims, s.type, [src, i, &data](uint8_t* dst, size_t n_bytes) {
                ASSERT_EQ(n_bytes, data[i].size());
                std::memcpy(dst, data[i].data(), n_bytes);
                (void)src;
            });
        }
    }
    TempDir dir;
    const std::string path = dir.file("rt.gguf");
    Status st = w.write(path);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    auto f = File::open(path);
    ASSERT_TRUE(f.ok()) << f.error();
    const File& file = **f;
    EXPECT_EQ(file.version(), 3u);
    EXPECT_EQ(file.alignment(), alignment);
    auto expected = all_value_types();
    expected[0].second = {ValueType::U8, uint64_t(7)};
    ASSERT_GE(file.metadata().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(file.metadata()[i].first, expected[i].first);  // order kept
        expect_same(file.metadata()[i].second, expected[i].second, expected[i].first);
    }
    ASSERT_EQ(file.tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        const TensorInfo* t = file.find_tensor(specs[i].name);
        ASSERT_NE(t, nullptr) << specs[i].name;
        EXPECT_EQ(t->dims, specs[i].dims);
        EXPECT_EQ(t->type, specs[i].type);
        EXPECT_EQ(t->offset % alignment, 0u);
        ASSERT_EQ(t->n_bytes, data[i].size());
        EXPECT_EQ(0, std::memcmp(t->data, data[i].data(), t->n_bytes)) << specs[i].name;
    }
}

TEST(GgufRoundTrip, AllValueTypesAndTensorTypes) {
    round_trip(32);
}
TEST(GgufRoundTrip, CustomAlignment) {
    round_trip(64);
}

TEST(GgufRoundTrip, Accessors) {
    Writer w;
    w.set("general.architecture", Value::string("llama"));
    w.set("n", Value::u32(12));
    w.set("big", Value::u64(std::numeric_limits<uint64_t>::max()));
    w.set("eps", Value::f32(0.25f));
    w.set("flag", Value::boolean(false));
    TempDir dir;
    ASSERT_TRUE(w.write(dir.file("a.gguf")).ok());
    auto f = File::open(dir.file("a.gguf"));
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_EQ((*f)->get_string("general.architecture"), "llama");
    EXPECT_EQ((*f)->get_int("n"), 12);
    EXPECT_EQ((*f)->get_float("n"), 12.0);
    EXPECT_EQ((*f)->get_int("big"), std::nullopt);
    EXPECT_EQ((*f)->get_float("eps"), 0.25);
    EXPECT_EQ((*f)->get_bool("flag"), false);
    EXPECT_EQ((*f)->get_string("n"), std::nullopt);
    EXPECT_EQ((*f)->find("missing"), nullptr);
    EXPECT_TRUE((*f)->tensors().empty());
}

TEST(GgufWriter, Errors) {
    TempDir dir;
    Writer bad_row;
    bad_row.add_tensor("w", {33}, DType::Q4_0, [](uint8_t*, size_t) {});
    Status s = bad_row.write(dir.file("x.gguf"));
    EXPECT_HAS(s.message(), "not a multiple");
    EXPECT_FALSE(fs::exists(dir.file("x.gguf")));

    Writer bad_value;
    bad_value.set("k", {ValueType::U8, uint64_t(300)});
    EXPECT_HAS(bad_value.write(dir.file("x.gguf")).message(), "'k'");
    Writer key_alignment;  // the metadata key sets the alignment too
    key_alignment.set("general.alignment", Value::u32(128));
    key_alignment.add_tensor("t", {4}, DType::F32, [](uint8_t*, size_t) {});
    ASSERT_TRUE(key_alignment.write(dir.file("k.gguf")).ok());
    auto k = File::open(dir.file("k.gguf"));
    ASSERT_TRUE(k.ok()) << k.error();
    EXPECT_EQ((*k)->alignment(), 128u);
    EXPECT_EQ((*k)->data_offset() % 128, 0u);
    fs::remove(dir.file("k.gguf"));

    Writer bad_alignment;
    bad_alignment.set_alignment(24);
    EXPECT_HAS(bad_alignment.write(dir.file("x.gguf")).message(), "power of two");

    Writer ok;
    ok.set("a", Value::u32(1));
    s = ok.write(dir.file("no/such/dir/x.gguf"));
    EXPECT_HAS(s.message(), "cannot create");
    EXPECT_HAS(s.message(), "No such file");
    EXPECT_TRUE(fs::is_empty(dir.path()));
}

// Runs in a death-test child: writes a 1 MiB tensor under a 64 KiB file-size limit.
[[noreturn]] void write_past_size_limit(const std::string& path) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{1 << 16, 1 << 16};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    std::vector<uint8_t> big(1 << 20, 1);
    Writer w;
    w.add_tensor("big", {int64_t(big.size() / 4)}, DType::F32, big.data());
    Status st = w.write(path);
    const bool good = !st.ok() && st.message().find("cannot write") != std::string::npos &&
                      !fs::exists(path + ".tmp") && File::open(path).ok();
    std::fprintf(stderr, "%s\n", st.message().c_str());
    std::_Exit(good ? 0 : 1);
}

// A write that fails midway (the file-size limit stands in for a full disk) reports the
// error, leaves no temp file and keeps the old file at the path intact.
TEST(GgufWriter, FailedWriteKeepsOldFile) {
    TempDir dir;
    const std::string path = dir.file("m.gguf");
    Writer small;
    small.set("v", Value::u32(1));
    ASSERT_TRUE(small.write(path).ok());
    EXPECT_EXIT(write_past_size_limit(path), ::testing::ExitedWithCode(0), "File too large");
}

std::vector<fs::path> reference_models() {
    std::vector<fs::path> out;
    const fs::path dir = fs::path(CITADEL_SHARED_DIR) / "reference" / "models";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".gguf") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(GgufReference, EveryModelOpens) {
    const auto models = reference_models();
    if (models.empty()) GTEST_SKIP() << "no reference models under " << CITADEL_SHARED_DIR;
    for (const fs::path& p : models) {
        auto f = File::open(p.string());
        ASSERT_TRUE(f.ok()) << f.error();
        const File& file = **f;
        EXPECT_TRUE(file.get_string("general.architecture").has_value()) << p;
        EXPECT_FALSE(file.tensors().empty()) << p;
        for (const TensorInfo& t : file.tensors()) {
            EXPECT_NE(t.data, nullptr) << t.name;
            EXPECT_LE(file.data_offset() + t.offset + t.n_bytes, file.file_size()) << t.name;
            EXPECT_EQ(t.n_bytes, row_bytes(t.type, t.dims[0]) * size_t(t.n_rows())) << t.name;
        }
    }
}

TEST(GgufReference, Stories260K) {
    const std::string path = std::string(CITADEL_SHARED_DIR) + "/reference/models/stories260K.gguf";
    if (!fs::exists(path)) GTEST_SKIP() << path << " missing";
    auto f = File::open(path);
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_EQ((*f)->get_string("general.architecture"), "llama");
    const TensorInfo* emb = (*f)->find_tensor("token_embd.weight");
    ASSERT_NE(emb, nullptr);
    EXPECT_EQ(emb->dims.size(), 2u);
    const Value* tokens = (*f)->find("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    ASSERT_NE(tokens->as_array(), nullptr);
    EXPECT_EQ(int64_t(tokens->as_array()->items.size()), emb->dims[1]);
}

// Cutting a real file anywhere before the end of its last tensor is an error, never a crash.
TEST(GgufReference, TruncatedRealFileAlwaysFails) {
    const std::string path = std::string(CITADEL_SHARED_DIR) + "/reference/models/stories260K.gguf";
    if (!fs::exists(path)) GTEST_SKIP() << path << " missing";
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> all((std::istreambuf_iterator<char>(in)), {});
    auto f = File::parse(all.data(), all.size(), "full");
    ASSERT_TRUE(f.ok()) << f.error();
    size_t end = 0;
    for (const TensorInfo& t : (*f)->tensors()) {
        end = std::max(end, (*f)->data_offset() + size_t(t.offset) + t.n_bytes);
    }
    std::vector<size_t> cuts;
    const size_t header_end = (*f)->data_offset() + 64;
    for (size_t n = 0; n < header_end; n += (n < 4096 ? 1 : 3)) cuts.push_back(n);
    for (size_t n = header_end; n < end; n += (end - header_end) / 300 + 1) cuts.push_back(n);
    cuts.push_back(end - 1);
    for (size_t n : cuts) {
        const std::vector<uint8_t> prefix(all.begin(), all.begin() + ptrdiff_t(n));
        auto r = File::parse(prefix.data(), prefix.size(), "cut");
        ASSERT_FALSE(r.ok()) << "parsed a file cut at " << n;
        ASSERT_FALSE(r.error().empty());
    }
}

}  // namespace
}  // namespace citadel::gguf
