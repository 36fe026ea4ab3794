// DeploySpec checks and the small formatting rules every target shares.
#include "deploy/spec.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace citadel::deploy {
namespace {

constexpr uint64_t kMiB = uint64_t(1) << 20;
constexpr uint64_t kGiB = uint64_t(1) << 30;

bool is_dns_label(const std::string& s) {
    if (s.empty() || s.size() > 63) return false;
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return s.front() != '-' && s.back() != '-';
}

// A model name travels in `-m NAME=FILE` and in metric labels: keep it to a safe alphabet.
bool is_model_name(const std::string& s) {
    if (s.empty() || s.size() > 128) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool is_file_name(const std::string& s) {
    if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
    for (char c : s) {
        if (c == '/' || c == '\\' || c == '"' || c == '\'' || c == '$' || c == '`' ||
            (unsigned char)c < 0x21 || c == 0x7f)
            return false;
    }
    return true;
}

// "10.0.0.0/8": four octets and a prefix length (IPv6 ranges pass as written if they parse
// as hex groups; Kubernetes checks them again).
bool is_cidr(const std::string& s) {
    const size_t slash = s.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) return false;
    for (size_t i = slash + 1; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    const int bits = std::stoi(s.substr(slash + 1).substr(0, 4));
    const std::string addr = s.substr(0, slash);
    if (addr.find(':') != std::string::npos) {
        for (char c : addr) {
            if (!(std::isxdigit((unsigned char)c) || c == ':')) return false;
        }
        return bits <= 128;
    }
    unsigned a, b, c, d;
    char tail;
    if (std::sscanf(addr.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4) return false;
    return a < 256 && b < 256 && c < 256 && d < 256 && bits <= 32;
}

bool is_absolute_path(const std::string& p) {
    if (p.empty() || p.front() != '/') return false;
    for (char c : p) {
        if ((unsigned char)c < 0x21 || c == '"' || c == '\'' || c == '\\' || c == '$' || c == '%')
            return false;
    }
    return true;
}

bool is_image_ref(const std::string& s) {
    if (s.empty() || s.size() > 255) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '/' ||
                        c == ':' || c == '@';
        if (!ok) return false;
    }
    return s.front() != ':' && s.front() != '/' && s.back() != ':';
}

Status validate_models(const DeploySpec& s) {
    if (s.models.empty()) return Status::error("--model: give at least one model (NAME=FILE.gguf)");
    for (size_t i = 0; i < s.models.size(); ++i) {
        const ModelRef& m = s.models[i];
        if (!is_model_name(m.name))
            return Status::error("--model: name '" + m.name +
                                 "' may hold only letters, digits, '-', '_' and '.'");
        if (!is_file_name(m.file_name))
            return Status::error("--model " + m.name + ": file name '" + m.file_name +
                                 "' is not a plain file name");
        for (size_t j = 0; j < i; ++j) {
            if (s.models[j].name == m.name)
                return Status::error("--model: name '" + m.name + "' is given twice");
        }
    }
    return ok_status();
}

Status validate_resources(const DeploySpec& s) {
    const Resources& r = s.resources;
    if (r.memory_request_bytes < 64 * kMiB)
        return Status::error("--memory: " + k8s_quantity(r.memory_request_bytes) +
                             " is below the 64Mi a replica needs at least");
    if (r.memory_limit_bytes < r.memory_request_bytes)
        return Status::error("memory limit " + k8s_quantity(r.memory_limit_bytes) +
                             " is below the request " + k8s_quantity(r.memory_request_bytes));
    if (r.cpu_millis < 100 || r.cpu_millis > 1024 * 1000)
        return Status::error("--cpus: expected 0.1 to 1024 cores, got " + k8s_cpu(r.cpu_millis));
    if (!r.gpu_name.empty() && !is_model_name(r.gpu_name))
        return Status::error("--gpu: '" + r.gpu_name +
                             "' may hold only letters, digits, '-', '_' and '.'");
    if (r.gpus < 0 || r.gpus > 16)
        return Status::error("--gpus: expected 0 to 16, got " + std::to_string(r.gpus));
    return ok_status();
}

Status validate_scaling(const DeploySpec& s) {
    if (s.replicas < 1 || s.replicas > 1000)
        return Status::error("--replicas: expected 1 to 1000, got " + std::to_string(s.replicas));
    const Autoscaling& a = s.autoscaling;
    if (a.min_replicas < 1 || a.min_replicas > s.replicas)
        return Status::error("--min-replicas: expected 1 to --replicas (" +
                             std::to_string(s.replicas) + "), got " +
                             std::to_string(a.min_replicas));
    if (a.max_replicas < s.replicas || a.max_replicas > 1000)
        return Status::error("--max-replicas: expected --replicas (" + std::to_string(s.replicas) +
                             ") to 1000, got " + std::to_string(a.max_replicas));
    if (a.target_waiting_per_pod < 1 || a.target_waiting_per_pod > 100000)
        return Status::error("--hpa-waiting: expected 1 to 100000 waiting requests per pod");
    if (a.target_cpu_percent < 1 || a.target_cpu_percent > 1000)
        return Status::error("--hpa-cpu: expected 1 to 1000 percent");
    return ok_status();
}

}  // namespace

Status validate_name(const std::string& what, const std::string& name) {
    if (is_dns_label(name)) return ok_status();
    return Status::error(what + ": '" + name +
                         "' must be 1 to 63 lower-case letters, digits or '-', starting and "
                         "ending with a letter or digit");
}

Status validate_spec(const DeploySpec& s) {
    CITADEL_TRY(validate_name("--name", s.name));
    if (s.name.size() > 40)
        return Status::error("--name: '" + s.name +
                             "' is longer than 40 characters (object names get suffixes)");
    if (!is_image_ref(s.image))
        return Status::error("--image: '" + s.image + "' is not an image reference");
    CITADEL_TRY(validate_models(s));
    if (s.port < 1 || s.port > 65535)
        return Status::error("--port: expected 1 to 65535, got " + std::to_string(s.port));
    CITADEL_TRY(validate_resources(s));
    CITADEL_TRY(validate_scaling(s));
    if (s.shutdown_timeout_s < 1 || s.shutdown_timeout_s > 3600)
        return Status::error("--shutdown-timeout: expected 1 to 3600 seconds");
    for (const std::string& c : s.egress_cidrs) {
        if (!is_cidr(c)) return Status::error("--egress: '" + c + "' is not a CIDR (10.0.0.0/8)");
    }
    if (!is_absolute_path(s.binary_path))
        return Status::error("--systemd-binary: '" + s.binary_path + "' is not an absolute path");
    if (!is_absolute_path(s.state_dir))
        return Status::error("--systemd-state-dir: '" + s.state_dir + "' is not an absolute path");
    return ok_status();
}

Result<uint64_t> parse_bytes(const std::string& text) {
    const Status bad =
        Status::error("'" + text + "' is not a memory size (e.g. 4GiB, 1536Mi, 512M, 1000000)");
    size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit((unsigned char)text[digits]) || text[digits] == '.'))
        ++digits;
    if (digits == 0 || digits > 20) return bad;
    const double v = std::strtod(text.substr(0, digits).c_str(), nullptr);
    std::string unit;
    for (char c : text.substr(digits)) unit += char(std::tolower((unsigned char)c));
    if (unit.ends_with("ib")) unit.resize(unit.size() - 2);
    if (unit.size() == 2 && unit.back() == 'i') unit.pop_back();
    if (unit.size() == 2 && unit.back() == 'b') unit.pop_back();
    const std::string units = "kmgt";
    double scale = 1;
    if (unit.size() == 1 && units.find(unit[0]) != std::string::npos) {
        for (size_t i = 0; i <= units.find(unit[0]); ++i) scale *= 1024;
    } else if (!unit.empty() && unit != "b") {
        return bad;
    }
    const double bytes = v * scale;
    if (!(bytes >= 1) || bytes > 1e15) return bad;
    return uint64_t(bytes);
}

