// File::open: maps a GGUF file read-only and validates it with the parser. Tensor data
// points straight into the mapping; nothing is copied.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "gguf/format.h"

namespace citadel::gguf {
namespace {

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

// Closes a descriptor on every return path.
struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

File::~File() {
    if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

Result<std::shared_ptr<const File>> File::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::error(path + ": cannot open: " + errno_text(errno));
    FdCloser closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Status::error(path + ": cannot stat: " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) return Status::error(path + ": not a regular file");
    const auto size = size_t(st.st_size);
    if (size < kHeaderBytes) {
        // Too small to map usefully; the parser words the error (bad magic or too small).
        uint8_t head[kHeaderBytes] = {};
        const ssize_t got = ::pread(fd, head, sizeof(head), 0);
        if (got < 0) return Status::error(path + ": cannot read: " + errno_text(errno));
        Result<std::shared_ptr<File>> r = Parser::run(head, size_t(got), path);
        if (!r) return r.status();
        return Status::error(path + ": too small to be a GGUF file");  // not reached
    }
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) return Status::error(path + ": cannot map: " + errno_text(errno));
    Result<std::shared_ptr<File>> r = Parser::run(static_cast<const uint8_t*>(addr), size, path);
    if (!r) {
        ::munmap(addr, size);
        return r.status();
    }
    r.value()->mapping_ = addr;
    return std::shared_ptr<const File>(std::move(r).value());
}

}  // namespace citadel::gguf
