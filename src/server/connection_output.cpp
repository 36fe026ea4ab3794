// Connection, output side: turning response pieces into bytes, the write queue, and what
// happens when a response is done.
#include <boost/asio/write.hpp>
#include <chrono>

#include "core/log.h"
#include "server/connection.h"
#include "server/responder.h"
#include "server/server_core.h"

namespace citadel::server {
namespace asio = boost::asio;
using boost::system::error_code;
using Kind = ResponsePiece::Kind;

void Connection::handle_piece(const std::shared_ptr<Exchange>& exchange, ResponsePiece piece) {
    if (phase_ != Phase::kExchange || exchange != exchange_) return;  // stale, or closed
    switch (piece.kind) {
        case Kind::kFull:
            queue_full_response(piece);
            final_queued_ = true;
            break;
        case Kind::kStreamHead:
            queue_stream_head(piece);
            break;
        case Kind::kChunk:
            if (no_body_) return;
            enqueue(raw_stream_ ? std::move(piece.body) : wire::chunk_frame(piece.body));
            break;
        case Kind::kStreamEnd:
            if (!raw_stream_ && !no_body_) enqueue(std::string(wire::kLastChunk));
            final_queued_ = true;
            break;
        case Kind::kCut:
            client_gone("the responder was dropped mid-stream");
            return;
    }
    flush();
}

// Decides whether the connection stays open after this response, and what to tell the client.
wire::Persistence Connection::decide_persistence(const wire::HeaderList& headers) {
    if (wire::asks_to_close(headers) || core_->shutting_down.load() || peer_eof_) {
        keep_alive_ = false;
    }
    if (!keep_alive_) return wire::Persistence::kClose;
    return http_version_ < 11 ? wire::Persistence::kKeepAlive : wire::Persistence::kDefault;
}

void Connection::queue_full_response(ResponsePiece& piece) {
    const int status = wire::checked_status(piece.status);
    const bool body_allowed = !wire::status_has_no_body(status);
    const wire::Persistence persistence = decide_persistence(piece.headers);
    enqueue(wire::response_head(
        {.status = status,
         .content_type = piece.content_type,
         .extra = &piece.headers,
         .framing = body_allowed ? wire::Framing::kLength : wire::Framing::kNoBody,
         .content_length = piece.body.size(),
         .persistence = persistence}));
    if (body_allowed && !no_body_ && !piece.body.empty()) enqueue(std::move(piece.body));
}

void Connection::queue_stream_head(ResponsePiece& piece) {
    const int status = wire::checked_status(piece.status);
    if (wire::status_has_no_body(status)) no_body_ = true;
    // HTTP/1.0 has no chunked encoding: the stream goes out raw and the close ends it.
    raw_stream_ = http_version_ < 11;
    if (raw_stream_) keep_alive_ = false;
    const wire::Persistence persistence = decide_persistence(piece.headers);
    wire::Framing framing = raw_stream_ ? wire::Framing::kUntilClose : wire::Framing::kChunked;
    if (wire::status_has_no_body(status)) framing = wire::Framing::kNoBody;
    enqueue(wire::response_head({.status = status,
                                 .content_type = piece.content_type,
                                 .extra = &piece.headers,
                                 .framing = framing,
                                 .persistence = persistence}));
}

// Answers with an error the server makes itself, then closes. No exchange is open.
void Connection::reject(int status, const char* type, const std::string& message) {
    if (phase_ == Phase::kClosed) return;
    CITADEL_LOG_DEBUG("http: %s: %d %s", remote_.c_str(), status, message.c_str());
    send_final(wire::error_response(status, type, message));
}

// Writes a complete response (with `Connection: close`), then closes lingering.
void Connection::send_final(std::string response) {
    if (phase_ == Phase::kClosed) return;
    disarm_read_timer();
    phase_ = Phase::kFinal;
    keep_alive_ = false;
    enqueue(std::move(response));
    final_queued_ = true;
    flush();
    start_read();  // discard what the client still sends, and notice a reset
}

void Connection::enqueue(std::string bytes) {
    queue_.push_back(std::move(bytes));
}

void Connection::flush() {
    if (writing_ || phase_ == Phase::kClosed) return;
    if (queue_.empty()) {
        if (final_queued_) on_output_drained();
        return;
    }
    writing_ = true;
    in_write_.clear();
    while (!queue_.empty()) {
        in_write_.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(in_write_.size());
    for (const auto& bytes : in_write_) buffers.push_back(asio::buffer(bytes));

    const uint64_t gen = ++write_timer_gen_;
    write_timer_.expires_after(std::chrono::milliseconds(core_->limits.write_timeout_ms));
    write_timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
        if (ec || gen != self->write_timer_gen_ || !self->writing_) return;
        self->client_gone("a write did not complete within write_timeout_ms");
    });
    transport_.async_write(buffers, [self = shared_from_this()](const error_code& ec, size_t) {
        self->on_written(ec);
    });
}

void Connection::on_written(const error_code& ec) {
    writing_ = false;
    ++write_timer_gen_;
    write_timer_.cancel();
    in_write_.clear();
    if (phase_ == Phase::kClosed) return;
    if (ec) {
        client_gone("write failed");
        return;
    }
    flush();
}

// Everything of the current response is written.
void Connection::on_output_drained() {
    final_queued_ = false;
    if (phase_ == Phase::kExchange) {
        finish_exchange();
    } else if (phase_ == Phase::kFinal) {
        linger_close();
    }
}

void Connection::finish_exchange() {
    end_exchange();
    if (!keep_alive_ || core_->shutting_down.load()) {
        linger_close();
        return;
    }
    phase_ = Phase::kIdle;
    new_parser();
    arm_read_timer(core_->limits.idle_timeout_ms);
    parse_buffered();  // a pipelined request may be waiting already
}

void Connection::end_exchange() {
    if (!exchange_) return;
    exchange_.reset();
    core_->request_finished();
}

}  // namespace citadel::server
