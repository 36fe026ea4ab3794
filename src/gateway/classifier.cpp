#include "gateway/classifier.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <exception>
#include <thread>
#include <vector>

#include "core/log.h"
#include "gateway/classifier_call.h"

namespace citadel::gateway {
namespace {

namespace asio = boost::asio;

void run_io(asio::io_context& io) {
    for (;;) {
        try {
            io.run();
            return;
        } catch (const std::exception& e) {  // not expected: done callbacks are guarded
            CITADEL_LOG_WARN("classifier: I/O thread caught: %s", e.what());
        }
    }
}

// On the I/O thread: no new calls from here on; the pending ones complete as failed.
void shut_down(ClassifierShared& shared) {
    shared.stopping = true;
    std::vector<std::shared_ptr<ClassifierCall>> pending;
    for (auto& [id, call] : shared.active) pending.push_back(call);
    for (auto& call : pending) call->fail("the classifier is shut down");
    shared.idle.clear();
}

}  // namespace

// Members are destroyed bottom-up: the calls and sockets in `shared` before the io_context.
struct Classifier::Impl {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::unique_ptr<ClassifierShared> shared;
    std::thread thread;
};

Result<std::unique_ptr<Classifier>> Classifier::create(ClassifierOptions options) {
    if (options.timeout_ms <= 0) {
        return Status::error("classifier timeout_ms must be > 0, not " +
                             std::to_string(options.timeout_ms));
    }
    auto endpoint = parse_classifier_url(options.url);
    if (!endpoint) return endpoint.status();
    auto impl = std::make_unique<Impl>();
    impl->shared =
        std::make_unique<ClassifierShared>(impl->io, std::move(*endpoint), std::move(options));
    impl->thread = std::thread([io = &impl->io] { run_io(*io); });
    return std::unique_ptr<Classifier>(new Classifier(std::move(impl)));
}

Classifier::Classifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Classifier::~Classifier() {
    CITADEL_CHECK(std::this_thread::get_id() != impl_->thread.get_id());  // not from `done`
    asio::post(impl_->io, [shared = impl_->shared.get()] { shut_down(*shared); });
    impl_->work.reset();
    impl_->thread.join();
}

void Classifier::check(std::string stage, std::string text, std::string model,
                       std::string request_id, std::function<void(ClassifierVerdict)> done) {
    ClassifierQuestion question;
    question.stage = std::move(stage);
    question.text = std::move(text);
    question.model = std::move(model);
    question.request_id = std::move(request_id);
    asio::post(impl_->io, [shared = impl_->shared.get(), question = std::move(question),
                           done = std::move(done)]() mutable {
        std::make_shared<ClassifierCall>(*shared, question, std::move(done))->start();
    });
}

const ClassifierOptions& Classifier::options() const {
    return impl_->shared->options;
}

}  // namespace citadel::gateway
