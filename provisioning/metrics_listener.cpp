#include "provisioning/metrics_listener.hpp"

#include "common/acceptor.hpp"
#include "common/http_request_parser.hpp"
#include "common/http_response.hpp"
#include "common/strings.hpp"

#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>

namespace zp::provisioning {

constexpr std::size_t k_max_head = 8 * 1024;
constexpr auto k_deadline = std::chrono::seconds(5);

/// One plain-HTTP connection: a request head, one answer, close. Kept alive by its
/// pending handlers; the deadline and stop() close its socket.
class metrics_connection : public std::enable_shared_from_this<metrics_connection> {
 public:
  metrics_connection(asio::ip::tcp::socket socket, std::shared_ptr<std::function<std::string()>> render)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        render_(std::move(render)),
        parser_(k_max_head, 0, /*head_only=*/true) {}

  void start() {
    timer_.expires_after(k_deadline);
    timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->close();
    });
    do_read();
  }
  void close() {
    std::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }
  bool open() const { return socket_.is_open(); }

 private:
  void do_read() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      if (ec) return self->close();
      self->parser_.feed(std::string_view(self->buf_.data(), n));
      if (self->parser_.current() == http_request_parser::state::need_more) return self->do_read();
      self->answer();
    });
  }

  void answer() {
    const http_request& req = parser_.request();
    std::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    if (parser_.current() == http_request_parser::state::failed) {
      out_ = http_error_response(400, "bad_request", "malformed request");
    } else if (path != "/metrics") {
      out_ = http_error_response(404, "not_found", "only /metrics is served here");
    } else if (req.method != "GET") {
      out_ = http_error_response(405, "method_not_allowed", "use GET");
    } else {
      const std::string body = (*render_)();
      out_ = str_cat("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: ",
                     body.size(), "\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n", body);
    }
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](std::error_code, std::size_t) {
      std::error_code ignored;
      self->socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      self->close();
    });
  }

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<std::function<std::string()>> render_;
  http_request_parser parser_;
  std::array<char, 4096> buf_{};
  std::string out_;
};

metrics_listener::metrics_listener(asio::io_context& io, std::function<std::string()> render)
    : render_(std::make_shared<std::function<std::string()>>(std::move(render))),
      // `this` outlives the handler: stop() closes the loop before the listener goes away.
      accept_(io, "metrics", accept_handlers()) {}

accept_loop::handlers metrics_listener::accept_handlers() {
  accept_loop::handlers h;
  h.accepted = [this](asio::ip::tcp::socket s) { on_accept(std::move(s)); };
  return h;
}

metrics_listener::~metrics_listener() { stop(); }

absl::StatusOr<asio::ip::tcp::endpoint> metrics_listener::listen(const asio::ip::tcp::endpoint& at) {
  if (auto st = accept_.bind(at, /*reuse_port=*/false); !st.ok()) return st;
  accept_.start();
  return accept_.local_endpoint();
}

void metrics_listener::stop() {
  accept_.close();
  for (auto& weak : connections_) {
    if (auto c = weak.lock()) c->close();
  }
  connections_.clear();
}

void metrics_listener::on_accept(asio::ip::tcp::socket socket) {
  std::erase_if(connections_, [](const auto& w) {
    auto c = w.lock();
    return !c || !c->open();
  });
  if (connections_.size() >= k_max_connections) {
    if (auto oldest = connections_.front().lock()) oldest->close();
    connections_.erase(connections_.begin());
  }
  auto conn = std::make_shared<metrics_connection>(std::move(socket), render_);
  connections_.push_back(conn);
  conn->start();
}

bool is_local_or_private(const asio::ip::address& address) {
  if (address.is_loopback()) return true;
  if (address.is_v4()) {
    const auto b = address.to_v4().to_bytes();
    return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 169 && b[1] == 254);
  }
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return is_local_or_private(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  const auto b = v6.to_bytes();
  return (b[0] & 0xfe) == 0xfc || v6.is_link_local();  // fc00::/7 (ULA), fe80::/10
}

}  // namespace zp::provisioning