Result<int> parse_cpu_millis(const std::string& text) {
    const Status bad = Status::error("'" + text + "' is not a CPU amount (e.g. 2, 1.5, 500m)");
    if (text.empty() || text.size() > 12) return bad;
    const bool millis = text.back() == 'm';
    const std::string number = millis ? text.substr(0, text.size() - 1) : text;
    if (number.empty()) return bad;
    for (char c : number) {
        if (!std::isdigit((unsigned char)c) && c != '.') return bad;
    }
    const double v = std::strtod(number.c_str(), nullptr);
    const double m = millis ? v : v * 1000;
    if (!(m >= 1) || m > 1e7) return bad;
    return int(m + 0.5);
}

std::string k8s_quantity(uint64_t bytes) {
    if (bytes != 0 && bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "Gi";
    if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "Mi";
    return std::to_string(bytes);
}

std::string k8s_cpu(int millis) {
    if (millis % 1000 == 0) return std::to_string(millis / 1000);
    return std::to_string(millis) + "m";
}

std::string models_volume_size(const DeploySpec& spec) {
    if (spec.models_volume_bytes > 0) return k8s_quantity(spec.models_volume_bytes);
    uint64_t total = 0;
    for (const ModelRef& m : spec.models) total += m.size_bytes;
    total += total / 10;
    const uint64_t gib = (total + kGiB - 1) / kGiB;
    return std::to_string(gib == 0 ? 1 : gib) + "Gi";
}

std::string kv_mem_arg(const DeploySpec& spec) {
    if (spec.kv_bytes == 0) return "";
    return std::to_string((spec.kv_bytes + (uint64_t(1) << 20) - 1) >> 20) + "MiB";
}

std::vector<std::string> serve_args(const DeploySpec& spec, const ServePaths& p) {
    std::vector<std::string> args = {"serve", "--host", "0.0.0.0", "--port",
                                     std::to_string(spec.port)};
    for (const ModelRef& m : spec.models) {
        args.push_back("-m");
        args.push_back(m.name + "=" + p.models_dir + "/" + m.file_name);
    }
    if (spec.ctx > 0) args.insert(args.end(), {"--ctx", std::to_string(spec.ctx)});
    if (spec.seqs > 0) args.insert(args.end(), {"--max-seqs", std::to_string(spec.seqs)});
    if (spec.kv_bytes > 0) args.insert(args.end(), {"--kv-mem", kv_mem_arg(spec)});
    for (const std::string& a :
         {std::string("--data-dir"), p.data_dir, std::string("--jwt-secret-file"),
          p.jwt_secret_file, std::string("--shutdown-timeout"),
          std::to_string(spec.shutdown_timeout_s) + "s"})
        args.push_back(a);
    if (spec.tls) {
        for (const std::string& a :
             {std::string("--tls-cert"), p.tls_cert_file, std::string("--tls-key"), p.tls_key_file})
            args.push_back(a);
    }
    return args;
}

// The command wrapped at flags to lines of about 90 characters (linters cap line length).
std::string wrap_command(const std::string& command, const std::string& prefix) {
    std::string out, line;
    size_t start = 0;
    while (start < command.size()) {
        size_t next = command.find(" --", start + 1);
        if (next == std::string::npos) next = command.size();
        const std::string piece = command.substr(start, next - start);
        if (!line.empty() && line.size() + piece.size() > 90) {
            out.append(prefix).append("  ").append(line).append(" \\\n");
            line = "   " + piece;
        } else {
            line += piece;
        }
        start = next;
    }
    return out.append(prefix).append("  ").append(line).append("\n");
}

std::string generated_header(const DeploySpec& spec, const std::string& prefix) {
    return prefix +
           "Generated by `citadel deploy`; change the command and regenerate instead of\n" +
           prefix + "editing this file:\n" + wrap_command(spec.command, prefix);
}

}  // namespace citadel::deploy
