#include "server/responder.h"

#include <exception>
#include <utility>

#include "core/log.h"
#include "server/http_wire.h"

namespace citadel::server {
namespace {

using Kind = ResponsePiece::Kind;

class ResponderImpl final : public Responder {
  public:
    ResponderImpl(std::shared_ptr<Connection> connection, std::shared_ptr<Exchange> exchange)
        : connection_(std::move(connection)), exchange_(std::move(exchange)) {}

    ~ResponderImpl() override {
        if (exchange_->gone.load()) return;  // the client left: nobody to answer
        if (!exchange_->claimed.exchange(true)) {
            CITADEL_LOG_WARN("http: a responder was dropped without an answer; sending 500");
            ResponsePiece piece{
                .kind = Kind::kFull,
                .status = 500,
                .content_type = "application/json",
                .body = wire::error_json(
                    "internal error: the request was dropped without an answer", "server_error")};
            connection_->post_piece(exchange_, std::move(piece));
        } else if (exchange_->streaming.load() && !exchange_->ended.exchange(true)) {
            CITADEL_LOG_WARN("http: a responder was dropped mid-stream; cutting the connection");
            connection_->post_piece(exchange_, ResponsePiece{.kind = Kind::kCut});
        }
    }

    void send(int status, std::string content_type, std::string body,
              std::vector<std::pair<std::string, std::string>> headers) override {
        if (exchange_->claimed.exchange(true)) return;
        exchange_->ended = true;
        connection_->post_piece(exchange_, ResponsePiece{.kind = Kind::kFull,
                                                         .status = status,
                                                         .content_type = std::move(content_type),
                                                         .body = std::move(body),
                                                         .headers = std::move(headers)});
    }

    void start_stream(int status, std::string content_type,
                      std::vector<std::pair<std::string, std::string>> headers) override {
        if (exchange_->claimed.exchange(true)) return;
        connection_->post_piece(exchange_, ResponsePiece{.kind = Kind::kStreamHead,
                                                         .status = status,
                                                         .content_type = std::move(content_type),
                                                         .headers = std::move(headers)});
        // Set after posting the head: a thread that sees `streaming` posts its chunks after it.
        exchange_->streaming = true;
    }

    bool write(std::string chunk) override {
        if (!exchange_->streaming.load() || exchange_->ended.load() || exchange_->gone.load() ||
            connection_->closed()) {
            return false;
        }
        if (chunk.empty()) return true;  // an empty chunk would end the stream
        connection_->post_piece(exchange_,
                                ResponsePiece{.kind = Kind::kChunk, .body = std::move(chunk)});
        return true;
    }

    void end() override {
        if (!exchange_->streaming.load() || exchange_->ended.exchange(true)) return;
        connection_->post_piece(exchange_, ResponsePiece{.kind = Kind::kStreamEnd});
    }

    void on_disconnect(std::function<void()> callback) override {
        if (!callback) return;
        {
            std::lock_guard lock(exchange_->mu);
            if (exchange_->callback_taken) return;
            if (!exchange_->gone.load()) {
                exchange_->on_disconnect = std::move(callback);
                return;
            }
            exchange_->callback_taken = true;
        }
        connection_->post_callback(std::move(callback));  // gone already: run it on the strand
    }

    bool disconnected() const override { return exchange_->gone.load(); }

  private:
    const std::shared_ptr<Connection> connection_;
    const std::shared_ptr<Exchange> exchange_;
};

}  // namespace

std::shared_ptr<Responder> make_responder(std::shared_ptr<Connection> connection,
                                          std::shared_ptr<Exchange> exchange) {
    return std::make_shared<ResponderImpl>(std::move(connection), std::move(exchange));
}

void fire_disconnect(Exchange& exchange) {
    exchange.gone = true;
    std::function<void()> callback;
    {
        std::lock_guard lock(exchange.mu);
        if (exchange.callback_taken || !exchange.on_disconnect) return;
        exchange.callback_taken = true;
        callback = std::move(exchange.on_disconnect);
    }
    if (callback) run_disconnect_callback(callback);
}

}  // namespace citadel::server
