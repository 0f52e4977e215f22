#include "bench/harness/ping_pong.hpp"

#include "bench/harness/payload.hpp"
#include "common/strings.hpp"

namespace zp::bench {

ping_pong::ping_pong(std::shared_ptr<session> s, std::size_t size, const target& t)
    : s_(std::move(s)), size_(size), t_(t), timer_(*s_->io), buf_(size) {}

void ping_pong::once(done_handler done) {
  done_ = std::move(done);
  failure_.clear();
  start_ = steady_clock::now();
  timer_.expires_after(k_phase_timeout);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->outstanding_ == 0) return;
    if (self->failure_.empty()) self->failure_ = str_cat("round trip: timeout (", k_phase_timeout.count(), " s)");
    self->s_->a->close();
    self->s_->b->close();
  });
  half(0);
}

// Step 0: a writes, b reads; step 1: b writes, a reads. Both operations of a step run
// at once; the step ends when both completed.
void ping_pong::half(int step) {
  tls_conn& writer = step == 0 ? *s_->a : *s_->b;
  tls_conn& reader = step == 0 ? *s_->b : *s_->a;
  const std::uint64_t seed = payload::seed_for(s_->number, step);
  const std::uint64_t offset = step == 0 ? off_ab_ : off_ba_;
  const char* what = step == 0 ? "a->b" : "b->a";
  outstanding_ = 2;
  auto after = [self = shared_from_this(), step, seed, offset, what](std::string failure) {
    if (!failure.empty() && self->failure_.empty()) {
      self->failure_ = std::move(failure);
      self->s_->a->close();  // the other operation of the step must not wait forever
      self->s_->b->close();
    }
    if (--self->outstanding_ > 0) return;
    if (!self->failure_.empty()) return self->finish(self->failure_);
    if (!payload::verify(seed, offset, self->buf_.data(), self->size_)) {
      return self->finish(str_cat("payload mismatch ", what, " at stream offset ", offset));
    }
    (step == 0 ? self->off_ab_ : self->off_ba_) += self->size_;
    if (step == 0) return self->half(1);
    self->finish({});
  };
  const char* reader_name = step == 0 ? t_.b_name() : t_.a_name();
  const char* writer_name = step == 0 ? t_.a_name() : t_.b_name();
  reader.read_exact(buf_.data(), size_, [after, reader_name](std::error_code ec) {
    after(ec ? str_cat(reader_name, ": round trip read: ", describe(ec)) : std::string());
  });
  writer.write(payload::at(seed, offset), size_, [after, writer_name](std::error_code ec) {
    after(ec ? str_cat(writer_name, ": round trip write: ", describe(ec)) : std::string());
  });
}

void ping_pong::finish(const std::string& failure) {
  timer_.cancel();
  auto done = std::move(done_);
  done_ = nullptr;
  done(failure, steady_clock::now() - start_);
}

}  // namespace zp::bench
