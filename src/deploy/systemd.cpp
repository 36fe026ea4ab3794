// A systemd service for one machine: runs as the system user `citadel` (citadel.sysusers),
// models and data under StateDirectory, the JWT secret and TLS files passed as credentials
// (LoadCredential: readable only by the service), and the sandboxing options a network
// server that reads files and answers HTTP needs no more than.
#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

// Credentials the unit loads: (credential name, source file under /etc/<name>/).
std::vector<std::pair<std::string, std::string>> credentials(const DeploySpec& spec) {
    std::vector<std::pair<std::string, std::string>> c = {{"jwt-secret", "jwt-secret"}};
    if (spec.tls) {
        c.push_back({"tls.crt", "tls.crt"});
        c.push_back({"tls.key", "tls.key"});
    }
    return c;
}

std::string exec_start(const DeploySpec& spec) {
    const std::string creds = "${CREDENTIALS_DIRECTORY}/";
    const std::vector<std::string> args =
        serve_args(spec, {.models_dir = spec.state_dir + "/models",
                          .data_dir = spec.state_dir + "/data",
                          .jwt_secret_file = creds + "jwt-secret",
                          .tls_cert_file = creds + "tls.crt",
                          .tls_key_file = creds + "tls.key"});
    // One flag and its value per line.
    std::string line = "ExecStart=" + spec.binary_path + " " + args[0];
    for (size_t i = 1; i < args.size(); ++i) {
        const bool value = args[i][0] != '-';
        line += (value ? " " : " \\\n    ") + args[i];
    }
    return line + "\n";
}

// CPUQuota: 100 % per core.
std::string limits(const DeploySpec& spec) {
    const Resources& r = spec.resources;
    return "MemoryHigh=" + std::to_string(r.memory_request_bytes) + "\n" +
           "MemoryMax=" + std::to_string(r.memory_limit_bytes) + "\n" +
           "CPUQuota=" + std::to_string(r.cpu_millis / 10) + "%\n" + "LimitNOFILE=65536\n";
}

std::string hardening(const DeploySpec& spec) {
    std::string h =
        "NoNewPrivileges=yes\n"
        "ProtectSystem=strict\n"
        "ProtectHome=yes\n"
        "PrivateTmp=yes\n"
        "ProtectKernelTunables=yes\n"
        "ProtectKernelModules=yes\n"
        "ProtectKernelLogs=yes\n"
        "ProtectControlGroups=yes\n"
        "ProtectClock=yes\n"
        "ProtectHostname=yes\n"
        "ProtectProc=invisible\n"
        "ProcSubset=pid\n"
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n"
        "RestrictNamespaces=yes\n"
        "RestrictRealtime=yes\n"
        "RestrictSUIDSGID=yes\n"
        "LockPersonality=yes\n"
        "MemoryDenyWriteExecute=yes\n"
        "RemoveIPC=yes\n"
        "SystemCallArchitectures=native\n"
        "SystemCallFilter=@system-service\n"
        "SystemCallErrorNumber=EPERM\n"
        "UMask=0077\n";
    // A GPU needs its device nodes; without one the service sees none at all.
    h += spec.resources.gpus > 0 ? "PrivateDevices=no\n"
                                 : "PrivateDevices=yes\nDevicePolicy=closed\n";
    if (spec.port < 1024) {
        h += "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=CAP_NET_BIND_"
             "SERVICE\n";
    } else {
        h += "CapabilityBoundingSet=\nAmbientCapabilities=\n";
    }
    return h;
}

// Under /var/lib systemd makes the folders and hands them to the user; elsewhere the folder
// must exist and is only made writable.
std::string state_directories(const DeploySpec& spec) {
    const std::string prefix = "/var/lib/";
    if (!spec.state_dir.starts_with(prefix) || spec.state_dir.size() == prefix.size())
        return "ReadWritePaths=" + spec.state_dir + "\n";
    const std::string rel = spec.state_dir.substr(prefix.size());
    return "StateDirectory=" + rel + " " + rel + "/models " + rel +
           "/data\nStateDirectoryMode=0750\n";
}

std::string unit(const DeploySpec& spec) {
    std::string u = generated_header(spec, "# ");
    u += "# Install: see README.md (systemd section).\n\n";
    u += "[Unit]\nDescription=Citadel LLM inference server (" + spec.name + ")\n";
    u += "After=network-online.target\nWants=network-online.target\n\n";
    u += "[Service]\nType=simple\nUser=citadel\nGroup=citadel\n";
    u += state_directories(spec);
    u += "WorkingDirectory=" + spec.state_dir + "/data\n";
    for (const auto& [name, file] : credentials(spec))
        u += "LoadCredential=" + name + ":/etc/" + spec.name + "/" + file + "\n";
    u += exec_start(spec);
    u += "ExecReload=/bin/kill -HUP $MAINPID\n";  // re-reads TLS certificates and JWT keys
    u += "KillSignal=SIGTERM\n";
    u += "TimeoutStopSec=" + std::to_string(spec.shutdown_timeout_s + 15) + "s\n";
    u += "Restart=on-failure\nRestartSec=5s\n";
    u += limits(spec) + "\n# Sandboxing\n" + hardening(spec);
    u += "\n[Install]\nWantedBy=multi-user.target\n";
    return u;
}

}  // namespace

std::vector<GeneratedFile> systemd_files(const DeploySpec& spec) {
    return {{"systemd/" + spec.name + ".service", unit(spec)},
            {"systemd/citadel.sysusers.conf", generated_header(spec, "# ") +
                                                  "u citadel - \"Citadel LLM server\" " +
                                                  spec.state_dir + "\n"}};
}

}  // namespace citadel::deploy
