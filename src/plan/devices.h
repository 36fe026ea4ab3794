// The hardware catalogue of the planner: accelerators and CPU servers with the numbers the
// estimates use (memory, memory bandwidth, dense FP16 and INT8 peak, price, rental, power).
#pragma once

#include <string>
#include <vector>

namespace citadel::plan {

struct Device {
    const char* key;   // what the user types: "h100"
    const char* name;  // "NVIDIA H100 SXM 80GB"
    bool is_cpu = false;
    double memory_gb = 0;         // usable by the model (GB = 1e9 bytes)
    double bandwidth_gbs = 0;     // peak memory bandwidth, GB/s
    double fp16_tflops = 0;       // dense (no sparsity) FP16 tensor / FMA peak
    double int8_tops = 0;         // dense INT8 peak
    double purchase_usd = 0;      // one device (GPU card, or the whole CPU server)
    double rental_usd_hour = 0;   // one device, on-demand cloud
    double power_watts = 0;       // board power (GPU) or server power (CPU)
    int max_tensor_parallel = 8;  // GPUs one server holds (CPU servers: 1)
};

// Prices and rentals: list and typical on-demand prices as of 2025-Q4 (the assumption date,
// printed with every plan). Bandwidth and compute: the vendors' data sheets.
inline constexpr const char* kCatalogueDate = "2025-Q4";

const std::vector<Device>& devices();
// Case-insensitive key or name; nullptr when unknown.
const Device* find_device(const std::string& name);
std::string device_keys();  // "rtx4090, l4, ..." for errors and help

}  // namespace citadel::plan
