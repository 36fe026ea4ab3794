// The catalogue. Sources (checked 2025-Q4): NVIDIA data sheets for memory, bandwidth and
// dense (non-sparse) tensor-core peaks; prices are street / list prices of one card, rentals
// typical on-demand prices of one GPU at GPU clouds (RunPod, Lambda, the big three's lowest).
// CPU rows: AMD EPYC 9004 (Zen 4, AVX-512) — FP16 means the FP32 FMA peak (F16 weights are
// widened to F32), INT8 the AVX-512 VNNI peak; bandwidth is what the memory channels give.
#include "plan/devices.h"

#include <cctype>

namespace citadel::plan {
namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::vector<Device> make_devices() {
    return {
        // key, name, cpu, GB, GB/s, FP16 TF, INT8 TOPS, buy $, rent $/h, W, max TP
        {"rtx4090", "NVIDIA GeForce RTX 4090 24GB", false, 24, 1008, 165.2, 660.6, 1800, 0.40, 450,
         8},
        {"l4", "NVIDIA L4 24GB", false, 24, 300, 121, 242.5, 2500, 0.70, 72, 8},
        {"a10", "NVIDIA A10 24GB", false, 24, 600, 125, 250, 3500, 0.75, 150, 8},
        {"l40s", "NVIDIA L40S 48GB", false, 48, 864, 362, 733, 8000, 0.90, 350, 8},
        {"a100-40gb", "NVIDIA A100 SXM 40GB", false, 40, 1555, 312, 624, 8000, 1.29, 400, 8},
        {"a100-80gb", "NVIDIA A100 SXM 80GB", false, 80, 2039, 312, 624, 15000, 1.79, 400, 8},
        {"h100", "NVIDIA H100 SXM 80GB", false, 80, 3350, 989, 1979, 30000, 2.99, 700, 8},
        {"h200", "NVIDIA H200 SXM 141GB", false, 141, 4800, 989, 1979, 35000, 3.79, 700, 8},
        // A 2-vCPU cloud VM on a Zen 4 EPYC host (this project's test machine class,
        // ../shared/docs/ANCHORS.md: 24 GiB, 35.2 GB/s read bandwidth with two threads);
        // compute: 2 cores × 3 GHz × 32 FP32 FLOP/cycle, VNNI INT8 at 4× that.
        {"cpu-2vcpu", "CPU VM, 2 vCPU AVX-512 (EPYC Zen 4), 24 GiB", true, 25.7, 35.2, 0.19, 0.77,
         700, 0.08, 30, 1},
        // 2 × EPYC 9354 (32 cores each), 24 channels DDR5-4800 (921 GB/s peak), 768 GB:
        // 64 cores × 3.25 GHz × 32 FP32 FLOP/cycle; VNNI INT8 at 4× that.
        {"cpu-2s-64c", "CPU server, 2 × 32-core EPYC 9354, 768 GB DDR5", true, 768, 921, 6.7, 26.6,
         25000, 4.00, 900, 1},
    };
}

}  // namespace

const std::vector<Device>& devices() {
    static const std::vector<Device> d = make_devices();
    return d;
}

const Device* find_device(const std::string& name) {
    const std::string want = lower(name);
    for (const Device& d : devices()) {
        if (want == d.key || want == lower(d.name)) return &d;
    }
    return nullptr;
}

std::string device_keys() {
    std::string s;
    for (const Device& d : devices()) s += (s.empty() ? "" : ", ") + std::string(d.key);
    return s;
}

}  // namespace citadel::plan
