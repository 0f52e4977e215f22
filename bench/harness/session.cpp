#include "bench/harness/session.hpp"

#include "common/pem.hpp"
#include "common/strings.hpp"
#include "common/ticket_keys.hpp"
#include "common/tls_policy.hpp"

#include <asio/steady_timer.hpp>

#include <fstream>
#include <random>
#include <sstream>

namespace zp::bench {
namespace {

absl::StatusOr<std::string> read_file(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return absl::InvalidArgumentError(str_cat(flag, ": cannot read ", path));
  return ss.str();
}

absl::StatusOr<tls_identity> load_identity(const std::string& cert_flag, const std::string& cert,
                                           const std::string& key) {
  auto cert_pem = read_file(cert_flag, cert);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = read_file(cert_flag, key);
  if (!key_pem.ok()) return key_pem.status();
  auto id = make_tls_identity(*key_pem, *cert_pem);
  if (!id.ok()) return absl::InvalidArgumentError(str_cat(cert_flag, ": ", message_of(id.status())));
  return id;
}

// Narrows a policy context (common/tls_policy: TLS 1.2, the four suites) to the one
// suite of --suite, so both legs of a forwarder and zoneproxy all negotiate the same.
// Read-ahead into a 64 KiB buffer: without it OpenSSL reads each record with two
// system calls (header, then body), and the harness must not be the bottleneck. Safe
// with readiness-driven I/O because tls_socket::try_read drains every buffered record
// before it asks to wait.
absl::Status tune(SSL_CTX* ctx, const std::string& suite) {
  constexpr std::size_t k_read_ahead = 64 * 1024;  // several 16 KiB records per read
  if (!SSL_CTX_set_cipher_list(ctx, suite.c_str())) {
    return absl::InvalidArgumentError(str_cat("--suite: OpenSSL refuses ", suite));
  }
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, k_read_ahead);
  return absl::OkStatus();
}

absl::StatusOr<ssl_ctx_ptr> client_ctx(const options& o, const tls_identity* identity,
                                       const std::vector<x509_ptr>& trusted) {
  std::vector<X509*> cas;
  cas.reserve(trusted.size());
  for (const auto& c : trusted) cas.push_back(c.get());
  auto ctx = make_client_ctx(identity, cas);
  if (!ctx.ok()) return ctx.status();
  if (auto st = tune(ctx->get(), o.suite); !st.ok()) return st;
  return ctx;
}

absl::StatusOr<asio::ip::tcp::endpoint> resolve(const std::string& flag, const host_port& hp) {
  std::error_code ec;
  auto address = asio::ip::make_address(hp.host, ec);
  if (ec) return absl::InvalidArgumentError(str_cat(flag, ": not an IP address: ", hp.host));
  return asio::ip::tcp::endpoint(address, hp.port);
}

std::string random_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string id(32, '0');
  std::uint64_t bits[2] = {rng(), rng()};
  for (int i = 0; i < 32; ++i) id[static_cast<std::size_t>(i)] = k_hex[(bits[i / 16] >> (4 * (i % 16))) & 0xf];
  return id;
}

std::string first_line(const std::string& head) { return head.substr(0, head.find('\r')); }

// The state of one open() or close() in flight: what is outstanding, the first failure,
// the phase deadline. Lives (shared) until its last handler ran; only touched on the
// session's context.
struct op_state : std::enable_shared_from_this<op_state> {
  op_state(asio::io_context& io, error_log& errors) : timer(io), errors(errors) {}
  asio::steady_timer timer;
  error_log& errors;
  std::shared_ptr<session> s;
  int outstanding = 0;
  std::string failure;
  bool finished = false;
  const char* phase = "connect";
  std::function<void()> on_failed;  // after the last handler of a failed op
  std::function<void()> cancel;     // extra cancellation (forward: stop expecting)

