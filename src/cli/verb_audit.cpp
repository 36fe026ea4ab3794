// citadel audit verify FILE [--key FILE]: checks an audit log's hash chain (and its head
// file), and with the key that every encrypted text decrypts. Exit 0: intact; 1: tampered or
// unreadable, with the first problem and its line.
#include "cli/common.h"
#include "cli/verbs.h"
#include "gateway/audit_verify.h"

namespace citadel::cli {

VerbRunner add_audit(CLI::App& app) {
    struct Args {
        std::string file, key;
    };
    auto a = std::make_shared<Args>();
    CLI::App* audit = app.add_subcommand("audit", "Audit log tools");
    audit->require_subcommand(1);
    CLI::App* v = audit->add_subcommand("verify", "Check that no record was edited or removed");
    v->add_option("file", a->file, "Audit log (JSON lines)")->required();
    v->add_option("--key", a->key, "AES-256 key file, to check the encrypted texts too");
    return [a] {
        const gateway::AuditVerifyReport r = gateway::verify_audit_log(a->file, a->key);
        if (!r.ok) {
            std::fprintf(stderr, "citadel: %s: NOT INTACT after %llu good records: %s\n",
                         a->file.c_str(), static_cast<unsigned long long>(r.records),
                         r.problem.c_str());
            return 1;
        }
        std::printf("%s: intact, %llu records\n", a->file.c_str(),
                    static_cast<unsigned long long>(r.records));
        return 0;
    };
}

}  // namespace citadel::cli