  void arm(const std::string& what) {
    timer.expires_after(k_phase_timeout);
    timer.async_wait([self = shared_from_this(), what](std::error_code ec) {
      if (!ec && !self->finished)
        self->fail(str_cat(what, ": timeout (", k_phase_timeout.count(), " s) in ", self->phase));
    });
  }
  void fail(std::string what) {
    if (finished) return;
    if (failure.empty()) {
      failure = std::move(what);
      if (cancel) cancel();
      if (s->a) s->a->close();
      if (s->b) s->b->close();
      timer.cancel();
    }
    settle();
  }
  // One outstanding operation ended, ok or not (`why` names the failure); true if the
  // op may go on. Every started operation ends here exactly once.
  template <typename Why>
  bool ended(bool ok, Why&& why) {
    --outstanding;
    if (!ok) {
      fail(why());
      return false;
    }
    if (!failure.empty()) {
      settle();
      return false;
    }
    return !finished;
  }
  bool ended() {
    return ended(true, [] { return std::string(); });
  }
  void settle() {
    if (outstanding == 0 && !finished && !failure.empty()) {
      finished = true;
      errors.add(failure);
      if (on_failed) on_failed();
    }
  }
};

// The start of every open: a new session with its first half, an op that reports a
// failure as a null session, and the clock started.
struct opening {
  std::shared_ptr<op_state> op;
  std::shared_ptr<open_timing> timing;
};

opening begin_open(asio::io_context& io, error_log& errors, std::atomic<std::uint64_t>& next_number,
                   const target::opened_handler& done) {
  opening o{std::make_shared<op_state>(io, errors), std::make_shared<open_timing>()};
  auto s = std::make_shared<session>();
  s->number = next_number.fetch_add(1, std::memory_order_relaxed);
  s->id = random_id();
  s->io = &io;
  s->a = std::make_unique<tls_conn>(io);
  o.op->s = std::move(s);
  o.timing->start = steady_clock::now();
  o.op->on_failed = [done, timing = o.timing] { done(nullptr, *timing); };
  return o;
}

// The end of every open once its last path has come in: the session is paired.
void finish_open(op_state& op, open_timing& timing, const target::opened_handler& done) {
  if (op.outstanding > 0) return;
  timing.paired = steady_clock::now();
  op.finished = true;
  op.timer.cancel();
  done(op.s, timing);
}

// One half's wait for its 101 ended; true if it got one and the op goes on.
bool ended_with_101(op_state& op, const char* who, std::error_code ec, const std::string& head) {
  const bool ok = !ec && head == k_101_head;
  return op.ended(ok, [&] {
    return ec ? str_cat(who, ": waiting for 101: ", describe(ec))
              : str_cat(who, ": expected 101, got \"", first_line(head), "\"");
  });
}

}  // namespace

std::string hello_for(const std::string& id) {
  return str_cat("GET /v1/rendezvous/", id,
                 " HTTP/1.1\r\nHost: zoneproxy-bench\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n");
}

target::target(const options& o, io_pool&, error_log& errors) : o_(o), errors_(errors) {}

target::~target() = default;

absl::StatusOr<std::unique_ptr<target>> target::make(const options& o, io_pool& pool, error_log& errors) {
  std::unique_ptr<target> t(new target(o, pool, errors));
  std::vector<x509_ptr> trusted;
  if (!o.ca.empty()) {
    auto pem = read_file("--ca", o.ca);
    if (!pem.ok()) return pem.status();
    auto certs = parse_certificates_pem(*pem);
    if (!certs.ok()) return absl::InvalidArgumentError(str_cat("--ca: ", message_of(certs.status())));
    trusted = std::move(*certs);
  }
  if (o.target == target_kind::zoneproxy) {
    auto ep = resolve("--endpoint", o.endpoint);
    if (!ep.ok()) return ep.status();
    auto ms = resolve("--module-server", o.module_server);
    if (!ms.ok()) return ms.status();
    t->endpoint_ = *ep;
    t->module_server_ = *ms;
    auto id = load_identity("--client-cert", o.client_cert, o.client_key);
    if (!id.ok()) return id.status();
    auto a = client_ctx(o, nullptr, trusted);
    if (!a.ok()) return a.status();
    auto b = client_ctx(o, &*id, trusted);
    if (!b.ok()) return b.status();
    t->a_ctx_ = std::move(*a);
    t->b_ctx_ = std::move(*b);
    return t;
  }
  auto fw = resolve("--connect", o.connect);
  if (!fw.ok()) return fw.status();
  t->forwarder_ = *fw;
  auto a = client_ctx(o, nullptr, trusted);
  if (!a.ok()) return a.status();
  t->a_ctx_ = std::move(*a);
  auto id = load_identity("--backend-cert", o.backend_cert, o.backend_key);
  if (!id.ok()) return id.status();
  server_tls_options so;
  so.identities = {&*id};
  if (o.resume) {
    // The forwarder's own connections to the backend resume too when it offers a
    // ticket (nginx and HAProxy do by default), as they would against a real server.
    auto ring = ticket_key_ring::create(ticket_key_ring::k_max_period);
    if (!ring.ok()) return ring.status();
    so.tickets = std::move(*ring);
    so.session_context = "zoneproxy-bench backend";
  }
  auto server = make_server_ctx(so);
  if (!server.ok()) return absl::InvalidArgumentError(str_cat("--backend-cert: ", message_of(server.status())));
  if (auto st = tune(server->get(), o.suite); !st.ok()) return st;
  t->backend_ctx_ = std::move(*server);
  t->backend_ = std::make_unique<backend>(pool, t->backend_ctx_.get(), errors);
  if (auto st = t->backend_->start(o.backend_listen); !st.ok()) return st;
  return t;
}

const char* target::a_name() const { return o_.target == target_kind::zoneproxy ? "endpoint half" : "client"; }
const char* target::b_name() const { return o_.target == target_kind::zoneproxy ? "module server half" : "backend"; }

void target::stop() {
  if (backend_) backend_->stop();
}

void target::open(asio::io_context& io, const opened_handler& done) {
  if (o_.target == target_kind::zoneproxy) {
    open_zoneproxy(io, done);
  } else {
    open_forward(io, done);
  }
}

void target::open_zoneproxy(asio::io_context& io, const opened_handler& done) {
  // Not a structured binding: the lambdas below capture both.
  const opening started = begin_open(io, errors_, next_number_, done);
  const auto op = started.op;
  const auto timing = started.timing;
  const auto& s = op->s;
  s->b = std::make_unique<tls_conn>(io);
  if (o_.scenario == scenario_kind::chaos) {
    // Endpoints come from all over 127.0.0.0/8 (127.2.0.1 .. 127.2.255.254), as the
    // internet's would, so per-source limits see many hosts.
    thread_local std::mt19937 rng{std::random_device{}()};
    const auto host = static_cast<std::uint16_t>(1 + rng() % 65534);
    s->a->set_source(asio::ip::make_address_v4(
        std::array<unsigned char, 4>{127, 2, static_cast<unsigned char>(host >> 8), static_cast<unsigned char>(host)}));
  }
  op->arm("opening a session");

  auto hello = std::make_shared<std::string>(hello_for(s->id));
  auto on_101 = [op, timing, done](const char* who) {
    return [op, timing, done, who](std::error_code ec, const std::string& head) {
      if (ended_with_101(*op, who, ec, head)) finish_open(*op, *timing, done);
    };
  };
  // Both halves connect and handshake at once; then the endpoint's hello, then the
  // Module Server's (so "second hello" is well defined), then both wait for 101.
  auto send_hellos = [this, op, hello, timing, on_101] {
    op->phase = "hello";
    ++op->outstanding;
    op->s->a->write(hello->data(), hello->size(), [this, op, hello, timing, on_101](std::error_code ec) {
      if (!op->ended(!ec, [&] { return str_cat(a_name(), ": writing the hello: ", describe(ec)); })) return;
      ++op->outstanding;
      op->s->b->write(hello->data(), hello->size(), [this, op, hello, timing, on_101](std::error_code ec) {
        if (!op->ended(!ec, [&] { return str_cat(b_name(), ": writing the hello: ", describe(ec)); })) return;
        timing->second_hello = steady_clock::now();
        op->phase = "waiting for 101";
        op->outstanding += 2;
        op->s->a->read_head(on_101(a_name()));
        op->s->b->read_head(on_101(b_name()));
      });
    });
  };
  op->phase = "connect + TLS handshake";
  op->outstanding = 2;
  auto connected = [op, send_hellos](const char* who) {
    return [op, send_hellos, who](std::error_code ec) {
      if (!op->ended(!ec, [&] { return str_cat(who, ": connect + handshake: ", describe(ec)); })) return;
      if (op->outstanding == 0) send_hellos();
    };
  };
  s->a->connect(endpoint_, a_ctx_.get(), connected(a_name()), a_slot());
  s->b->connect(module_server_, b_ctx_.get(), connected(b_name()), b_slot());
}

void target::open_forward(asio::io_context& io, const opened_handler& done) {
  const opening started = begin_open(io, errors_, next_number_, done);
  const auto op = started.op;
  const auto timing = started.timing;
  const auto& s = op->s;
  // Two paths end the open: the client's (connect, hello, 101) and the backend's
  // (the forwarder's connection arrives, 101 sent).
  op->outstanding = 2;
  auto finish_if_done = [op, timing, done] { finish_open(*op, *timing, done); };
  backend* b = backend_.get();
  const std::string id = s->id;
  // A raw pointer: the op owns this function, and only calls it from its own fail().
  op->cancel = [raw = op.get(), b, id] {
    if (b->forget(id)) --raw->outstanding;  // the backend path will never run
  };
  op->arm("opening a session through the forwarder");
  b->expect(id, io, [this, op, finish_if_done](std::unique_ptr<tls_conn> conn) {
    if (!op->failure.empty() || op->finished) {
      conn->close();
      op->ended();
      return;
    }
    op->s->b = std::move(conn);
    op->s->b->write(k_101_head.data(), k_101_head.size(), [this, op, finish_if_done](std::error_code ec) {
      if (op->ended(!ec, [&] { return str_cat(b_name(), ": writing the 101: ", describe(ec)); })) finish_if_done();
    });
  });
  auto hello = std::make_shared<std::string>(hello_for(id));
  op->phase = "connect + TLS handshake";
  auto after_handshake = [this, op, hello, timing, finish_if_done](std::error_code ec) {
    if (ec) {
      op->ended(false, [&] { return str_cat(a_name(), ": connect + handshake: ", describe(ec)); });
      return;
    }
    op->phase = "hello";
    op->s->a->write(hello->data(), hello->size(), [this, op, hello, timing, finish_if_done](std::error_code ec) {
      if (ec) {
        op->ended(false, [&] { return str_cat(a_name(), ": writing the hello: ", describe(ec)); });
        return;
      }
      timing->second_hello = steady_clock::now();
      op->phase = "waiting for the backend's 101";
      op->s->a->read_head([this, op, finish_if_done](std::error_code ec, const std::string& head) {
        if (ended_with_101(*op, a_name(), ec, head)) finish_if_done();
      });
    });
  };
  s->a->connect(forwarder_, a_ctx_.get(), std::move(after_handshake), a_slot());
}

void target::close(const std::shared_ptr<session>& s, const std::function<void(bool)>& done) {
  auto op = std::make_shared<op_state>(*s->io, errors_);
  op->s = s;
  op->phase = "close_notify + FIN, reading to the end";
  op->on_failed = [done] { done(false); };
  op->arm("closing a session");
  op->outstanding = 2;
  auto end_side = [op, done](tls_conn& c, const char* who) {
    c.shutdown([op, done, &c, who](std::error_code ec) {
      if (ec) {
        op->ended(false, [&] { return str_cat(who, ": close_notify: ", describe(ec)); });
        return;
      }
      c.read_to_end([op, done, who](std::error_code ec, std::size_t extra) {
        const bool ok = !ec && extra == 0;
        if (!op->ended(ok, [&] {
              return ec ? str_cat(who, ": reading to the end: ", describe(ec))
                        : str_cat(who, ": ", extra, " unexpected bytes before the end");
            })) {
          return;
        }
        if (op->outstanding > 0) return;
        op->finished = true;
        op->timer.cancel();
        op->s->a->close();
        op->s->b->close();
        done(true);
      });
    });
  };
  end_side(*s->a, a_name());
  end_side(*s->b, b_name());
}

}  // namespace zp::bench
